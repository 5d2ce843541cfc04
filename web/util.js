// Small DOM and formatting helpers shared by every view. Nothing here uses innerHTML:
// every string reaches the page through textContent, attributes or text nodes.

/** `$('#id')` within the document. */
export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * Create an element. `attrs`: `class`, `text`, `dataset` (object), `on<event>` (function),
 * booleans (true → empty attribute, false/null/undefined → omitted), anything else as an attribute.
 * Children: nodes, or strings (added as text nodes), nested arrays, null (skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') append(node, [String(value)]);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : escapeInvisible(String(value)));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.append(child);
    else node.append(...visible(String(child)));
  }
}

// ---------------------------------------------------------------- invisible characters

/**
 * Characters that change how text around them is drawn without being seen: C0/C1 controls
 * (except tab and newline), bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069,
 * which make `admin\u202egnp.exe@contoso.com` read "adminmoc.osotnoc@exe.png"), marks, zero-width
 * characters, fillers, the BOM and tag characters. The same list as the server's log escaping.
 */
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\uFFF9-\uFFFB\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}]/gu;

const codePoint = (c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Text as nodes in which every invisible character is shown as a marked `U+202E` badge (titled
 * "invisible character"), so a provisioned value is read as it is, not as it draws.
 */
export function visible(text) {
  INVISIBLE.lastIndex = 0;
  if (!INVISIBLE.test(text)) return [text];
  INVISIBLE.lastIndex = 0;
  const out = [];
  let at = 0;
  for (const m of text.matchAll(INVISIBLE)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    const badge = document.createElement('span');
    badge.className = 'invisible-char';
    badge.title = 'invisible character';
    badge.textContent = codePoint(m[0]);
    out.push(badge);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** For attributes (titles, labels): invisible characters written as `<U+202E>`. */
export function escapeInvisible(text) {
  return text.replace(INVISIBLE, (c) => `<${codePoint(c)}>`);
}

/** Replace the text of `node` with `text`, invisible characters shown (see [`visible`]). */
export function setText(node, text) {
  node.replaceChildren(...visible(String(text ?? '')));
  return node;
}

/** Remove every child of `node`, then append `children`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A muted dash for absent values. */
export const none = (text = '—') => el('span', { class: 'muted' }, text);

// ---------------------------------------------------------------- time

const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const dateTimeZoneFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  timeZoneName: 'short',
});
const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const compactFmt = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** The viewer's time zone name, e.g. "Europe/Berlin". */
export const timeZoneName = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';

/** The UTC form of an RFC 3339 time: the API's own string when it is already UTC. */
export function utc(iso) {
  if (typeof iso === 'string' && /Z$/i.test(iso)) return iso;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString();
}

/**
 * Local text of a time: `zone` adds the time zone abbreviation, `dateOnly` drops the clock,
 * `compact` drops the year of times in the current year (for tables).
 */
export function localTime(iso, { zone = false, dateOnly = false, compact = false } = {}) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  if (compact && !zone && !dateOnly && d.getFullYear() === new Date().getFullYear()) return compactFmt.format(d);
  return (dateOnly ? dateFmt : zone ? dateTimeZoneFmt : dateTimeFmt).format(d);
}

/** `<time>` in the viewer's time zone with the UTC value in `title`; `empty` when iso is null. */
export function timeEl(iso, { empty = '—', zone = false, dateOnly = false, compact = false } = {}) {
  if (!iso) return none(empty);
  const u = utc(iso);
  return el('time', { datetime: u, title: u }, localTime(iso, { zone, dateOnly, compact }));
}

/** "3 minutes ago" style text for recent times, for status lines. */
export function relative(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return '';
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [86400 * 30, 'day'], [Infinity, 'month']];
  const div = { second: 1, minute: 60, hour: 3600, day: 86400, month: 86400 * 30 };
  for (const [limit, unit] of steps) {
    if (Math.abs(seconds) < limit) return rtf.format(-Math.round(seconds / div[unit]), unit);
  }
  return '';
}

/** `2026-11-29T10:15` (a datetime-local value) → RFC 3339 UTC, or '' when empty/invalid. */
export function localInputToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** RFC 3339 → a datetime-local value in the viewer's zone. */
export function isoToLocalInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// ---------------------------------------------------------------- numbers and words

const numberFmt = new Intl.NumberFormat();
export const num = (n) => numberFmt.format(Number(n) || 0);
export const plural = (n, one, many = `${one}s`) => `${num(n)} ${n === 1 ? one : many}`;
export function percent(ratio) {
  const value = (Number(ratio) || 0) * 100;
  return `${value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1)} %`;
}

// The action names themselves come from the server (`GET /admin/api/actions`, see activity.js);
// only the words for a few of them live here.
const ACTION_WORDS = {
  user_password_set: 'Password set',
  members_added: 'Members added',
  members_removed: 'Members removed',
  sign_in: 'Sign-in',
  rate_limited: 'Rate limited',
  unauthorized: 'Refused: no valid token',
  read_failed: 'Read failed',
};

/** `user_created` → "User created". */
export function actionLabel(action) {
  if (!action) return 'Unknown action';
  if (ACTION_WORDS[action]) return ACTION_WORDS[action];
  const words = String(action).replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * A change's attribute path as people read it: an extension attribute
 * `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` is
 * "department (enterprise)"; core paths stay as they are.
 */
export function attributeLabel(path) {
  const p = String(path || '');
  if (!/^urn:/i.test(p)) return p;
  const m = /^(urn:.*:(?:User|Group)):(.+)$/i.exec(p);
  if (!m) return p;
  const schema = m[1].split(':');
  const ext = schema.findIndex((part) => part.toLowerCase() === 'extension');
  const short = ext >= 0 && schema[ext + 1] ? schema[ext + 1] : schema[schema.length - 2] || m[1];
  return `${m[2]} (${short})`;
}

/** A JSON value pretty-printed; `null` for an absent one. */
export function prettyJson(value) {
  if (value === null || value === undefined) return null;
  return JSON.stringify(value, null, 2);
}

// ---------------------------------------------------------------- status, errors, dialogs

let statusTimer = 0;
/** Say something in the polite live region (also visible briefly). */
export function announce(message) {
  const box = $('#status');
  if (!box) return;
  clearTimeout(statusTimer);
  box.textContent = '';
  // A fresh text node after clearing makes screen readers repeat identical messages.
  requestAnimationFrame(() => {
    box.textContent = message;
    statusTimer = setTimeout(() => { box.textContent = ''; }, 5000);
  });
}

/** Show an error in words in the banner. `context` prefixes the message ("Could not load …"). */
export function showError(err, context = '') {
  if (err && err.unauthorized) return; // the sign-in view is shown instead
  const message = err instanceof Error ? err.message : String(err);
  const banner = $('#error-banner');
  $('#error-text').textContent = context ? `${context}: ${message}` : message;
  banner.hidden = false;
}

export function clearError() {
  const banner = $('#error-banner');
  if (banner) banner.hidden = true;
}

/**
 * In-page confirmation with the <dialog id="confirm-dialog">. Resolves true for "yes".
 * Focus starts on the safe button and returns to where it was.
 */
export function confirmDialog({ title, message, yes = 'Confirm', no = 'Cancel' }) {
  const dialog = $('#confirm-dialog');
  const yesButton = $('#confirm-yes');
  const noButton = $('#confirm-no');
  $('#confirm-title').textContent = title;
  $('#confirm-message').textContent = message;
  yesButton.textContent = yes;
  noButton.textContent = no;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const stop = new AbortController();
    const done = (answer) => {
      stop.abort();
      if (dialog.open) dialog.close();
      if (opener && typeof opener.focus === 'function' && opener.isConnected) opener.focus();
      resolve(answer);
    };
    yesButton.addEventListener('click', () => done(true), { signal: stop.signal });
    noButton.addEventListener('click', () => done(false), { signal: stop.signal });
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); done(false); }, { signal: stop.signal });
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
    noButton.focus();
  });
}

/** Copy the value of a read-only input: Clipboard API, else select + execCommand. */
export async function copyInput(input) {
  const text = input.value;
  let ok = false;
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch { /* fall back below */ }
  }
  if (!ok) {
    input.focus();
    input.select();
    input.setSelectionRange(0, text.length);
    try { ok = document.execCommand('copy'); } catch { ok = false; }
  }
  announce(ok ? 'Copied to the clipboard.' : 'Could not copy automatically: the text is selected, press Ctrl+C (⌘C on a Mac).');
  return ok;
}

/** Table body placeholder row spanning every column (loading, empty, error). */
export function messageRow(tbody, text, cls = 'empty', extra = null) {
  const cols = tbody.closest('table')?.querySelectorAll('thead th').length || 1;
  fill(tbody, el('tr', { class: `message-row ${cls}` }, el('td', { colspan: cols }, text, extra)));
}

/** Link to a resource's page by type; deleted resources and others go to their history. */
export function resourceHref(type, id, { deleted = false } = {}) {
  const enc = encodeURIComponent(id);
  if (!deleted && type === 'User') return `#/users/${enc}`;
  if (!deleted && type === 'Group') return `#/groups/${enc}`;
  return `#/history/${enc}`;
}

/** `<dl>` from [label, value] pairs, skipping pairs whose value is undefined. */
export function defList(pairs, cls = 'props') {
  const dl = el('dl', { class: cls });
  for (const [label, value] of pairs) {
    if (value === undefined) continue;
    dl.append(el('dt', {}, label), el('dd', {}, value === null || value === '' ? none() : value));
  }
  return dl;
}
