// scimd admin console: session, sign-in/out and the hash router.
// Routes: #/activity (default), #/tokens, #/webhooks, #/users, #/users/ID, #/groups, #/groups/ID,
// #/history/ID, #/account (password, sessions).

import { api, setCsrf, onUnauthorized } from './api.js';
import * as activity from './activity.js';
import * as tokens from './tokens.js';
import * as webhooks from './webhooks.js';
import * as resources from './resources.js';
import * as account from './account.js';
import { $, announce, showError, clearError } from './util.js';

const session = { user: null };
let current = null; // { key, leave }
let retryTimer = 0;

const VIEWS = ['login', 'activity', 'tokens', 'webhooks', 'users', 'user', 'groups', 'group', 'history', 'account', 'notfound'];

function showView(name) {
  $('#boot-loading').hidden = true;
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== name;
}

function setNav(key) {
  for (const link of document.querySelectorAll('#main-nav a, #account-link')) {
    if (link.dataset.nav === key) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const [path, query = ''] = raw.split('?');
  let parts;
  try {
    parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = ['?'];
  }
  return { parts, params: new URLSearchParams(query), raw };
}

/** Resolve the address to a view: key, section, nav entry, title and enter/leave functions. */
function resolve({ parts, params }) {
  const [first, id, ...rest] = parts;
  if (rest.length) return null;
  switch (first) {
    case 'activity':
      return id ? null : { key: 'activity', view: 'activity', nav: 'activity', title: 'Activity', enter: () => activity.enter(params), leave: activity.leave };
    case 'tokens':
      return id ? null : { key: 'tokens', view: 'tokens', nav: 'tokens', title: 'Tokens', enter: tokens.enter, leave: tokens.leave };
    case 'webhooks':
      return id ? null : { key: 'webhooks', view: 'webhooks', nav: 'webhooks', title: 'Webhooks', enter: webhooks.enter, leave: webhooks.leave };
    case 'users':
      return id
        ? { key: `user:${id}`, view: 'user', nav: 'users', enter: () => resources.enterUser(id), leave: resources.leaveDetail }
        : { key: 'users', view: 'users', nav: 'users', title: 'Users', enter: resources.users.enter, leave: resources.users.leave };
    case 'groups':
      return id
        ? { key: `group:${id}`, view: 'group', nav: 'groups', enter: () => resources.enterGroup(id), leave: resources.leaveDetail }
        : { key: 'groups', view: 'groups', nav: 'groups', title: 'Groups', enter: resources.groups.enter, leave: resources.groups.leave };
    case 'account':
      return id ? null : { key: 'account', view: 'account', nav: 'account', title: 'Your account', enter: () => account.enter(session.user), leave: account.leave };
    case 'history':
      return id ? { key: `history:${id}`, view: 'history', nav: null, enter: () => resources.enterHistory(id), leave: resources.leaveHistory } : null;
    default:
      return null;
  }
}

function route() {
  if (!session.user) {
    showLogin();
    return;
  }
  const where = parseHash();
  if (!where.parts.length) {
    location.replace('#/activity'); // fires hashchange → route()
    return;
  }
  const target = resolve(where) || { key: 'notfound', view: 'notfound', nav: null, title: 'Page not found', enter: () => {}, leave: () => {} };
  const sameView = current && current.view === target.view;
  const sameKey = current && current.key === target.key;
  if (current && !sameKey) current.leave();
  clearError();
  showView(target.view);
  setNav(target.nav);
  if (target.title) document.title = `${target.title} · scimd`;
  current = target;
  target.enter();
  if (!sameView) {
    const heading = $(`#view-${target.view} h1`);
    if (heading) heading.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

// ---------------------------------------------------------------- session

function signedIn(me) {
  session.user = me.username;
  setCsrf(me.csrf);
  $('#current-user').textContent = me.username;
  $('#main-nav').hidden = false;
  $('#session-box').hidden = false;
}

function signedOut() {
  const wasSignedIn = session.user !== null;
  session.user = null;
  setCsrf(null);
  if (current) current.leave();
  current = null;
  $('#main-nav').hidden = true;
  $('#session-box').hidden = true;
  $('#current-user').textContent = '';
  clearError();
  showLogin();
  if (wasSignedIn) loginError('Your session has ended. Please sign in again.');
}

function showLogin() {
  const already = !$('#view-login').hidden;
  showView('login');
  setNav(null);
  document.title = 'Sign in · scimd';
  if (!already) {
    const user = $('#login-username');
    (user.value ? $('#login-password') : user).focus();
  }
}

function loginError(message) {
  const box = $('#login-error');
  box.textContent = message || '';
  box.hidden = !message;
}

function throttle(seconds) {
  const button = $('#login-submit');
  let left = Math.max(1, Math.ceil(Number(seconds) || 30));
  clearInterval(retryTimer);
  button.disabled = true;
  // Said once (the error is an alert region); the button counts down.
  loginError(`Too many sign-in attempts. Try again in ${left} second${left === 1 ? '' : 's'}.`);
  const tick = () => {
    if (left <= 0) {
      clearInterval(retryTimer);
      button.disabled = false;
      button.textContent = 'Sign in';
      loginError('');
      return;
    }
    button.textContent = `Try again in ${left} s`;
    left -= 1;
  };
  tick();
  retryTimer = setInterval(tick, 1000);
}

async function submitLogin(e) {
  e.preventDefault();
  const username = $('#login-username').value.trim();
  const password = $('#login-password').value;
  if (!username || !password) {
    loginError('Enter your username and password.');
    (username ? $('#login-password') : $('#login-username')).focus();
    return;
  }
  const button = $('#login-submit');
  button.disabled = true;
  button.textContent = 'Signing in…';
  loginError('');
  let throttled = false;
  try {
    const me = await api('login', { method: 'POST', body: { username, password } });
    $('#login-password').value = '';
    signedIn({ username: me.username || username, csrf: me.csrf });
    announce(`Signed in as ${session.user}.`);
    route();
  } catch (err) {
    if (err.status === 429) {
      throttled = true;
      const retry = err.body && err.body.retry_after_seconds;
      throttle(retry);
    } else if (err.status === 401) {
      loginError(err.message || 'Wrong username or password.');
      $('#login-password').value = '';
      $('#login-password').focus();
    } else {
      loginError(err.message);
    }
  } finally {
    if (!throttled) {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }
}

async function logout() {
  const button = $('#logout');
  button.disabled = true;
  try {
    await api('logout', { method: 'POST' });
  } catch (err) {
    if (!err.unauthorized) {
      showError(err, 'Could not sign out');
      button.disabled = false;
      return;
    }
  }
  button.disabled = false;
  signedOut();
  loginError('');
  announce('Signed out.');
}

async function boot() {
  onUnauthorized(() => { if (session.user !== null || $('#view-login').hidden) signedOut(); });
  $('#login-form').addEventListener('submit', submitLogin);
  $('#logout').addEventListener('click', logout);
  $('#error-dismiss').addEventListener('click', clearError);
  window.addEventListener('hashchange', route);
  try {
    const me = await api('me');
    signedIn(me);
  } catch (err) {
    if (!err.unauthorized) showError(err, 'Could not check the session');
  }
  route();
}

boot();
