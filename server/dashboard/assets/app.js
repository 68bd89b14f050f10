// cairn's dashboard: a client of this member's JSON gateway (/v3/...) and /metrics, like any other
// client. With auth on it signs in (POST /v3/auth/authenticate) and sends the token in the
// Authorization header; the server decides what the user may see. Views live in the URL hash, so the
// back button and reload work. Everything the page keeps (chart history, watch rows) is bounded.
'use strict';

const HISTORY_POINTS_MAX = 300;   // 10 minutes at one sample per 2 s
const WATCH_ROWS_MAX = 500;
const KEYS_PAGE = 50;
const HISTORY_VERSIONS_MAX = 10;
const REFRESH_MS = 2000;
const S = {
  token: sessionStorage.getItem('cairn.token') || '',
  user: sessionStorage.getItem('cairn.user') || '',
  authOn: false,
  view: '',
};
const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const k of kids) e.append(k);
  return e;
};

// ---- bytes: the gateway carries keys and values as base64 ----
const utf8 = new TextEncoder();
const fromBytes = (b) => new TextDecoder('utf-8').decode(b);
function b64(bytes) {
  if (typeof bytes === 'string') bytes = utf8.encode(bytes);
  let s = '';
  for (const c of bytes) s += String.fromCharCode(c);
  return btoa(s);
}
function unb64(s) {
  const bin = atob(s || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function prefixEnd(bytes) {  // the range end that covers every key starting with `bytes`
  const b = Uint8Array.from(bytes);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] < 0xff) { const e = b.slice(0, i + 1); e[i]++; return e; }
  }
  return new Uint8Array([0]);
}
const printable = (b) => { const s = fromBytes(b); return /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(s) ? null : s; };
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const show = (b) => printable(b) ?? '0x' + hex(b).replace(/ /g, '');
const bytesText = (n) => n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';

// ---- the gateway ----
class AuthNeeded extends Error {}
function headers() { return S.token ? { Authorization: S.token } : {}; }
async function gw(path, body = {}, base = '', timeoutMs = 3000) {
  const r = await fetch(base + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers() },
    body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    const msg = j.message || j.error || r.statusText;
    if (/user name is empty|invalid auth token|authentication failed|token/.test(msg)) {
      S.authOn = true;
      throw new AuthNeeded(msg);
    }
    throw new Error(msg);
  }
  return j;
}
const isAdmin = () => !S.authOn || S.user === 'root';

function showLogin(msg) {
  S.token = '';
  sessionStorage.removeItem('cairn.token');
  $('#login').hidden = false;
  $('#login-error').textContent = msg && !/empty/.test(msg) ? msg : '';
}
$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('#login-user').value, password = $('#login-password').value;
  try {
    const j = await gw('/v3/auth/authenticate', { name, password });
    S.token = j.token; S.user = name; S.authOn = true;
    sessionStorage.setItem('cairn.token', S.token);
    sessionStorage.setItem('cairn.user', name);
    $('#login').hidden = true;
    route();
  } catch (e) { $('#login-error').textContent = e.message; }
});
function guard(fn) {
  return async (...a) => {
    try { await fn(...a); } catch (e) { if (e instanceof AuthNeeded) showLogin(e.message); else throw e; }
  };
}

// ---- members ----
async function memberRow(m, alarms) {
  const url = (m.clientURLs || [])[0] || '';
  const row = { m, url, status: null, health: null };
  try { row.status = await gw('/v3/maintenance/status', {}, url, 1500); } catch (e) { row.error = e.message; }
  try {
    const h = await fetch(url + '/health', { signal: AbortSignal.timeout(1500) });
    row.health = (await h.json()).health === 'true';
  } catch (e) { row.health = false; }
  row.alarms = alarms.filter((a) => a.memberID === m.ID).map((a) => a.alarm);
  return row;
}
const refreshMembers = guard(async () => {
  const list = await gw('/v3/cluster/member/list');
  const alarms = (await gw('/v3/maintenance/alarm', { action: 'GET' }).catch(() => ({}))).alarms || [];
  $('#cluster-id').textContent = 'cluster ' + BigInt(list.header.cluster_id).toString(16);
  const rows = await Promise.all((list.members || []).map((m) => memberRow(m, alarms)));
  const leader = rows.map((r) => r.status && r.status.leader).find((l) => l && l !== '0');
  const leaderRow = rows.find((r) => r.m.ID === leader);
  const tb = $('#members tbody');
  tb.replaceChildren();
  for (const r of rows) {
    const st = r.status, up = !!st;
    const role = !up ? 'down' : st.isLearner ? 'learner' : st.leader === r.m.ID ? 'leader' : 'follower';
    const tr = el('tr', { className: 'member' });
    tr.dataset.id = r.m.ID; tr.dataset.role = role;
    const cell = (t, cls = '') => tr.append(el('td', { className: cls, textContent: t ?? '' }));
    cell(r.m.name || '(unstarted)');
    cell(BigInt(r.m.ID).toString(16), 'key');
    cell(r.url);
    cell(role, role === 'leader' ? 'leader' : role === 'down' ? 'bad' : '');
    cell(up ? st.raftTerm : '');
    cell(up ? st.raftIndex : '');
    cell(up ? st.raftAppliedIndex ?? '' : '');
    cell(up ? bytesText(Number(st.dbSize || 0)) : '');
    cell(up ? st.version : '');
    cell(r.health ? 'healthy' : 'unhealthy', r.health ? 'ok' : 'bad');
    cell(r.alarms.join(', ') || 'none', r.alarms.length ? 'bad' : '');
    const actions = el('td', { className: 'admin' });
    actions.hidden = !isAdmin();
    if (up && role === 'follower' && leaderRow) {
      actions.append(el('button', { textContent: 'Make leader', type: 'button', onclick: () => act(
        `Move leadership to ${r.m.name}?`, () => gw('/v3/maintenance/transfer-leadership', { targetID: r.m.ID }, leaderRow.url, 10000)) }));
    }
    if (up) {
      actions.append(el('button', { textContent: 'Defragment', type: 'button', onclick: () => act(
        `Defragment ${r.m.name}? It pauses that member's writes while it runs.`, () => gw('/v3/maintenance/defragment', {}, r.url, 60000)) }));
    }
    tr.append(actions);
    tb.append(tr);
  }
  document.querySelectorAll('th.admin').forEach((t) => { t.hidden = !isAdmin(); });
  $('#members-updated').textContent = 'Updated ' + new Date().toLocaleTimeString() + '.';
});
async function act(question, fn) {
  if (!confirm(question)) return;
  try { await fn(); } catch (e) { alert(e.message); }
  refreshMembers();
}

// ---- charts from /metrics ----
function parseMetrics(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const sp = line.lastIndexOf(' ');
    const key = line.slice(0, sp), v = Number(line.slice(sp + 1));
    const name = key.replace(/\{.*$/, '');
    if (!m.has(name)) m.set(name, []);
    m.get(name).push({ labels: key.slice(name.length), v });
  }
  return m;
}
const sum = (m, name) => (m.get(name) || []).reduce((a, x) => a + x.v, 0);
function quantile(buckets, q) {  // buckets: [{le, count}] cumulative, sorted
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (!total) return null;
  for (const b of buckets) if (b.count >= q * total) return b.le;
  return null;
}
function latencyBuckets(m, name) {  // one histogram's buckets summed over every label set
  const by = new Map();
  for (const x of m.get(name + '_bucket') || []) {
    const le = /le="([^"]+)"/.exec(x.labels);
    if (!le) continue;
    const k = le[1] === '+Inf' ? Infinity : Number(le[1]);
    by.set(k, (by.get(k) || 0) + x.v);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}
const CHARTS = [
  { id: 'rps', title: 'Requests/s', unit: '/s' },
  { id: 'p50', title: 'Request latency p50 (ms)', unit: ' ms', note: 'needs --metrics=extensive' },
  { id: 'p99', title: 'Request latency p99 (ms)', unit: ' ms', note: 'needs --metrics=extensive' },
  { id: 'fsync', title: 'WAL fsync latency p99 (ms)', unit: ' ms' },
  { id: 'commits', title: 'Proposals committed/s', unit: '/s' },
  { id: 'leader', title: 'Leader changes seen', unit: '' },
  { id: 'db', title: 'DB size (MiB)', unit: ' MiB' },
];
const series = Object.fromEntries(CHARTS.map((c) => [c.id, []]));
let lastSample = null;
async function sampleMetrics() {
  let text;
  try { text = await (await fetch('/metrics', { signal: AbortSignal.timeout(1500) })).text(); } catch (e) { return; }
  const m = parseMetrics(text), t = Date.now() / 1000;
  const cur = {
    t, handled: sum(m, 'grpc_server_handled_total'), buckets: latencyBuckets(m, 'grpc_server_handling_seconds'),
    fbuckets: latencyBuckets(m, 'etcd_disk_wal_fsync_duration_seconds'),
    commits: sum(m, 'etcd_server_proposals_committed_total'),
  };
  const push = (id, v) => { const s = series[id]; s.push({ t, v }); if (s.length > HISTORY_POINTS_MAX) s.shift(); };
  if (lastSample) {
    const dt = t - lastSample.t;
    push('rps', (cur.handled - lastSample.handled) / dt);
    const since = (now, then) => now.map((b, i) => ({ le: b.le, count: b.count - ((then[i] || {}).count || 0) }));
    const delta = since(cur.buckets, lastSample.buckets);
    const p50 = quantile(delta, 0.5), p99 = quantile(delta, 0.99);
    if (p50 !== null && isFinite(p50)) push('p50', p50 * 1000);
    if (p99 !== null && isFinite(p99)) push('p99', p99 * 1000);
    // The bucket bound the 99th percentile falls under (etcd's buckets: 1, 2, 4 ... 8192 ms); 0 when idle.
    const fp99 = quantile(since(cur.fbuckets, lastSample.fbuckets), 0.99);
    push('fsync', fp99 !== null && isFinite(fp99) ? fp99 * 1000 : 0);
    push('commits', (cur.commits - lastSample.commits) / dt);
  }
  push('leader', sum(m, 'etcd_server_leader_changes_seen_total'));
  push('db', sum(m, 'etcd_mvcc_db_total_size_in_bytes') / (1 << 20));
  lastSample = cur;
  if (S.view === 'charts') drawCharts();
}
function drawCharts() {
  const box = $('#charts');
  if (!box.children.length) {
    for (const c of CHARTS) {
      box.append(el('div', { className: 'chart', id: 'chart-' + c.id },
        el('h3', { textContent: c.title }, el('span', { className: 'now' })), el('canvas')));
    }
  }
  for (const c of CHARTS) {
    const div = $('#chart-' + c.id), s = series[c.id], cv = div.querySelector('canvas');
    div.querySelector('.now').textContent = s.length ? s[s.length - 1].v.toFixed(2) + c.unit : (c.note || 'no data yet');
    const w = cv.width = cv.clientWidth * devicePixelRatio, h = cv.height = cv.clientHeight * devicePixelRatio;
    const g = cv.getContext('2d');
    g.clearRect(0, 0, w, h);
    if (s.length < 2) continue;
    const max = Math.max(...s.map((p) => p.v)) || 1, t0 = s[0].t, span = (s[s.length - 1].t - t0) || 1;
    g.strokeStyle = '#d9dee3'; g.beginPath(); g.moveTo(0, h - 1); g.lineTo(w, h - 1); g.stroke();
    g.fillStyle = '#66707a'; g.font = `${11 * devicePixelRatio}px sans-serif`; g.fillText(max.toFixed(2), 4, 12 * devicePixelRatio);
    g.strokeStyle = '#2457a6'; g.lineWidth = 1.5 * devicePixelRatio; g.beginPath();
    s.forEach((p, i) => {
      const x = (p.t - t0) / span * (w - 2) + 1, y = h - 2 - p.v / max * (h - 18 * devicePixelRatio);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
}

// ---- key browser ----
const K = { prefix: '', starts: [], page: 0, more: false, mode: 'text', kv: null };
function keyRange(startBytes) {
  const p = utf8.encode(K.prefix);
  return { key: b64(startBytes), range_end: b64(p.length ? prefixEnd(p) : new Uint8Array([0])), limit: KEYS_PAGE, keys_only: true };
}
const listKeys = guard(async () => {
  const start = K.starts[K.page];
  const r = await gw('/v3/kv/range', keyRange(start));
  const kvs = r.kvs || [];
  K.more = !!r.more;
  const tb = $('#keys tbody');
  tb.replaceChildren();
  for (const kv of kvs) {
    const key = unb64(kv.key);
    const tr = el('tr', { className: 'clickable' },
      el('td', { className: 'key', textContent: show(key) }), el('td', { textContent: kv.version }),
      el('td', { textContent: kv.mod_revision }), el('td', { textContent: kv.lease ? BigInt(kv.lease).toString(16) : '' }));
    tr.dataset.key = kv.key;
    tr.onclick = () => setHash('keys', { prefix: K.prefix, key: show(key) === fromBytes(key) ? fromBytes(key) : '', k64: kv.key });
    tb.append(tr);
  }
  if (kvs.length) K.starts[K.page + 1] = Uint8Array.from([...unb64(kvs[kvs.length - 1].key), 0]);
  $('#keys-count').textContent = `${r.count || 0} keys` + (K.page ? `, page ${K.page + 1}` : '');
  $('#keys-prev').disabled = K.page === 0;
  $('#keys-next').disabled = !K.more;
});
const showKey = guard(async (k64) => {
  const r = await gw('/v3/kv/range', { key: k64 });
  const kv = (r.kvs || [])[0];
  $('#key-detail').hidden = false;
  $('#kd-key').textContent = show(unb64(k64));
  document.querySelectorAll('#keys tbody tr').forEach((tr) => tr.classList.toggle('selected', tr.dataset.key === k64));
  if (!kv) { $('#kd-value').textContent = '(deleted)'; K.kv = null; return; }
  K.kv = kv;
  renderValue();
  $('#kd-meta').textContent = `created at ${kv.create_revision}, modified at ${kv.mod_revision}, version ${kv.version}`;
  $('#kd-lease').textContent = '';
  if (kv.lease && kv.lease !== '0') {
    try {
      const l = await gw('/v3/lease/timetolive', { ID: kv.lease });
      $('#kd-lease').textContent = `lease ${BigInt(kv.lease).toString(16)}: ${l.TTL} s left of ${l.grantedTTL} s`;
    } catch (e) { $('#kd-lease').textContent = 'lease: ' + e.message; }
  }
  const hist = $('#kd-history tbody');
  hist.replaceChildren();
  let cur = kv;
  for (let i = 0; i < HISTORY_VERSIONS_MAX && cur; i++) {
    hist.append(el('tr', {}, el('td', { textContent: cur.mod_revision }), el('td', { textContent: cur.version }),
      el('td', { className: 'key', textContent: show(unb64(cur.value)) })));
    if (Number(cur.version) <= 1) break;
    try {
      const prev = await gw('/v3/kv/range', { key: k64, revision: String(Number(cur.mod_revision) - 1) });
      cur = (prev.kvs || [])[0];
    } catch (e) {
      hist.append(el('tr', {}, el('td', { colSpan: 3, className: 'muted', textContent: 'older: ' + e.message })));
      break;
    }
  }
});
function renderValue() {
  const v = unb64(K.kv.value);
  let text;
  if (K.mode === 'hex') text = hex(v);
  else if (K.mode === 'json') {
    try { text = JSON.stringify(JSON.parse(fromBytes(v)), null, 2); } catch (e) { text = 'not JSON: ' + e.message; }
  } else text = printable(v) ?? '(binary; see Hex)';
  $('#kd-value').textContent = text;
  document.querySelectorAll('#kd-modes button').forEach((b) => b.classList.toggle('active', b.dataset.mode === K.mode));
}
document.querySelectorAll('#kd-modes button').forEach((b) => { b.onclick = () => { K.mode = b.dataset.mode; if (K.kv) renderValue(); }; });
$('#keys-form').addEventListener('submit', (ev) => { ev.preventDefault(); setHash('keys', { prefix: $('#keys-prefix').value }); });
$('#keys-next').onclick = () => { K.page++; listKeys(); };
$('#keys-prev').onclick = () => { K.page = Math.max(0, K.page - 1); listKeys(); };

// ---- watch tail (POST /v3/watch: one JSON result per line) ----
let watchAbort = null;
async function startWatch(prefix) {
  stopWatch();
  const p = utf8.encode(prefix);
  const create = { key: b64(p.length ? p : new Uint8Array([0])), range_end: b64(p.length ? prefixEnd(p) : new Uint8Array([0])) };
  const ctrl = watchAbort = new AbortController();
  $('#watch-stop').disabled = false;
  $('#watch-state').textContent = 'connecting';
  try {
    const r = await fetch('/v3/watch', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers() },
      body: JSON.stringify({ create_request: create }), signal: ctrl.signal });
    const reader = r.body.getReader(), td = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += td.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { onWatchLine(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
    }
    $('#watch-state').textContent = 'ended';
  } catch (e) {
    if (ctrl === watchAbort) $('#watch-state').textContent = ctrl.signal.aborted ? 'stopped' : 'failed: ' + e.message;
  }
}
function onWatchLine(line) {
  const j = JSON.parse(line);
  if (j.error) { $('#watch-state').textContent = 'error: ' + j.error.message; return; }
  const res = j.result || {};
  if (res.created) $('#watch-state').textContent = 'watching from revision ' + (Number(res.header.revision) + 1);
  if (res.canceled) $('#watch-state').textContent = 'canceled: ' + (res.cancel_reason || 'compacted at ' + res.compact_revision);
  const tb = $('#watch-events tbody');
  for (const ev of res.events || []) {
    tb.prepend(el('tr', { className: 'event' }, el('td', { textContent: ev.kv.mod_revision }),
      el('td', { textContent: ev.type || 'PUT' }), el('td', { className: 'key', textContent: show(unb64(ev.kv.key)) }),
      el('td', { className: 'key', textContent: show(unb64(ev.kv.value)) })));
    while (tb.children.length > WATCH_ROWS_MAX) tb.lastChild.remove();
  }
}
function stopWatch() {
  if (watchAbort) { const a = watchAbort; watchAbort = null; a.abort(); $('#watch-state').textContent = 'stopped'; }
  $('#watch-stop').disabled = true;
}
$('#watch-form').addEventListener('submit', (ev) => { ev.preventDefault(); setHash('watch', { prefix: $('#watch-prefix').value, on: '1' }); });
$('#watch-stop').onclick = () => setHash('watch', { prefix: $('#watch-prefix').value });

// ---- routing: #/view?param=... ----
function setHash(view, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined)).toString();
  location.hash = '#/' + view + (q ? '?' + q : '');
}
function route() {
  const m = /^#\/(\w+)(?:\?(.*))?$/.exec(location.hash) || [];
  const view = ['members', 'charts', 'keys', 'watch'].includes(m[1]) ? m[1] : 'members';
  const params = new URLSearchParams(m[2] || '');
  S.view = view;
  for (const v of ['members', 'charts', 'keys', 'watch']) $('#view-' + v).hidden = v !== view;
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === view));
  $('#who').textContent = S.user ? 'signed in as ' + S.user : '';
  if (view === 'members') refreshMembers();
  if (view === 'charts') drawCharts();
  if (view === 'keys') {
    const prefix = params.get('prefix') || '';
    if (prefix !== K.prefix || !K.starts.length) { K.prefix = prefix; K.starts = [utf8.encode(prefix)]; K.page = 0; }
    $('#keys-prefix').value = prefix;
    listKeys();
    if (params.get('k64')) showKey(params.get('k64')); else $('#key-detail').hidden = true;
  }
  if (view === 'watch') {
    const prefix = params.get('prefix') || '';
    $('#watch-prefix').value = prefix;
    if (params.get('on') === '1') startWatch(prefix); else stopWatch();
  } else stopWatch();
}
window.addEventListener('hashchange', route);
setInterval(() => { if (S.view === 'members' && document.visibilityState === 'visible') refreshMembers(); }, REFRESH_MS);
setInterval(sampleMetrics, REFRESH_MS);
sampleMetrics();
route();
