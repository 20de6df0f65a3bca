// The stompede status page: polls the admin API (same origin, same basic
// credentials as the page) and renders the overview, the destination table,
// one destination's consumers and the connections. Actions go through a
// confirmation dialog. Every value from the broker is written with
// textContent, never as HTML: destination names and logins come from clients.
'use strict';

const POLL_MS = 2000;
const PAGE = 50;
const state = { offset: 0, filter: '', selected: null, timer: null, busy: false };

const $ = id => document.getElementById(id);

function seg(name) {
  return encodeURIComponent(name);
}

async function api(method, path) {
  const r = await fetch(path, { method, headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    throw new Error(`${method} ${path}: ${r.status} (not JSON)`);
  }
  if (!r.ok) throw new Error((body && body.error) || `${method} ${path}: ${r.status}`);
  return body;
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '–' : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function button(label, action, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  b.addEventListener('click', onClick);
  return b;
}

function rate(x) {
  return typeof x === 'number' ? x.toFixed(1) : '–';
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m ${s % 60}s`;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function notice(text, isError) {
  const n = $('notice');
  n.textContent = text;
  n.className = isError ? 'error' : '';
  n.hidden = false;
}

function empty(tbody, columns, text) {
  const tr = document.createElement('tr');
  tr.className = 'empty';
  const td = cell(tr, text);
  td.colSpan = columns;
  tbody.appendChild(tr);
}

function renderOverview(o) {
  $('version').textContent = `version ${o.version}`;
  $('uptime').textContent = duration(o.uptime_seconds);
  $('connections-count').textContent = o.connections;
  $('destinations-count').textContent = o.destinations;
  $('rate-in').textContent = rate(o.rate_in);
  $('rate-out').textContent = rate(o.rate_out);
  const mem = $('memory');
  mem.textContent = o.memory_alarm ? 'ALARM' : bytes(o.buffered_bytes);
  mem.classList.toggle('alarm', o.memory_alarm);
  const disk = $('disk');
  disk.textContent = o.disk_alarm ? 'ALARM' : (o.storage_enabled ? 'ok' : 'off');
  disk.classList.toggle('alarm', o.disk_alarm);
  mem.title = `${bytes(o.buffered_bytes)} of ${bytes(o.max_buffered_bytes)} buffered`;
}

function isDeadLetterQueue(d) {
  // Only dead-letter queues have none of their own.
  return d.kind === 'queue' && d.dead_letter_queue === null;
}

function renderDestinations(list) {
  const tbody = $('destinations').tBodies[0];
  tbody.replaceChildren();
  for (const d of list.items) {
    const tr = document.createElement('tr');
    tr.dataset.destination = d.name;
    if (d.name === state.selected) tr.className = 'selected';
    const name = cell(tr, '', 'name');
    const link = document.createElement('a');
    link.textContent = d.name;
    link.title = d.name;
    link.addEventListener('click', () => select(d.name));
    name.appendChild(link);
    cell(tr, d.kind);
    cell(tr, d.depth, 'n depth');
    cell(tr, d.unacknowledged, 'n');
    cell(tr, d.consumers, 'n consumers');
    cell(tr, rate(d.rate_in), 'n');
    cell(tr, rate(d.rate_out), 'n');
    cell(tr, d.dead_lettered, 'n');
    const actions = cell(tr, '');
    actions.appendChild(button('Purge', 'purge', () => confirmThen(
      `Discard the ${d.depth} waiting messages of ${d.name}?`, false,
      () => act('DELETE', `/api/destinations/${seg(d.name)}/messages`, r => `purged ${r.purged} messages from ${r.destination}`))));
    if (isDeadLetterQueue(d)) {
      actions.appendChild(button('Replay', 'replay', () => confirmThen(
        `Move the messages of ${d.name} back to their original destinations?`, false, () => replay(d.name))));
    }
    actions.appendChild(button('Delete', 'delete', () => confirmThen(
      `Delete ${d.name}? Its messages are discarded and its ${d.consumers} consumers get ERROR and are disconnected.`, true,
      reason => act('DELETE', `/api/destinations/${seg(d.name)}?reason=${encodeURIComponent(reason)}`,
        r => `deleted ${r.destination} (${r.discarded} messages discarded)`))));
    tbody.appendChild(tr);
  }
  if (list.items.length === 0) empty(tbody, 9, state.filter ? 'no destination matches' : 'no destinations yet');
  const last = Math.min(list.offset + list.items.length, list.total);
  $('page').textContent = list.total === 0 ? '' : `${list.offset + 1}–${last} of ${list.total}`;
  $('prev').disabled = list.offset === 0;
  $('next').disabled = last >= list.total;
}

function renderDetail(d) {
  $('detail').hidden = false;
  $('detail-name').textContent = d.name;
  const dlq = d.dead_letter_queue ? `, dead letters go to ${d.dead_letter_queue}` : '';
  $('detail-summary').textContent =
    `${d.kind}: ${d.depth} waiting, ${d.unacknowledged} unacknowledged, ${d.messages_in} in and ` +
    `${d.messages_out} out since it started, ${d.dead_lettered} dead-lettered${dlq}.`;
  const tbody = $('consumers').tBodies[0];
  tbody.replaceChildren();
  for (const c of d.consumer_list) {
    const tr = document.createElement('tr');
    cell(tr, c.connection);
    cell(tr, c.subscription);
    cell(tr, c.ack);
    cell(tr, c.prefetch, 'n');
    cell(tr, c.unacknowledged, 'n');
    tbody.appendChild(tr);
  }
  if (d.consumer_list.length === 0) empty(tbody, 5, 'no consumers');
}

function renderConnections(list) {
  const tbody = $('connections').tBodies[0];
  tbody.replaceChildren();
  const now = Date.now() / 1000;
  for (const c of list.items) {
    const tr = document.createElement('tr');
    tr.dataset.connection = c.id;
    cell(tr, c.id, 'n');
    cell(tr, c.peer);
    cell(tr, c.login);
    cell(tr, c.version);
    cell(tr, c.transport);
    const subs = c.subscriptions.map(s => s.id).join(', ');
    cell(tr, c.subscription_count > c.subscriptions.length ? `${subs}, … (${c.subscription_count})` : subs || '–');
    cell(tr, bytes(c.bytes_in), 'n');
    cell(tr, bytes(c.bytes_out), 'n');
    cell(tr, `${duration(Math.max(0, Math.floor(now - c.connected_since)))} ago`);
    const actions = cell(tr, '');
    actions.appendChild(button('Close', 'close', () => confirmThen(
      `Close connection ${c.id} (${c.peer}${c.login ? ', ' + c.login : ''})? Its client gets ERROR with the reason.`, true,
      reason => act('DELETE', `/api/connections/${c.id}?reason=${encodeURIComponent(reason)}`, r => `closed connection ${r.connection}`))));
    tbody.appendChild(tr);
  }
  if (list.items.length === 0) empty(tbody, 10, 'no connections');
  $('connections-shown').textContent = list.total > list.items.length ? `${list.items.length} of ${list.total} shown` : '';
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const q = `?offset=${state.offset}&limit=${PAGE}` + (state.filter ? `&name=${encodeURIComponent(state.filter)}` : '');
    const [o, list, conns] = await Promise.all([
      api('GET', '/api/overview'),
      api('GET', `/api/destinations${q}`),
      api('GET', `/api/connections?limit=${PAGE}`),
    ]);
    renderOverview(o);
    renderDestinations(list);
    renderConnections(conns);
    if (state.selected) {
      try {
        renderDetail(await api('GET', `/api/destinations/${seg(state.selected)}`));
      } catch (e) {
        $('detail-summary').textContent = `${state.selected} is gone (${e.message}).`;
        $('consumers').tBodies[0].replaceChildren();
      }
    }
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.state = 'ready';
  } catch (e) {
    notice(`cannot reach the admin API: ${e.message}`, true);
    document.body.dataset.state = 'error';
  } finally {
    state.busy = false;
  }
}

function select(name) {
  state.selected = name;
  refresh();
}

// Shows the confirmation dialog; `run(reason)` only on Confirm.
function confirmThen(text, withReason, run) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  $('confirm-reason-row').hidden = !withReason;
  $('confirm-reason').value = '';
  dialog.returnValue = '';
  dialog.onclose = () => {
    if (dialog.returnValue === 'ok') run($('confirm-reason').value);
  };
  dialog.showModal();
}

async function act(method, path, describe) {
  try {
    const r = await api(method, path);
    notice(describe(r), false);
  } catch (e) {
    notice(e.message, true);
  }
  await refresh();
}

// Replays page after page (each request moves at most admin.max_list messages).
async function replay(name) {
  let total = 0, budget = null;
  try {
    for (;;) {
      const r = await api('POST', `/api/destinations/${seg(name)}/replay`);
      total += r.replayed;
      if (budget === null) budget = r.replayed + r.remaining;
      if (r.replayed === 0 || total >= budget || r.remaining <= r.skipped) {
        const skipped = r.skipped ? `; ${r.skipped} name no original destination and stay` : '';
        notice(`replayed ${total} messages from ${name}${skipped}`, false);
        break;
      }
    }
  } catch (e) {
    notice(e.message, true);
  }
  await refresh();
}

function schedule() {
  clearInterval(state.timer);
  state.timer = $('live').checked ? setInterval(refresh, POLL_MS) : null;
}

// A filter without a wildcard matches anywhere in the name.
$('filter').addEventListener('input', () => {
  const f = $('filter').value.trim();
  state.filter = f === '' || f.includes('*') ? f : `*${f}*`;
  state.offset = 0;
  refresh();
});
$('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
$('next').addEventListener('click', () => { state.offset += PAGE; refresh(); });
$('detail-close').addEventListener('click', () => { state.selected = null; $('detail').hidden = true; refresh(); });
$('live').addEventListener('change', schedule);
refresh();
schedule();
