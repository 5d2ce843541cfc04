// Webhooks: list the subscriptions with their delivery status; add one (the secret is shown
// once); pause, resume, replay from the start, delete (with an in-page confirmation).

import { api } from './api.js';
import {
  $, el, fill, none, timeEl, num, announce, showError, clearError, confirmDialog, copyInput, messageRow,
} from './util.js';

let wired = false;
let gen = 0;

function wire() {
  if (wired) return;
  wired = true;
  $('#add-webhook').addEventListener('click', () => {
    $('#webhook-form').hidden = false;
    $('#webhook-form-error').hidden = true;
    $('#webhook-url').focus();
  });
  $('#webhook-cancel').addEventListener('click', closeForm);
  $('#webhook-form').addEventListener('submit', (e) => { e.preventDefault(); create(); });
  $('#webhook-done').addEventListener('click', () => {
    $('#new-webhook-secret').value = '';
    $('#webhook-created').hidden = true;
    $('#add-webhook').focus();
  });
  for (const button of document.querySelectorAll('#view-webhooks button.copy')) {
    button.addEventListener('click', () => copyInput($(`#${button.dataset.copy}`)));
  }
}

function closeForm() {
  $('#webhook-form').reset();
  $('#webhook-form').hidden = true;
}

export function enter() {
  wire();
  load();
}

export function leave() {
  gen += 1;
  $('#new-webhook-secret').value = '';
  $('#webhook-created').hidden = true;
  closeForm();
}

// Checkboxes from the lists the server sends.
function choices(box, name, values) {
  if (box.querySelector('input') || !values.length) return;
  for (const v of values) {
    const id = `webhook-${name}-${v.replace(/[^a-zA-Z]/g, '-')}`;
    box.append(el('div', { class: 'check' }, el('input', { type: 'checkbox', id, name, value: v }), el('label', { for: id }, v)));
  }
}

async function load() {
  const my = ++gen;
  const tbody = $('#webhooks-table tbody');
  if (!tbody.children.length || tbody.querySelector('.message-row')) messageRow(tbody, 'Loading webhooks…', 'loading');
  try {
    const data = await api('webhooks');
    if (my !== gen) return;
    choices($('#webhook-events'), 'event', data.events || []);
    choices($('#webhook-types'), 'type', data.resource_types || []);
    const items = Array.isArray(data.items) ? data.items : [];
    if (!items.length) messageRow(tbody, 'No webhooks yet. Select Add Webhook to push provisioning changes to an app.', 'empty');
    else fill(tbody, items.map(row));
  } catch (err) {
    if (my !== gen) return;
    messageRow(tbody, 'Could not load the webhooks.', 'error');
    showError(err, 'Could not load webhooks');
  }
}

function action(label, fn, cls = 'secondary small') {
  const b = el('button', { type: 'button', class: cls }, label);
  b.addEventListener('click', fn);
  return b;
}

function row(w) {
  const filter = [...(w.events.length ? w.events : ['all events']), ...(w.resource_types.length ? w.resource_types : [])].join(', ');
  const change = async (what, body) => {
    try {
      await api(`webhooks/${encodeURIComponent(w.id)}/${what}`, { method: 'POST', body: body || {} });
      announce(`Webhook ${what} done.`);
    } catch (err) {
      showError(err, `Could not ${what} the webhook`);
    }
    load();
  };
  const actions = [
    w.state === 'active' ? action('Pause', () => change('pause')) : action('Resume', () => change('resume')),
    action('Replay all', () => change('replay', { cursor: 'start' })),
    action('Delete', async () => {
      const yes = await confirmDialog({ title: 'Delete webhook?', message: `Stop delivering to ${w.url} and forget its position?`, yes: 'Delete webhook' });
      if (!yes) return;
      try {
        await api(`webhooks/${encodeURIComponent(w.id)}`, { method: 'DELETE' });
        announce('Webhook deleted.');
      } catch (err) {
        showError(err, 'Could not delete the webhook');
      }
      load();
    }, 'danger small'),
  ];
  return el('tr', { dataset: { webhookId: w.id }, class: `webhook-${w.state}` },
    el('th', { scope: 'row' }, el('span', { class: 'mono' }, w.url), el('div', { class: 'muted small-print' }, `${w.detail} · ${w.id} · cursor ${w.cursor}`)),
    el('td', {}, filter),
    el('td', {}, el('span', { class: `badge status-${w.state}` }, w.state.replace('_', ' ')),
      w.failing_since ? el('div', { class: 'muted small-print' }, `failing since `, timeEl(w.failing_since), ` (${num(w.attempts)} attempts)`) : null),
    el('td', { class: 'num' }, num(w.lag)),
    el('td', { class: 'num' }, num(w.delivered)),
    el('td', { class: 'nowrap' }, w.last_delivered ? timeEl(w.last_delivered, { compact: true }) : none('Never')),
    el('td', {}, w.last_error ? el('span', { class: 'small-print' }, w.last_error) : none()),
    el('td', { class: 'actions-cell' }, actions));
}

async function create() {
  const url = $('#webhook-url').value.trim();
  if (!/^https?:\/\/\S+$/.test(url)) {
    const box = $('#webhook-form-error');
    box.textContent = 'Enter an http:// or https:// URL.';
    box.hidden = false;
    $('#webhook-url').focus();
    return;
  }
  const checked = (name) => [...document.querySelectorAll(`#view-webhooks input[name=${name}]:checked`)].map((i) => i.value);
  clearError();
  const button = $('#webhook-create');
  button.disabled = true;
  try {
    const created = await api('webhooks', {
      method: 'POST',
      body: { url, events: checked('event'), resource_types: checked('type'), detail: $('#webhook-detail').value },
    });
    closeForm();
    $('#new-webhook-secret').value = created.secret || '';
    $('#webhook-created').hidden = false;
    $('#webhook-created-title').focus();
    announce('Webhook created. Copy its secret now: it is shown only once.');
    load();
  } catch (err) {
    if (!err.unauthorized) {
      const box = $('#webhook-form-error');
      box.textContent = err.message;
      box.hidden = false;
    }
  } finally {
    button.disabled = false;
  }
}
