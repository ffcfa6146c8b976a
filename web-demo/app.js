// The Uplink web demo: sign in, explore the objects you may use, call them, watch a stream.
import { connect } from './uplink.js';
import { setupCallbacks } from './callbacks.js';
import { setupAdmin, setupRevoke } from './admin.js';

const $ = (id) => document.getElementById(id);
const gatewayUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
// The demo cluster (npm run demo:cluster) lists its gateways in ?gateways=: the client fails over
// between them. Only gateways on this page's host are taken (a link must not send tokens elsewhere).
const gatewayUrls = (() => {
  const listed = (new URLSearchParams(location.search).get('gateways') ?? '').split(',').filter((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname === location.hostname;
    } catch {
      return false;
    }
  });
  return listed.length > 0 ? listed : [gatewayUrl];
})();

let client;
let currentSubject;
let tokenSource; // () => Promise<string>: a fresh token for refreshes and reconnects
let expiryTimer;

// ---- sign-in ----

$('demo-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const sub = $('name').value.trim();
  const scope = $('admin').checked ? 'admin' : '';
  let cached; // { token, exp }: reused while it has a minute left (the page's own gateway may be gone)
  tokenSource = async () => {
    if (cached && cached.exp * 1000 - Date.now() > 60_000) return cached.token;
    const response = await fetch(`/demo/token?sub=${encodeURIComponent(sub)}&scope=${encodeURIComponent(scope)}`);
    if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
    const { token } = await response.json();
    cached = { token, exp: JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp };
    return token;
  };
  void signIn();
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  tokenSource = async () => token;
  void signIn();
});

async function signIn() {
  const previous = client;
  client = undefined;
  await previous?.close();
  setStatus('reconnecting', 'connecting…');
  try {
    client = await connect(gatewayUrls, {
      token: () => tokenSource(),
      // WebSocket where the network allows it; calls over HTTP and streams over SSE where it does not.
      transport: 'auto',
      reconnect: { initialDelayMs: 200, maxDelayMs: 2_000 },
      onStateChange: (state) => {
        setStatus(state, state === 'open' ? `connected as ${currentSubject ?? '…'}` : state);
        showGateway();
        if (state === 'open' && client) refreshExplorer().catch(() => {}); // a newer sign-in may have closed this client
      },
      onClose: ({ code, reason }) => setStatus('closed', `disconnected (${code}${reason ? `: ${reason}` : ''})`),
    });
  } catch (error) {
    setStatus('closed', `refused: ${describe(error)}`);
    return;
  }
  const info = await client.proxy('$uplink').info();
  currentSubject = info.subject;
  setStatus('open', `connected as ${info.subject}`);
  showGateway();
  for (const id of ['explorer', 'console', 'streams', 'live']) $(id).hidden = false;
  clearInterval(expiryTimer);
  expiryTimer = setInterval(showExpiry, 1_000);
  showExpiry();
  await refreshExplorer();
}


function showGateway() {
  $('gateway').textContent = client && gatewayUrls.length > 1 ? `via ${client.url}` : '';
  const transport = client?.session?.transport;
  $('transport').textContent = transport === 'http' ? 'over HTTP + SSE (WebSocket refused)' : transport === 'websocket' ? 'over WebSocket' : '';
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text;
}

function showExpiry() {
  const exp = client?.session?.tokenExpiresAt;
  $('expiry').textContent = exp ? `token expires in ${Math.max(0, Math.round((exp - Date.now()) / 1000))} s` : '';
}

// ---- object explorer, from the gateway's metadata (filtered to what this caller may use) ----

let metadata = new Map();

async function refreshExplorer() {
  const builtin = client.proxy('$uplink');
  const listed = await builtin.list();
  showAdmin(listed);
  const ids = listed.filter((id) => id !== '$uplink' && id !== '$admin');
  metadata = new Map(await Promise.all(ids.map(async (id) => [id, await builtin.metadata(id)])));
  const list = $('objects');
  list.replaceChildren(...[...metadata.values()].map((m) => {
    const li = document.createElement('li');
    li.dataset.object = m.id;
    const name = document.createElement('code');
    name.textContent = m.id;
    const members = document.createElement('div');
    members.className = 'members';
    members.textContent = [
      ...m.methods.map((x) => `${x}()${m.streams.includes(x) ? ' ⇢ stream' : ''}${m.oneway.includes(x) ? ' (oneway)' : ''}`),
      ...m.properties.map((p) => `${p.name} ${p.writable ? '(get/set)' : '(get)'}`),
    ].join(' · ');
    li.append(name, members);
    return li;
  }));
  const objectSelect = $('object');
  const previous = objectSelect.value;
  objectSelect.replaceChildren(...ids.map((id) => new Option(id, id)));
  if (ids.includes(previous)) objectSelect.value = previous;
  fillMembers();
}

function fillMembers() {
  const m = metadata.get($('object').value);
  if (!m) return;
  const options = [
    ...m.methods.filter((x) => !m.streams.includes(x)).map((x) => new Option(`${x}()`, `call:${x}`)),
    ...m.properties.map((p) => new Option(`get ${p.name}`, `get:${p.name}`)),
  ];
  $('member').replaceChildren(...options);
}
$('object').addEventListener('change', fillMembers);

// ---- call console ----

$('call-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const out = $('result');
  let args;
  try {
    args = JSON.parse($('args').value || '[]');
    if (!Array.isArray(args)) throw new Error('arguments must be a JSON array');
  } catch (error) {
    out.className = 'error';
    out.textContent = `bad arguments: ${error.message}`;
    return;
  }
  const [kind, member] = $('member').value.split(':');
  const object = $('object').value;
  const started = performance.now();
  let servedBy; // the demo cluster's hosts name themselves in the result's annotations
  const options = { timeoutMs: 10_000, onAnnotations: (annotations) => (servedBy = annotations['uplink-host']) };
  try {
    const value = kind === 'get' ? await client.get(object, member, options) : await client.call(object, member, args, options);
    out.className = '';
    out.textContent = `${JSON.stringify(value, replacer, 2)}\n\n${elapsed(started)}${servedBy ? ` · served by ${servedBy}` : ''}`;
    $('served-by').textContent = servedBy ? `last call served by ${servedBy}` : '';
  } catch (error) {
    out.className = 'error';
    out.textContent = `${describe(error)}\n\n${elapsed(started)}`;
  }
});

function describe(error) {
  return error?.code ? `${error.code} ${error.name}: ${error.message}` : String(error?.message ?? error);
}
const elapsed = (started) => `${(performance.now() - started).toFixed(1)} ms`;
const replacer = (_key, value) => (typeof value === 'bigint' ? `${value}n` : value instanceof Map ? Object.fromEntries(value) : value);

setupCallbacks(() => client, describe);
const showAdmin = setupAdmin(() => client, describe);
setupRevoke(() => client, describe);

// ---- live stream with flow control ----

let stream;
let paused = false;
let wake;
let shown = 0;
const prices = [];

$('start').addEventListener('click', async () => {
  await stream?.return();
  const window = Math.max(1, Math.min(256, Number($('window').value) || 8));
  stream = client.stream('ticker', 'watch', [$('symbol').value, 100], { window });
  paused = false;
  shown = 0;
  prices.length = 0;
  setStreaming(true);
  const mine = stream;
  try {
    for await (const tick of mine) {
      while (paused && mine === stream) await new Promise((resolve) => (wake = resolve));
      if (mine !== stream) break;
      shown++;
      prices.push(tick.price);
      if (prices.length > 120) prices.shift();
      $('price').textContent = `${tick.symbol} ${tick.price.toFixed(2)}`;
      draw();
      showCounters();
    }
    if (mine === stream) $('stream-state').textContent = 'ended';
  } catch (error) {
    if (mine === stream) $('stream-state').textContent = `error: ${describe(error)}`;
  }
  if (mine === stream) setStreaming(false);
});

$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('stream-state').textContent = paused ? 'paused' : 'streaming';
  if (!paused) wake?.();
});

$('cancel').addEventListener('click', async () => {
  const s = stream;
  stream = undefined; // the consuming loop sees it is no longer current
  paused = false;
  wake?.();
  await s?.return();
  $('stream-state').textContent = 'cancelled';
  setStreaming(false);
});

function setStreaming(on) {
  $('start').disabled = on;
  $('pause').disabled = !on;
  $('cancel').disabled = !on;
  $('pause').textContent = 'Pause';
  if (on) $('stream-state').textContent = 'streaming';
}

let lastStream;
function showCounters() {
  if (stream) lastStream = stream;
  if (!lastStream) return;
  $('received').textContent = String(lastStream.received);
  $('shown').textContent = String(shown);
  $('held').textContent = String(lastStream.received - shown);
}
setInterval(showCounters, 200);

function draw() {
  const canvas = $('chart');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (prices.length < 2) return;
  const lo = Math.min(...prices) - 0.5;
  const hi = Math.max(...prices) + 0.5;
  ctx.strokeStyle = '#2857d6';
  ctx.lineWidth = 2;
  ctx.beginPath();
  prices.forEach((p, i) => {
    const x = (i / 119) * canvas.width;
    const y = canvas.height - ((p - lo) / (hi - lo)) * canvas.height;
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}
