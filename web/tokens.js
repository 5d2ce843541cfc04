// Tokens ("SCIM Integration"): list, Add Token (shown once), revoke with an in-page confirmation.

import { api } from './api.js';
import {
  $, el, fill, none, timeEl, num, announce, showError, clearError, confirmDialog, copyInput, messageRow, relative,
} from './util.js';

let wired = false;
let gen = 0;

function tokenStatus(t) {
  if (t.revoked) return 'revoked';
  if (t.active) return 'active';
  return 'expired';
}

function wire() {
  if (wired) return;
  wired = true;
  $('#add-token').addEventListener('click', openForm);
  $('#token-cancel').addEventListener('click', () => closeForm(true));
  $('#token-form').addEventListener('submit', (e) => { e.preventDefault(); createToken(); });
  $('#token-form').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); closeForm(true); }
  });
  $('#token-done').addEventListener('click', finishCreated);
  for (const button of document.querySelectorAll('#view-tokens button.copy')) {
    button.addEventListener('click', () => copyInput($(`#${button.dataset.copy}`)));
  }
  for (const input of document.querySelectorAll('#view-tokens .copy-field input[readonly]')) {
    input.addEventListener('focus', () => input.select());
  }
}

export function enter() {
  wire();
  load();
}

export function leave() {
  gen += 1;
  // Never leave a secret behind in the page.
  finishCreated(false);
  closeForm(false);
}

async function load() {
  const my = ++gen;
  const tbody = $('#tokens-table tbody');
  if (!tbody.children.length || tbody.querySelector('.message-row')) messageRow(tbody, 'Loading tokens…', 'loading');
  $('#tokens-table').setAttribute('aria-busy', 'true');
  try {
    const data = await api('tokens');
    if (my !== gen) return;
    $('#scim-url').value = data.scim_url || '';
    scopeChoices(Array.isArray(data.scopes) ? data.scopes : []);
    const items = Array.isArray(data.items) ? data.items : [];
    if (!items.length) {
      messageRow(tbody, 'No tokens yet. Select Add Token to connect your first identity provider.', 'empty');
    } else {
      fill(tbody, items.map(tokenRow));
    }
  } catch (err) {
    if (my !== gen) return;
    messageRow(tbody, 'Could not load the tokens.', 'error');
    showError(err, 'Could not load tokens');
  } finally {
    if (my === gen) $('#tokens-table').removeAttribute('aria-busy');
  }
}

// One checkbox per scope the server knows (it sends the list); scim:write is the default choice.
function scopeChoices(names) {
  const box = $('#token-scopes');
  if (box.querySelector('input') || !names.length) return;
  for (const name of names) {
    const id = `token-scope-${name.replace(/[^a-z]/g, '-')}`;
    const input = el('input', { type: 'checkbox', id, name: 'scope', value: name });
    input.checked = name === 'scim:write';
    box.append(el('div', { class: 'check' }, input, el('label', { for: id }, name)));
  }
}

function tokenRow(t) {
  const status = tokenStatus(t);
  const failures = Number(t.failures_24h) || 0;
  let action = null;
  if (status === 'active') {
    action = el('button', { type: 'button', class: 'revoke danger small', 'aria-label': `Revoke the token of ${t.name}` }, 'Revoke');
    action.addEventListener('click', () => revoke(t));
  }
  const expires = t.expires ? timeEl(t.expires, { compact: true }) : none('Never');
  return el('tr', { dataset: { tokenId: t.id }, class: `token-${status}` },
    el('th', { scope: 'row' }, el('span', { class: 'token-name' }, t.name), el('div', { class: 'muted mono small-print token-id' }, t.id)),
    el('td', { class: 'token-scopes' }, (t.scopes || []).map((s) => el('code', { class: 'scope' }, s))),
    el('td', { class: 'nowrap' }, timeEl(t.created, { compact: true })),
    el('td', { class: 'nowrap' }, t.last_used
      ? [timeEl(t.last_used, { compact: true }), el('div', { class: 'muted small-print' }, relative(t.last_used))]
      : none('Never')),
    el('td', { class: 'num' }, num(t.requests_24h)),
    el('td', { class: `num${failures ? ' has-failures' : ''}` }, num(failures)),
    el('td', { class: 'nowrap' }, expires),
    el('td', {}, el('span', { class: `badge status-${status}` }, status),
      t.revoked ? el('div', { class: 'muted small-print' }, 'since ', timeEl(t.revoked)) : null),
    el('td', { class: 'actions-cell' }, action));
}

async function revoke(t) {
  const yes = await confirmDialog({
    title: 'Revoke token?',
    message: `Revoke the token of “${t.name}”? Its next request is rejected with 401, so provisioning from `
      + 'this client stops until you give it a new token. This cannot be undone.',
    yes: 'Revoke token',
    no: 'Cancel',
  });
  if (!yes) return;
  clearError();
  try {
    await api(`tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' });
    announce(`The token of “${t.name}” was revoked.`);
  } catch (err) {
    showError(err, `Could not revoke the token of “${t.name}”`);
  }
  await load();
  $('#add-token').focus();
}

function openForm() {
  finishCreated(false);
  const form = $('#token-form');
  form.hidden = false;
  $('#token-form-error').hidden = true;
  // The end of today (UTC) is the earliest expiry that has not passed yet.
  $('#token-expires').min = new Date().toISOString().slice(0, 10);
  $('#add-token').setAttribute('aria-expanded', 'true');
  $('#token-name').focus();
}

function closeForm(restoreFocus) {
  const form = $('#token-form');
  if (form.hidden) return;
  form.hidden = true;
  form.reset();
  $('#add-token').setAttribute('aria-expanded', 'false');
  if (restoreFocus) $('#add-token').focus();
}

function formError(message) {
  const box = $('#token-form-error');
  box.textContent = message;
  box.hidden = !message;
}

async function createToken() {
  const name = $('#token-name').value.trim();
  const date = $('#token-expires').value;
  if (!name) {
    formError('Enter a client name, for example “Entra ID”.');
    $('#token-name').focus();
    return;
  }
  if (date && !/^\d{4}-\d{2}-\d{2}$/.test(date)) {
    formError('Enter the expiry date as YYYY-MM-DD, or leave it empty.');
    $('#token-expires').focus();
    return;
  }
  const expires = date ? `${date}T23:59:59Z` : null;
  if (expires && new Date(expires).getTime() <= Date.now()) {
    formError('The expiry date has already passed. Choose a later day, or leave it empty.');
    $('#token-expires').focus();
    return;
  }
  const scopes = [...document.querySelectorAll('#token-scopes input:checked')].map((i) => i.value);
  if (!scopes.length) {
    formError('Choose at least one scope.');
    $('#token-scopes input')?.focus();
    return;
  }
  formError('');
  clearError();
  const button = $('#token-create');
  button.disabled = true;
  button.textContent = 'Creating…';
  try {
    const created = await api('tokens', {
      method: 'POST',
      body: { name, expires, scopes, scim_url: `${location.origin}/scim/v2` },
    });
    closeForm(false);
    showCreated(created);
    load();
  } catch (err) {
    if (!err.unauthorized) formError(err.message);
  } finally {
    button.disabled = false;
    button.textContent = 'Create token';
  }
}

function showCreated(created) {
  $('#new-token-name').textContent = created.name || '';
  $('#new-scim-url').value = created.scim_url || $('#scim-url').value || '';
  $('#new-token').value = created.token || '';
  const panel = $('#token-created');
  panel.hidden = false;
  $('#token-created-title').focus();
  announce('Token created. Copy it now: it is shown only once.');
}

function finishCreated(restoreFocus = true) {
  const panel = $('#token-created');
  if (panel.hidden) return;
  panel.hidden = true;
  $('#new-token').value = '';
  $('#new-scim-url').value = '';
  if (restoreFocus) $('#add-token').focus();
}
