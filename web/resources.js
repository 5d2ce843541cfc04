// Users, groups and per-resource history.

import { api } from './api.js';
import { activityRow, renderDetail } from './activity.js';
import {
  $, el, fill, none, timeEl, num, plural, announce, showError, clearError, messageRow, defList, actionLabel,
  setText, localInputToIso,
} from './util.js';

const enc = encodeURIComponent;

// ---------------------------------------------------------------- lists with search and cursor paging

function makeList({ path, prefix, noun, emptyText, row }) {
  const st = { q: '', sort: '', active: '', cursors: [null], page: 0, next: null, gen: 0, wired: false };
  const restart = () => { st.cursors = [null]; st.page = 0; load(); };
  const tbody = () => $(`#${prefix}-table tbody`);

  function wire() {
    if (st.wired) return;
    st.wired = true;
    $(`#${prefix}-search`).addEventListener('submit', (e) => {
      e.preventDefault();
      st.q = $(`#${prefix}-q`).value.trim();
      st.cursors = [null];
      st.page = 0;
      load();
    });
    const sort = $(`#${prefix}-sort`);
    if (sort) sort.addEventListener('change', () => { st.sort = sort.value; restart(); });
    const active = $(`#${prefix}-active`);
    if (active) active.addEventListener('change', () => { st.active = active.value; restart(); });
    $(`#${prefix}-next`).addEventListener('click', () => {
      if (!st.next) return;
      st.cursors[st.page + 1] = st.next;
      st.page += 1;
      load(`#${prefix}-next`);
    });
    $(`#${prefix}-prev`).addEventListener('click', () => {
      if (st.page === 0) return;
      st.page -= 1;
      load(`#${prefix}-prev`);
    });
  }

  async function load(focusAfter = null) {
    const my = ++st.gen;
    messageRow(tbody(), `Loading ${noun}s…`, 'loading');
    $(`#${prefix}-table`).setAttribute('aria-busy', 'true');
    const prev = $(`#${prefix}-prev`);
    const next = $(`#${prefix}-next`);
    prev.disabled = true;
    next.disabled = true;
    try {
      const [by, order] = (st.sort || '').split(':');
      const data = await api(path, {
        query: { q: st.q, cursor: st.cursors[st.page], sort: by, order, active: st.active },
      });
      if (my !== st.gen) return;
      const items = Array.isArray(data.items) ? data.items : [];
      st.next = data.next ?? null;
      const total = $(`#${prefix}-total`);
      if (total) total.textContent = Number.isFinite(data.total) ? `${plural(data.total, noun)} in all${st.q || st.active ? ' matching' : ''}.` : '';
      if (items.length) fill(tbody(), items.map(row));
      else if (st.q) messageRow(tbody(), `No ${noun}s match “${st.q}”.`, 'empty');
      else messageRow(tbody(), emptyText, 'empty');
      if (st.q) announce(`${plural(items.length, `${noun}`)} found${st.next ? ' on this page' : ''}.`);
    } catch (err) {
      if (my !== st.gen) return;
      st.next = null;
      const total = $(`#${prefix}-total`);
      if (total) total.textContent = '';
      messageRow(tbody(), `Could not load the ${noun}s.`, 'error');
      showError(err, `Could not load ${noun}s`);
    } finally {
      if (my === st.gen) {
        $(`#${prefix}-table`).removeAttribute('aria-busy');
        prev.disabled = false;
        next.disabled = false;
        prev.hidden = st.page === 0;
        next.hidden = !st.next;
        const target = focusAfter && $(focusAfter);
        if (target) (target.hidden ? $(`#${prefix}-q`) : target).focus();
      }
    }
  }

  return {
    enter() {
      wire();
      $(`#${prefix}-q`).value = st.q;
      load();
    },
    leave() { st.gen += 1; },
  };
}

const activeBadge = (active) => el('span', { class: `badge ${active ? 'ok' : 'muted-badge'}` }, active ? 'active' : 'inactive');

export const users = makeList({
  path: 'users',
  prefix: 'users',
  noun: 'user',
  emptyText: 'No users yet. They appear here once your identity provider provisions them.',
  row: (u) => el('tr', { dataset: { userId: u.id } },
    el('td', {}, el('a', { href: `#/users/${enc(u.id)}` }, u.userName)),
    el('td', {}, u.displayName || none()),
    el('td', {}, activeBadge(u.active)),
    el('td', { class: 'mono' }, u.externalId || none())),
});

export const groups = makeList({
  path: 'groups',
  prefix: 'groups',
  noun: 'group',
  emptyText: 'No groups yet. They appear here once your identity provider provisions them.',
  row: (g) => el('tr', { dataset: { groupId: g.id } },
    el('td', {}, el('a', { href: `#/groups/${enc(g.id)}` }, g.displayName)),
    el('td', { class: 'num' }, num(g.member_count)),
    el('td', { class: 'mono' }, g.externalId || none())),
});

// ---------------------------------------------------------------- single user / group

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
let detailGen = 0;

function rawJson(resource) {
  return el('details', { class: 'raw' }, el('summary', {}, 'Raw SCIM JSON'),
    el('pre', { class: 'json' }, JSON.stringify(resource, null, 2)));
}

function multi(values) {
  if (!Array.isArray(values) || !values.length) return null;
  return el('ul', { class: 'plain' }, values.map((v) => el('li', {},
    typeof v === 'object' && v !== null ? String(v.value ?? v.display ?? JSON.stringify(v)) : String(v),
    v && v.type ? el('span', { class: 'type-tag' }, v.type) : null,
    v && v.primary ? el('span', { class: 'type-tag' }, 'primary') : null)));
}

function metaPairs(meta = {}) {
  return [
    ['Created', meta.created ? timeEl(meta.created) : null],
    ['Last modified', meta.lastModified ? timeEl(meta.lastModified) : null],
    ['Version', meta.version ? el('code', {}, meta.version) : null],
  ];
}

function notFound(container, kind, id) {
  fill(container, el('div', { class: 'card notice' },
    el('p', {}, `There is no ${kind} with the id `, el('code', {}, id), ' now. It may have been deleted; its history is kept in the log.'),
    el('p', {}, el('a', { href: `#/history/${enc(id)}` }, 'See its history'))));
}

export async function enterUser(id) {
  const my = ++detailGen;
  const box = $('#user-detail');
  $('#user-title').textContent = 'User';
  document.title = 'User · scimd';
  $('#user-history-link').href = `#/history/${enc(id)}`;
  fill(box, el('p', { class: 'loading-text' }, 'Loading user…'));
  try {
    const data = await api(`users/${enc(id)}`);
    if (my !== detailGen) return;
    const u = (data && data.resource) || {};
    const ent = u[ENTERPRISE] || {};
    const name = u.name || {};
    const fullName = name.formatted || [name.givenName, name.familyName].filter(Boolean).join(' ') || null;
    setText($('#user-title'), u.userName || id);
    document.title = `${u.userName || 'User'} · scimd`;
    const groupsList = Array.isArray(u.groups) ? u.groups : [];
    fill(box,
      el('section', { class: 'card', 'aria-labelledby': 'user-attrs-title' },
        el('h2', { id: 'user-attrs-title' }, 'Current state ', activeBadge(u.active !== false)),
        defList([
          ['Id', el('code', {}, u.id || id)],
          ['User name', u.userName || null],
          ['Display name', u.displayName || null],
          ['Name', fullName],
          ['Active', u.active === false ? 'No (deactivated)' : 'Yes'],
          ['External id', u.externalId ? el('code', {}, u.externalId) : null],
          ['Emails', multi(u.emails)],
          ['Title', u.title || undefined],
          ['Department', ent.department || undefined],
          ['Employee number', ent.employeeNumber || undefined],
          ['Manager', ent.manager && ent.manager.value
            ? el('a', { href: `#/users/${enc(ent.manager.value)}` }, ent.manager.displayName || ent.manager.value) : undefined],
          ...metaPairs(u.meta),
        ]),
        rawJson(u)),
      el('section', { class: 'card', 'aria-labelledby': 'user-groups-title' },
        el('h2', { id: 'user-groups-title' }, `Groups (${num(groupsList.length)})`),
        groupsList.length
          ? el('ul', { id: 'user-groups', class: 'link-list' }, groupsList.map((g) =>
            el('li', {}, el('a', { href: `#/groups/${enc(g.value)}` }, g.display || g.value))))
          : el('p', { id: 'user-groups', class: 'muted' }, 'Not a member of any group.')));
  } catch (err) {
    if (my !== detailGen) return;
    if (err.status === 404) notFound(box, 'user', id);
    else {
      fill(box, el('p', { class: 'muted' }, 'The user could not be loaded.'));
      showError(err, 'Could not load the user');
    }
  }
}

export async function enterGroup(id) {
  const my = ++detailGen;
  const box = $('#group-detail');
  $('#group-title').textContent = 'Group';
  document.title = 'Group · scimd';
  $('#group-history-link').href = `#/history/${enc(id)}`;
  fill(box, el('p', { class: 'loading-text' }, 'Loading group…'));
  try {
    const data = await api(`groups/${enc(id)}`);
    if (my !== detailGen) return;
    const g = (data && data.resource) || {};
    setText($('#group-title'), g.displayName || id);
    document.title = `${g.displayName || 'Group'} · scimd`;
    const list = el('ul', { id: 'group-members', class: 'link-list' });
    const more = el('button', { type: 'button', id: 'group-members-more', class: 'secondary small' }, 'More members');
    const count = el('span', {});
    let shown = 0;
    let cursor = null;
    const addMembers = (members, next) => {
      for (const m of members || []) {
        list.append(el('li', {}, el('a', { href: `#/users/${enc(m.value)}` }, m.display || m.value)));
        shown += 1;
      }
      cursor = next || null;
      more.hidden = !cursor;
      count.textContent = cursor ? `${num(shown)} shown` : `${num(shown)}`;
    };
    more.addEventListener('click', async () => {
      more.disabled = true;
      more.textContent = 'Loading…';
      try {
        // The contract names the field `members_next` but not the query parameter that takes it back;
        // both plausible names are sent with the same value.
        const page = await api(`groups/${enc(id)}`, { query: { members_cursor: cursor, cursor } });
        if (my !== detailGen) return;
        const before = shown;
        addMembers(page.members, page.members_next);
        announce(`${plural(shown - before, 'more member')} loaded.`);
        if (more.hidden) list.lastElementChild?.querySelector('a')?.focus();
      } catch (err) {
        showError(err, 'Could not load more members');
      } finally {
        more.disabled = false;
        more.textContent = 'More members';
      }
    });
    addMembers(data.members, data.members_next);
    fill(box,
      el('section', { class: 'card', 'aria-labelledby': 'group-attrs-title' },
        el('h2', { id: 'group-attrs-title' }, 'Current state'),
        defList([
          ['Id', el('code', {}, g.id || id)],
          ['Display name', g.displayName || null],
          ['External id', g.externalId ? el('code', {}, g.externalId) : null],
          ...metaPairs(g.meta),
        ]),
        rawJson(g)),
      el('section', { class: 'card', 'aria-labelledby': 'group-members-title' },
        el('h2', { id: 'group-members-title' }, 'Members (', count, ')'),
        shown ? list : el('p', { class: 'muted' }, 'This group has no members.'),
        el('div', { class: 'pager' }, more)));
  } catch (err) {
    if (my !== detailGen) return;
    if (err.status === 404) notFound(box, 'group', id);
    else {
      fill(box, el('p', { class: 'muted' }, 'The group could not be loaded.'));
      showError(err, 'Could not load the group');
    }
  }
}

export function leaveDetail() {
  detailGen += 1;
}

// ---------------------------------------------------------------- history

const hist = { id: null, gen: 0, selected: null, asOfRow: null };

function wireHistory() {
  if (hist.wired) return;
  hist.wired = true;
  $('#history-now').addEventListener('click', () => loadState(null));
  $('#history-filters').addEventListener('submit', (e) => {
    e.preventDefault();
    if (hist.id) enterHistory(hist.id, { keepFilters: true });
  });
}

/** The history's time filter and order, as the activity page has them. */
function historyQuery() {
  return {
    since: localInputToIso($('#history-since').value),
    until: localInputToIso($('#history-until').value),
    order: $('#history-order').value,
  };
}

export async function enterHistory(id, { keepFilters = false } = {}) {
  wireHistory();
  if (!keepFilters) {
    $('#history-since').value = '';
    $('#history-until').value = '';
    $('#history-order').value = 'oldest';
  }
  const my = ++hist.gen;
  hist.id = id;
  hist.selected = null;
  hist.asOfRow = null;
  const tbody = $('#history-table tbody');
  $('#history-title').textContent = 'History';
  document.title = 'History · scimd';
  $('#history-summary').textContent = '';
  $('#history-resource-link').hidden = true;
  // Nothing of the previous resource may stay on the page, titles included.
  $('#history-detail-title').textContent = 'Event';
  $('#history-state-title').textContent = 'Current state';
  fill($('#history-detail-body'), el('p', { class: 'muted' }, 'Select an event to see what it changed.'));
  fill($('#history-state-body'));
  $('#history-now').hidden = true;
  messageRow(tbody, 'Loading history…', 'loading');
  try {
    const query = historyQuery();
    const data = await api(`resources/${enc(id)}/history`, { query });
    if (my !== hist.gen) return;
    const items = Array.isArray(data.items) ? data.items : [];
    const type = data.resource_type || 'Resource';
    const name = data.name || id;
    setText($('#history-title'), `History of ${type === 'Resource' ? '' : `${type.toLowerCase()} `}${name}`);
    document.title = `History of ${name} · scimd`;
    const narrowed = query.since || query.until ? ' in this time range' : '';
    const order = query.order === 'newest' ? 'newest first' : 'oldest first';
    $('#history-summary').textContent = `${plural(items.length, 'event')}${narrowed}, ${order}. Resource id ${data.id || id}.`;
    const link = $('#history-resource-link');
    if (data.state && (type === 'User' || type === 'Group')) {
      link.href = `#/${type === 'User' ? 'users' : 'groups'}/${enc(id)}`;
      link.textContent = type === 'User' ? 'Current user' : 'Current group';
      link.hidden = false;
    }
    if (!items.length) messageRow(tbody, narrowed ? 'No events in this time range.' : 'No events recorded for this resource id.', 'empty');
    else fill(tbody, items.map((item) => historyRow(item)));
    showState(data, null);
  } catch (err) {
    if (my !== hist.gen) return;
    messageRow(tbody, err.status === 404 ? 'Nothing was ever recorded for this id.' : 'Could not load the history.',
      err.status === 404 ? 'empty' : 'error');
    if (err.status !== 404) showError(err, 'Could not load the history');
  }
}

export function leaveHistory() {
  hist.gen += 1;
}

function historyRow(item) {
  const stateButton = el('button', {
    type: 'button', class: 'state-at secondary small', 'aria-label': `State after entry ${item.seq}`,
  }, 'State after this event');
  stateButton.addEventListener('click', () => loadState(item));
  const row = activityRow(item, { onOpen: showEvent, linkResource: false, extraCell: el('td', { class: 'nowrap' }, stateButton) });
  return row;
}

function showEvent(item, row) {
  if (hist.selected) hist.selected.classList.remove('selected');
  hist.selected = row;
  row.classList.add('selected');
  $('#history-detail-title').textContent = `${actionLabel(item.action)} · entry ${item.seq}`;
  const body = $('#history-detail-body');
  renderDetail(body, item);
  const button = el('button', { type: 'button', class: 'secondary' }, 'State after this event');
  button.addEventListener('click', () => loadState(item));
  body.append(el('p', {}, button));
  const panel = $('#history-detail');
  panel.focus({ preventScroll: true });
  panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

async function loadState(item) {
  const my = hist.gen;
  const id = hist.id;
  clearError();
  fill($('#history-state-body'), el('p', { class: 'loading-text' }, 'Loading state…'));
  try {
    const data = await api(`resources/${enc(id)}/history`, { query: { at: item ? item.seq : null } });
    if (my !== hist.gen) return;
    showState(data, item);
    const panel = $('#history-state');
    panel.focus({ preventScroll: true });
    panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  } catch (err) {
    if (my !== hist.gen) return;
    fill($('#history-state-body'), el('p', { class: 'muted' }, 'The state could not be loaded.'));
    showError(err, 'Could not load the state');
  }
}

function showState(data, item) {
  if (hist.asOfRow) hist.asOfRow.classList.remove('as-of');
  hist.asOfRow = null;
  const title = $('#history-state-title');
  const body = $('#history-state-body');
  $('#history-now').hidden = !item;
  if (item) {
    title.textContent = `State after entry ${data.as_of ?? item.seq}`;
    const row = $(`#history-table tr[data-seq="${CSS.escape(String(item.seq))}"]`);
    if (row) { row.classList.add('as-of'); hist.asOfRow = row; }
  } else {
    title.textContent = 'Current state';
  }
  const caption = el('p', { class: 'muted' },
    item ? ['As of ', timeEl(item.time), ` (${actionLabel(item.action)}, entry ${data.as_of ?? item.seq}).`]
      : `As of the latest entry${data.as_of !== undefined && data.as_of !== null ? ` (${data.as_of})` : ''}.`);
  if (data.state === null || data.state === undefined) {
    fill(body, caption, el('p', {}, item
      ? 'The resource did not exist after this event.'
      : 'The resource does not exist now: it was deleted, or never created. Choose “State after this event” on an event to see an earlier state.'));
  } else {
    fill(body, caption, el('pre', { class: 'json' }, JSON.stringify(data.state, null, 2)));
  }
}
