// The admin API client: JSON in and out, session cookie, CSRF header on every mutating request,
// errors as ApiError with a message in words. A 401 anywhere means "not signed in".

/** `/admin/api/` derived from where this module is served (`/admin/api.js`). */
const BASE = new URL('./api/', import.meta.url);

let csrf = null;
let unauthorizedHandler = () => {};

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.unauthorized = status === 401;
  }
}

export function setCsrf(value) {
  csrf = value || null;
}

/** Called (possibly several times) whenever a request answers 401. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Absolute URL of an API path with query parameters; empty/null values are left out. */
export function apiUrl(path, query = {}) {
  const url = new URL(path, BASE);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === null || value === undefined || value === '') continue;
    url.searchParams.set(key, String(value));
  }
  return url.toString();
}

const FALLBACK = {
  400: 'The server could not accept the request (400).',
  403: 'The server refused the request (403). Reload the page and try again.',
  404: 'Not found (404).',
  409: 'The request conflicts with the current state (409).',
  429: 'Too many requests (429). Wait a moment and try again.',
  500: 'The server had an internal error (500). See the scimd log for details.',
  502: 'The server is unreachable behind its proxy (502).',
  503: 'The server is not available right now (503).',
};

async function send(method, path, { body, query } = {}) {
  // Every write is JSON, even without a payload: the server refuses others (415), which is what
  // keeps cross-site forms out.
  if (body === undefined && method !== 'GET' && method !== 'DELETE') body = {};
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && path !== 'login') headers['X-CSRF-Token'] = csrf || '';
  try {
    return await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Cannot reach the scimd server. Check that it is running and your network connection, then try again.');
  }
}

/**
 * `api('tokens')`, `api('tokens', {method: 'POST', body})`, `api('activity', {query})`.
 * Resolves to the parsed JSON body (null for 204); rejects with ApiError.
 */
export async function api(path, { method = 'GET', body, query } = {}) {
  let res = await send(method, path, { body, query });
  if (res.status === 403 && method !== 'GET' && path !== 'login') {
    // The CSRF token may have rotated (e.g. signed in again in another tab): refresh it once.
    const me = await send('GET', 'me');
    if (me.ok) {
      const data = await me.json().catch(() => null);
      if (data && data.csrf && data.csrf !== csrf) {
        csrf = data.csrf;
        res = await send(method, path, { body, query });
      }
    }
  }
  if (res.status === 401 && path !== 'login') {
    unauthorizedHandler();
    throw new ApiError(401, 'Your session has ended. Please sign in again.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const message = (data && typeof data.error === 'string' && data.error)
      || FALLBACK[res.status]
      || `The server answered ${res.status} ${res.statusText || ''}`.trim() + '.';
    throw new ApiError(res.status, message, data);
  }
  if (data === null && text) throw new ApiError(res.status, 'The server sent a response that is not JSON.');
  return data;
}
