// Activity: charts, synchronization details, the filtered event log with paging, detail panel,
// exports and the live tail. Also exports the row and detail renderers used by the history page.

import { api, apiUrl } from './api.js';
import { stackedBarChart } from './charts.js';
import {
  $, el, fill, none, timeEl, actionLabel, plural, num, percent, prettyJson, announce, showError,
  messageRow, resourceHref, defList, localInputToIso, isoToLocalInput,
  timeZoneName, utc, relative, attributeLabel,
} from './util.js';

const PAGE_SIZE = 50;
const FILTER_KEYS = ['identity', 'client', 'action', 'outcome', 'resource', 'q', 'since', 'until'];
export const EMPTY_ACTIVITY = 'No activity yet. Issue a token and point your identity provider at the SCIM Server URL.';

// ---------------------------------------------------------------- shared renderers

/** Link (or text) naming the resource an entry is about. */
export function resourceCell(item, linked = true) {
  const label = item.resource_name || item.resource_id;
  if (!item.resource_id || !linked) return label ? el('span', {}, label) : none();
  const deleted = /_deleted$/.test(item.action || '');
  const link = el('a', { href: resourceHref(item.resource_type, item.resource_id, { deleted }) }, label);
  return item.resource_type ? [link, ' ', el('span', { class: 'type-tag' }, item.resource_type)] : link;
}

/** "success", or the status and SCIM error type of a failure. */
export function outcomeBadge(item) {
  if (item.outcome === 'success') return el('span', { class: 'badge ok' }, 'success');
  const words = [item.status, item.scim_type].filter((x) => x !== null && x !== undefined && x !== '').join(' ');
  return el('span', { class: 'badge fail', title: item.detail || null }, words || 'failure');
}

/** The identity the activity is filtered by, as the server resolved it (ids, names). */
let identity = null;

/**
 * A membership event seen from one of its members: "added to All Employees" (the identity
 * filter shows it among that user's records), else null.
 */
function membershipOf(item, who) {
  if (!who || !Array.isArray(who.ids) || !Array.isArray(item.members)) return null;
  const ids = who.ids.map((i) => String(i).toLowerCase());
  if (ids.includes(String(item.resource_id || '').toLowerCase())) return null;
  if (!item.members.some((m) => ids.includes(String(m).toLowerCase()))) return null;
  const group = item.resource_name || item.resource_id;
  if (item.action === 'members_added') return `added to ${group}`;
  if (item.action === 'members_removed') return `removed from ${group}`;
  if (item.action === 'group_deleted') return `removed with the deletion of ${group}`;
  return null;
}

/** One short line about what an entry changed. */
export function changeSummary(item, who = identity) {
  const membership = membershipOf(item, who);
  if (membership) return membership;
  if (item.outcome === 'failure') {
    const times = Number(item.count) > 1 ? `×${num(item.count)}: ` : '';
    return `${times}${item.detail || ''}`;
  }
  const members = Array.isArray(item.members) ? item.members : [];
  const names = (Array.isArray(item.member_names) ? item.member_names : []).filter(Boolean);
  const named = names.length && members.length <= 3 && names.length === members.length ? `: ${names.join(', ')}` : '';
  if (item.action === 'members_added') return `${plural(members.length, 'member')} added${named}`;
  if (item.action === 'members_removed') return `${plural(members.length, 'member')} removed${named}`;
  const paths = (Array.isArray(item.changes) ? item.changes : []).map((c) => attributeLabel(c.path));
  if (!paths.length) return item.detail || '';
  if (paths.length <= 3) return paths.join(', ');
  return `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`;
}

/**
 * A table row for an entry; `onOpen(item, row)` when the row or its time button is activated.
 * `linkResource: false` on a page about that very resource (history), where a link would lead nowhere new.
 */
export function activityRow(item, { onOpen, extraCell = null, linkResource = true } = {}) {
  const open = el('button', { type: 'button', class: 'row-open' },
    el('span', { class: 'visually-hidden' }, 'Details of the entry at '), timeEl(item.time, { compact: true }));
  const summary = changeSummary(item);
  const row = el('tr', { dataset: { seq: item.seq }, class: `clickable outcome-${item.outcome || 'unknown'}` },
    el('td', { class: 'nowrap', title: item.time ? utc(item.time) : null }, open),
    el('td', {}, item.client || none()),
    el('td', {}, actionLabel(item.action)),
    el('td', { class: 'resource' }, resourceCell(item, linkResource)),
    el('td', {}, outcomeBadge(item)),
    el('td', { class: 'summary', title: summary || null }, summary || none('')),
    extraCell);
  open.addEventListener('click', () => onOpen(item, row));
  row.addEventListener('click', (e) => {
    if (e.target.closest('a, button, input, select') || String(window.getSelection() || '')) return;
    onOpen(item, row);
  });
  return row;
}

function jsonBlock(value) {
  const pretty = prettyJson(value);
  return pretty === null ? none('(absent)') : el('pre', { class: 'json' }, pretty);
}

/**
 * The refusals whose body the log keeps (SCIM writes). Aggregated refusals keep an example
 * request line instead, and the console's and the socket's own commands have no request body.
 */
const SCIM_WRITE = /^(create|replace|patch|delete)_(user|group)$/;

/**
 * The body of a refused request as the log kept it (secrets masked by the server): pretty-printed
 * when it is whole JSON, else as the text that came; `undefined` (no row) where there is none to keep.
 */
function requestBody(x, item) {
  const b = x.body;
  if (!b) {
    if (x.body_recorded) return el('span', { class: 'muted' }, '(the request had no body)');
    if (!SCIM_WRITE.test(item.action || '')) return undefined;
    return el('span', { class: 'muted' }, 'not recorded (this entry is older than the request bodies in the log)');
  }
  let text = b.text;
  if (b.json && !b.truncated) {
    try { text = JSON.stringify(JSON.parse(b.text), null, 2); } catch { /* shown as it came */ }
  }
  const notes = [
    b.truncated ? `cut: the first ${new TextEncoder().encode(b.text).length.toLocaleString()} of ${b.size.toLocaleString()} bytes` : null,
    b.json ? null : 'not valid JSON, shown as text',
    'secrets masked',
  ].filter(Boolean).join(' · ');
  return [el('pre', { class: 'json request-body' }, text), el('div', { class: 'muted small-print' }, notes)];
}

/**
 * "What happened and what to do" for a failure: the request, the response and the server's hint
 * (fetched from `activity/{seq}`), with a link to what the hint is about.
 */
function explanationBox(item) {
  const box = el('section', { class: 'explanation card', 'aria-label': 'What happened and what to do' },
    el('p', { class: 'loading-text' }, 'Looking at this failure…'));
  api(`activity/${encodeURIComponent(item.seq)}`).then((data) => {
    const x = data && data.explanation;
    if (!x) { box.remove(); return; }
    const link = x.link
      ? el('a', { href: x.link.resource_type === 'Token' ? '#/tokens' : resourceHref(x.link.resource_type, x.link.id) },
        x.link.name ? `${x.link.name} (${x.link.resource_type.toLowerCase()} ${x.link.id})` : x.link.id)
      : null;
    fill(box,
      el('h3', {}, 'What to do'),
      el('p', { class: 'hint-text prewrap' }, x.hint),
      link ? el('p', {}, 'About: ', link) : null,
      defList([
        ['Request', x.request ? el('code', {}, x.request) : el('span', { class: 'muted' }, 'not recorded')],
        ['Request body', requestBody(x, item)],
        ['Response', el('code', {}, [x.status, x.scim_type].filter(Boolean).join(' '))],
        ['Detail', x.detail ? el('span', { class: 'prewrap' }, x.detail) : null],
      ], 'props compact'));
  }).catch((err) => {
    if (!err.unauthorized) fill(box, el('p', { class: 'muted' }, `No explanation: ${err.message}`));
  });
  return box;
}

/** Every field of an entry plus its change set as a before/after table. */
export function renderDetail(container, item) {
  const deleted = /_deleted$/.test(item.action || '');
  const idValue = item.resource_id
    ? el('a', { href: resourceHref(item.resource_type, item.resource_id, { deleted }) }, item.resource_id)
    : null;
  const parts = [
    item.outcome === 'failure' ? explanationBox(item) : null,
    defList([
      ['Sequence', String(item.seq)],
      ['Time', item.time ? [timeEl(item.time, { zone: true }), el('div', { class: 'muted mono small-print' }, `${utc(item.time)} (UTC)`)] : null],
      ['Client', item.client || null],
      ['Token id', item.token_id ? el('code', {}, item.token_id) : null],
      ['Request id', item.request_id ? el('code', {}, item.request_id) : null],
      ['Client address', item.client_addr || null],
      ['Action', `${actionLabel(item.action)} (${item.action})`],
      ['Resource type', item.resource_type || null],
      ['Resource id', idValue],
      ['Resource name', item.resource_name || null],
      ['Outcome', outcomeBadge(item)],
      ['Status', item.status === null || item.status === undefined ? null : String(item.status)],
      ['SCIM error type', item.scim_type || null],
      ['Detail', item.detail ? el('span', { class: 'prewrap' }, item.detail) : null],
    ]),
  ];
  const changes = Array.isArray(item.changes) ? item.changes : [];
  if (changes.length) {
    parts.push(el('h3', {}, 'Changes'), el('div', { class: 'table-wrap' }, el('table', { class: 'data changes' },
      el('caption', { class: 'visually-hidden' }, 'Attribute changes, before and after'),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Attribute'), el('th', { scope: 'col' }, 'Before'), el('th', { scope: 'col' }, 'After'))),
      el('tbody', {}, changes.map((c) => el('tr', {},
        el('th', { scope: 'row', title: c.path }, el('code', {}, attributeLabel(c.path))), el('td', {}, jsonBlock(c.old)), el('td', {}, jsonBlock(c.new))))))));
  } else if (item.outcome === 'success' && !(item.members || []).length) {
    parts.push(el('p', { class: 'muted' }, 'No attribute-level changes recorded for this entry.'));
  }
  const members = Array.isArray(item.members) ? item.members : [];
  if (members.length) {
    const shown = members.slice(0, 200);
    parts.push(
      el('h3', {}, item.action === 'members_removed' ? `Members removed (${num(members.length)})` : `Members added (${num(members.length)})`),
      el('ul', { class: 'member-list' }, shown.map((id, i) => {
        const name = Array.isArray(item.member_names) ? item.member_names[i] : '';
        return el('li', {}, name
          ? el('a', { href: resourceHref('User', id), title: id }, name)
          : [el('a', { href: resourceHref('User', id, { deleted: true }) }, el('code', {}, id)), el('span', { class: 'muted' }, ' (no longer exists)')]);
      })),
      members.length > shown.length ? el('p', { class: 'muted' }, `and ${num(members.length - shown.length)} more`) : null);
  }
  if (item.resource_id) {
    parts.push(el('p', {}, el('a', { href: `#/history/${encodeURIComponent(item.resource_id)}` }, 'History of this resource')));
  }
  fill(container, parts);
}

// ---------------------------------------------------------------- the activity view

const state = {
  items: [],
  seen: new Set(),
  next: null,
  filters: {},
  gen: 0,
  source: null,
  openRow: null,
  statsTimer: 0,
  statsGen: 0,
};

let wired = false;
/** The filter's action choices, loading or loaded (null: not yet, or the last try failed). */
let actionChoices = null;

/**
 * Fill the action filter from the server (`GET /admin/api/actions`): the report's own list of the
 * names it produces, so the console never keeps a copy that drifts.
 */
function loadActionChoices() {
  if (actionChoices) return actionChoices;
  actionChoices = api('actions').then((data) => {
    const option = (a) => el('option', { value: a }, actionLabel(a));
    const select = $('#filter-action');
    select.append(
      el('optgroup', { label: 'Changes' }, (data.changes || []).map(option)),
      el('optgroup', { label: 'Rejected attempts' }, (data.attempts || []).map(option)));
    // The address may already name an action: select it now that its option exists.
    select.value = state.filters.action || '';
  }).catch((err) => {
    actionChoices = null; // try again on the next visit (e.g. after signing in)
    showError(err, 'Could not load the action names');
  });
  return actionChoices;
}

function filtersFromForm() {
  const form = $('#activity-filters');
  return {
    client: form.client.value.trim(),
    action: form.action.value,
    outcome: form.outcome.value,
    resource: form.resource.value.trim(),
    identity: form.identity.value.trim(),
    q: form.q.value.trim(),
    since: localInputToIso(form.since.value),
    until: localInputToIso(form.until.value),
  };
}

function filtersToForm(filters) {
  const form = $('#activity-filters');
  for (const key of ['identity', 'client', 'resource', 'q']) form[key].value = filters[key] || '';
  form.action.value = filters.action || '';
  form.outcome.value = filters.outcome || '';
  form.since.value = isoToLocalInput(filters.since);
  form.until.value = isoToLocalInput(filters.until);
}

const activeFilters = () => Object.fromEntries(Object.entries(state.filters).filter(([, v]) => v));
const hasFilters = () => Object.keys(activeFilters()).length > 0;

function hashFor(filters) {
  const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  const qs = params.toString();
  return `#/activity${qs ? `?${qs}` : ''}`;
}

function wire() {
  if (wired) return;
  wired = true;
  $('#tz-note').textContent = `Times are shown in your time zone (${timeZoneName()}); point at a time to see it in UTC.`;

  $('#activity-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    applyFilters(filtersFromForm());
  });
  for (const id of ['#filter-action', '#filter-outcome']) {
    $(id).addEventListener('change', () => applyFilters(filtersFromForm()));
  }
  $('#activity-reset').addEventListener('click', () => {
    filtersToForm({});
    applyFilters({});
  });
  $('#activity-older').addEventListener('click', () => loadPage(false));
  $('#live-tail').addEventListener('change', (e) => (e.target.checked ? startLive() : stopLive('Live tail off.')));
  $('#activity-detail-close').addEventListener('click', closeDetail);
  $('#activity-detail').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); closeDetail(); }
  });
}

/**
 * The charts and the synchronization cards fold away, and start folded so the table is above
 * the fold on a laptop (1366×900); each summary line says what its panel holds (failures stand
 * out), and each panel remembers whether the admin left it open.
 */
function wirePanels() {
  for (const id of ['charts-panel', 'sync-panel']) {
    const panel = document.getElementById(id);
    if (!panel || panel.dataset.wired) continue;
    panel.dataset.wired = '1';
    try {
      const saved = localStorage.getItem(`scimd.${id}`);
      if (saved !== null) panel.open = saved === 'open';
    } catch { /* storage may be off: keep the default */ }
    panel.addEventListener('toggle', () => {
      try { localStorage.setItem(`scimd.${id}`, panel.open ? 'open' : 'closed'); } catch { /* ignore */ }
    });
  }
}

/** Put the filters in the address (shareable, survives reload); the router calls enter(). */
function applyFilters(filters) {
  const target = hashFor(filters);
  if (location.hash === target) enter(new URLSearchParams(target.split('?')[1] || ''));
  else location.hash = target;
}

/** Called by the router for #/activity?filters. */
export function enter(params) {
  wire();
  wirePanels();
  const filters = {};
  for (const key of FILTER_KEYS) filters[key] = (params && params.get(key)) || '';
  state.filters = filters;
  filtersToForm(filters);
  loadActionChoices();
  updateExports();
  loadPage(true);
  loadStats();
  if (state.source) startLive(); // same view, new filters: follow them
}

export function leave() {
  state.gen += 1;
  state.statsGen += 1;
  clearTimeout(state.statsTimer);
  if (state.source || $('#live-tail').checked) stopLive(null);
  closeDetail(false);
}

function updateExports() {
  const query = activeFilters();
  $('#export-csv').href = apiUrl('activity.csv', query);
  $('#export-ndjson').href = apiUrl('activity.ndjson', query);
}

function emptyMessage(tbody) {
  if (hasFilters()) {
    messageRow(tbody, 'No activity matches these filters. ', 'empty',
      el('button', { type: 'button', class: 'linklike', onclick: () => $('#activity-reset').click() }, 'Clear the filters'));
  } else {
    messageRow(tbody, EMPTY_ACTIVITY, 'empty', [' ', el('a', { href: '#/tokens' }, 'Go to Tokens')]);
  }
}

function updateCount() {
  const count = $('#activity-count');
  if (!state.items.length) { count.textContent = ''; return; }
  const more = state.next ? '' : ' (the oldest matching entry is shown)';
  count.textContent = `Showing ${plural(state.items.length, 'entry', 'entries')}${more}.`;
}

async function loadPage(reset) {
  const tbody = $('#activity-table tbody');
  const older = $('#activity-older');
  if (reset) {
    state.gen += 1;
    state.items = [];
    state.seen.clear();
    state.next = null;
    closeDetail(false);
    messageRow(tbody, 'Loading activity…', 'loading');
    older.hidden = true;
  }
  const gen = state.gen;
  const hadFocus = document.activeElement === older;
  older.disabled = true;
  older.textContent = 'Loading…';
  $('#activity-table').setAttribute('aria-busy', 'true');
  try {
    const data = await api('activity', {
      query: { ...activeFilters(), limit: PAGE_SIZE, before: reset ? null : state.next },
    });
    if (gen !== state.gen) return;
    identity = data.identity || null;
    if (reset) tbody.replaceChildren();
    let firstNew = null;
    for (const item of data.items || []) {
      if (state.seen.has(item.seq)) continue;
      state.seen.add(item.seq);
      state.items.push(item);
      const row = activityRow(item, { onOpen: openDetail });
      firstNew = firstNew || row;
      tbody.append(row);
    }
    state.next = data.next ?? null;
    identity = data.identity || null;
    if (!state.items.length) emptyMessage(tbody);
    updateCount();
    if (!reset) {
      announce(firstNew ? 'Older entries loaded.' : 'No older entries.');
      if (hadFocus && !state.next && firstNew) firstNew.querySelector('.row-open').focus();
    }
  } catch (err) {
    if (gen !== state.gen) return;
    if (reset) {
      messageRow(tbody, 'Could not load the activity log.', 'error');
      $('#activity-count').textContent = '';
    }
    showError(err, 'Could not load activity');
  } finally {
    if (gen === state.gen) {
      older.disabled = false;
      older.textContent = 'Older';
      older.hidden = !state.next;
      $('#activity-table').removeAttribute('aria-busy');
    }
  }
}

// ---------------------------------------------------------------- detail panel

function openDetail(item, row) {
  if (state.openRow) state.openRow.classList.remove('selected');
  state.openRow = row;
  row.classList.add('selected');
  const panel = $('#activity-detail');
  $('#activity-detail-title').textContent = `${actionLabel(item.action)} · entry ${item.seq}`;
  renderDetail($('#activity-detail-body'), item);
  panel.hidden = false;
  panel.scrollTop = 0;
  panel.focus();
}

function closeDetail(restoreFocus = true) {
  const panel = $('#activity-detail');
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  const row = state.openRow;
  state.openRow = null;
  if (row) {
    row.classList.remove('selected');
    if (restoreFocus && row.isConnected) row.querySelector('.row-open').focus();
  }
}

// ---------------------------------------------------------------- live tail

function setLiveState(text, cls = '') {
  const box = $('#live-state');
  box.textContent = text;
  box.className = `live-state ${cls}`;
}

function startLive() {
  if (state.source) state.source.close();
  const source = new EventSource(apiUrl('activity/stream', activeFilters()), { withCredentials: true });
  state.source = source;
  $('#live-tail').checked = true;
  setLiveState('Connecting…');
  source.addEventListener('open', () => {
    if (state.source === source) setLiveState('Live: new entries appear at the top', 'on');
  });
  const onItem = (e) => {
    if (state.source !== source) return;
    let item;
    try { item = JSON.parse(e.data); } catch { return; }
    if (item && item.seq !== undefined) prependItem(item);
  };
  source.addEventListener('activity', onItem);
  source.addEventListener('message', onItem); // a server that sends no event name
  source.addEventListener('error', () => {
    if (state.source !== source) return;
    if (source.readyState === EventSource.CLOSED) {
      stopLive('Live tail stopped: the server closed the connection.');
      setLiveState('Disconnected', 'off');
      // A closed stream is often an ended session: /me answers 401 and the sign-in view appears.
      api('me').catch(() => {});
    } else {
      setLiveState('Reconnecting…', 'off');
    }
  });
}

function stopLive(message) {
  if (state.source) state.source.close();
  state.source = null;
  $('#live-tail').checked = false;
  setLiveState('');
  if (message) announce(message);
}

function prependItem(item) {
  if (state.seen.has(item.seq)) return;
  state.seen.add(item.seq);
  state.items.unshift(item);
  const tbody = $('#activity-table tbody');
  tbody.querySelector('.message-row')?.remove();
  const row = activityRow(item, { onOpen: openDetail });
  row.classList.add('fresh');
  tbody.prepend(row);
  setTimeout(() => row.classList.remove('fresh'), 4000);
  updateCount();
  clearTimeout(state.statsTimer);
  state.statsTimer = setTimeout(loadStats, 5000);
}

// ---------------------------------------------------------------- charts and synchronization details

async function loadStats() {
  const gen = ++state.statsGen;
  try {
    const [stats, runs] = await Promise.all([
      api('stats'),
      api('runs').catch(() => ({ items: [] })),
    ]);
    if (gen !== state.statsGen) return;
    state.runs = Array.isArray(runs && runs.items) ? runs.items : [];
    fill($('#chart-hourly'), stackedBarChart({ title: 'Actions per hour, last 24 hours', buckets: stats.hourly, unit: 'hour' }));
    fill($('#chart-daily'), stackedBarChart({ title: 'Actions per day, last 30 days', buckets: stats.daily, unit: 'day' }));
    renderSync(Array.isArray(stats.clients) ? stats.clients : []);
    chartsSummary(stats.hourly);
  } catch (err) {
    if (gen !== state.statsGen) return;
    for (const id of ['#chart-hourly', '#chart-daily', '#sync-cards']) {
      fill($(id), el('p', { class: 'muted' }, 'Statistics could not be loaded.'));
    }
    showError(err, 'Could not load statistics');
  }
}

/** The client's latest synchronization runs (newest first), each opening its records. */
function runList(client) {
  const runs = (state.runs || []).filter((r) => r.client === client).slice(0, 3);
  if (!runs.length) return null;
  return el('div', { class: 'runs' },
    el('h4', {}, 'Synchronization runs'),
    el('ul', { class: 'run-list' }, runs.map((r, i) => {
      const failed = Number(r.failures) || 0;
      const href = hashFor({ client, since: r.start, until: r.end });
      return el('li', { class: failed ? 'run has-failures' : 'run' },
        el('a', { href, class: 'run-open', dataset: { runStart: r.start } },
          i === 0 ? 'Latest run' : 'Run', ' ', timeEl(r.start, { compact: true })),
        ` · ${plural(r.records, 'record')}`,
        failed
          ? [' · ', el('a', { href: hashFor({ client, since: r.start, until: r.end, outcome: 'failure' }), class: 'run-failures' },
            `${plural(failed, 'failure')}`)]
          : ' · no failures',
        el('div', { class: 'muted small-print' }, runCounts(r)));
    })));
}

/** "create user 1 failed, 2 users created …" — failures first, as the server orders them. */
function runCounts(run) {
  return (run.counts || []).slice(0, 4).map((c) => {
    const bits = [];
    if (c.failure) bits.push(`${num(c.failure)} failed`);
    if (c.success) bits.push(`${num(c.success)}`);
    return `${actionLabel(c.action)}: ${bits.join(', ')}`;
  }).join(' · ');
}

/** "3 unauthorized (401) · 2 failed reads", or a dash. */
function refusedText(r) {
  if (!r) return none();
  const parts = [];
  if (r.unauthorized) parts.push(`${num(r.unauthorized)} without a valid token (401)`);
  if (r.rate_limited) parts.push(`${num(r.rate_limited)} over the rate limit (429)`);
  if (r.read_failed) parts.push(`${plural(r.read_failed, 'failed read')}`);
  return parts.length ? parts.join(' · ') : none();
}

/** The folded charts' line: the last 24 hours in numbers. */
function chartsSummary(hourly) {
  const sum = (k) => (Array.isArray(hourly) ? hourly : []).reduce((s, b) => s + (Number(b[k]) || 0), 0);
  const failed = sum('failure');
  const signIns = sum('sign_in_failure');
  fill($('#charts-summary'),
    `— last 24 h: ${num(sum('success'))} succeeded · `,
    el('span', { class: failed ? 'failed' : '' }, `${num(failed)} failed`),
    signIns ? [' · ', el('span', { class: 'failed' }, plural(signIns, 'failed sign-in'))] : null);
}

/** The folded cards' line: each client, its last request and its failures in the last 24 h. */
function syncSummary(clients) {
  const shown = clients.slice(0, 3);
  const parts = shown.map((c, i) => {
    // Rejected writes and refused requests together, as the token page counts them.
    const failed = Number(c.failed_requests_24h ?? c.failures_24h) || 0;
    return [
      i ? '; ' : '— ',
      c.client,
      c.last_request ? `: last request ${relative(c.last_request)}` : ': no request yet',
      failed ? [' · ', el('span', { class: 'failed' }, `${num(failed)} failed in 24 h`)] : ' · no failures',
      c.quarantine_risk ? [' · ', el('span', { class: 'failed' }, 'quarantine risk')] : null,
    ];
  });
  if (clients.length > shown.length) parts.push(`; ${plural(clients.length - shown.length, 'more client')}`);
  fill($('#sync-summary'), clients.length ? parts : '— no identity provider has connected yet');
}

function renderSync(clients) {
  fill($('#known-clients'), clients.map((c) => el('option', { value: c.client })));
  syncSummary(clients);
  const box = $('#sync-cards');
  if (!clients.length) {
    fill(box, el('p', { class: 'muted' },
      'No identity provider has connected yet. Issue a token on the ', el('a', { href: '#/tokens' }, 'Tokens'),
      ' page and enter it with the SCIM Server URL in your identity provider.'));
    return;
  }
  fill(box, clients.map((c) => {
    const lastRequest = c.last_request
      ? [timeEl(c.last_request, { compact: true }), el('span', { class: 'muted' }, ` (${relative(c.last_request)})`)]
      : null;
    const filterLink = (outcome, text) => el('a', { href: hashFor({ client: c.client, outcome }) }, text);
    return el('article', { class: `client-card card${c.quarantine_risk ? ' at-risk' : ''}` },
      el('h3', {}, c.client),
      defList([
        ['Last request', lastRequest || none('Never')],
        ['Last write', c.last_write ? timeEl(c.last_write, { compact: true }) : none('Never')],
        ['Writes (24 h)', num(c.writes_24h)],
        ['Failed writes (24 h)', num(c.failures_24h)],
        ['Failure ratio', percent(c.failure_ratio)],
        ['Failed requests (24 h)', num(c.failed_requests_24h)],
        ['Refused before a write', refusedText(c.refused_24h)],
      ], 'props compact'),
      c.quarantine_risk
        ? el('p', { class: 'warning' },
          el('strong', {}, 'Quarantine risk. '),
          `${percent(c.failure_ratio)} of this client's operations failed in the last 24 hours. `
          + 'Entra ID quarantines a provisioning job when more than 40% of its operations fail; '
          + 'fix the cause of the failures before the job is stopped.')
        : null,
      runList(c.client),
      el('p', { class: 'card-links' }, filterLink('', 'All activity'), ' · ', filterLink('failure', 'Failures')));
  }));
}
