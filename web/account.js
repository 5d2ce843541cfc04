// Your account: change my password (the other sessions end, this one stays) and the account's
// live sessions, with "sign out other sessions".

import { api } from './api.js';
import { $, el, fill, none, timeEl, announce, showError, clearError, messageRow } from './util.js';

let wired = false;
let gen = 0;

function wire() {
  if (wired) return;
  wired = true;
  $('#password-form').addEventListener('submit', (e) => { e.preventDefault(); changePassword(); });
  $('#sign-out-others').addEventListener('click', signOutOthers);
}

export function enter(username) {
  wire();
  $('#password-username').value = username || '';
  formMessage('#password-error', '');
  formMessage('#password-done', '');
  loadSessions();
}

export function leave() {
  gen += 1;
  for (const id of ['#password-current', '#password-new', '#password-repeat']) $(id).value = '';
}

function formMessage(sel, text) {
  const box = $(sel);
  box.textContent = text;
  box.hidden = !text;
}

async function changePassword() {
  const current = $('#password-current').value;
  const next = $('#password-new').value;
  const repeat = $('#password-repeat').value;
  formMessage('#password-error', '');
  formMessage('#password-done', '');
  if (next.length < 12) {
    formMessage('#password-error', 'The new password needs at least 12 characters.');
    $('#password-new').focus();
    return;
  }
  if (next !== repeat) {
    formMessage('#password-error', 'The two new passwords differ.');
    $('#password-repeat').focus();
    return;
  }
  const button = $('#password-submit');
  button.disabled = true;
  try {
    const res = await api('password', { method: 'POST', body: { current, new: next } });
    for (const id of ['#password-current', '#password-new', '#password-repeat']) $(id).value = '';
    const n = res && Number(res.signed_out) || 0;
    const others = n === 0 ? 'No other session was open.' : `${n} other session${n === 1 ? ' was' : 's were'} signed out.`;
    formMessage('#password-done', `Password changed. ${others}`);
    announce('Password changed.');
    loadSessions();
  } catch (err) {
    if (err.unauthorized) return;
    formMessage('#password-error', err.message);
    $('#password-current').focus();
  } finally {
    button.disabled = false;
  }
}

async function signOutOthers() {
  const button = $('#sign-out-others');
  button.disabled = true;
  try {
    const res = await api('sessions/sign-out-others', { method: 'POST' });
    const n = res && Number(res.signed_out) || 0;
    announce(n === 0 ? 'No other session was open.' : `${n} other session${n === 1 ? '' : 's'} signed out.`);
    loadSessions();
  } catch (err) {
    showError(err, 'Could not sign out the other sessions');
  } finally {
    button.disabled = false;
  }
}

async function loadSessions() {
  const my = ++gen;
  const tbody = $('#sessions-table tbody');
  messageRow(tbody, 'Loading sessions…', 'loading');
  try {
    const data = await api('sessions');
    if (my !== gen) return;
    clearError();
    const items = Array.isArray(data.items) ? data.items : [];
    if (!items.length) {
      messageRow(tbody, 'No sessions.', 'empty');
      return;
    }
    fill(tbody, items.map((s) => el('tr', { dataset: { session: s.id } },
      el('td', {}, timeEl(s.started, { compact: true })),
      el('td', {}, timeEl(s.last_seen, { compact: true })),
      el('td', { class: 'mono' }, s.client_addr || none()),
      el('td', { class: 'agent' }, s.user_agent || none()),
      el('td', {}, s.current ? el('span', { class: 'badge ok' }, 'this session') : ''))));
  } catch (err) {
    if (my !== gen) return;
    messageRow(tbody, err.message, 'error');
  }
}
