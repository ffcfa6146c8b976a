/**
 * Catalogue A (docs/security.md): the HTTP upgrade, origins and connection admission, over raw TCP.
 * Each test is named after its catalogue item; the arena checks an honest client after every one.
 */
import { eventually, within } from '../support/eventually.js';
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { describe, it } from 'node:test';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { CloseCode, ErrorCode } from '../../src/index.js';
import { client, RawSocket, sleep, startGateway } from '../support/gateway.js';
import { hsToken, SECRET } from '../support/tokens.js';
import { useArena, useJwksArena } from './arena.js';
import { httpExchange, upgradeRequest } from './raw-websocket.js';

const APP = 'https://app.example.com';

describe('A. origins', () => {
  const arena = useArena({ allowedOrigins: [APP, 'http://localhost:5173'], allowMissingOrigin: true });
  const statusFor = async (origin: string) => (await httpExchange(arena.port, upgradeRequest(`Origin: ${origin}\r\n`))).status;

  it('#1 cross-site WebSocket hijacking: a foreign origin gets 403 before any socket exists', async () => {
    const before = arena.gateway.connectionCount;
    assert.equal(await statusFor('https://evil.example'), 403);
    assert.equal(arena.gateway.connectionCount, before);
    assert.ok(arena.logs.lines.some((l) => l.msg === 'upgrade refused: origin not allowed' && l.origin === 'https://evil.example'));
  });

  it('#2 origin look-alikes are refused: exact scheme, host and port only', async () => {
    const lookAlikes = ['https://app.example.com.evil.com', 'https://evilapp.example.com', 'null', 'http://app.example.com',
      'https://app.example.com:444', 'https://APP.example.com', 'https://app.example.com/', 'https://app.example.co', 'http://localhost:5174'];
    for (const origin of lookAlikes) assert.equal(await statusFor(origin), 403, origin);
    assert.equal(await statusFor(APP), 101);
    assert.equal(await statusFor('http://localhost:5173'), 101);
  });

  it('#3 no Origin header (non-browser clients): admitted only where configured, since auth is a bearer token, never a cookie', async () => {
    assert.equal((await httpExchange(arena.port, upgradeRequest())).status, 101);
    const strict = await startGateway({ allowedOrigins: [APP] });
    assert.equal((await httpExchange(strict.gateway.port, upgradeRequest())).status, 403);
    await strict.gateway.close({ drainMs: 0 });
  });
});

describe('A. upgrade requests', () => {
  const arena = useArena();

  it('#4 malformed upgrades get 400 or 426 and never a socket: non-GET, no Upgrade, bad key, wrong version', async () => {
    const cases: Array<[string, string, number]> = [
      ['POST', upgradeRequest('Content-Length: 0\r\n', 'POST / HTTP/1.1'), 400],
      ['no Upgrade header', upgradeRequest().replace('Upgrade: websocket\r\n', ''), 400],
      ['unreadable Upgrade header', upgradeRequest().replace('Upgrade: websocket', 'Upgrade: web\u00ffsocket'), 400],
      ['key of 15 bytes', upgradeRequest().replace('dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25j'), 400],
      ['key not base64', upgradeRequest().replace('dGhlIHNhbXBsZSBub25jZQ==', '!!!!!!!!!!!!!!!!!!!!!!=='), 400],
      ['version 12', upgradeRequest().replace('Version: 13', 'Version: 12'), 426],
      ['no version', upgradeRequest().replace('Sec-WebSocket-Version: 13\r\n', ''), 426],
    ];
    for (const [name, request, status] of cases) {
      const answer = await httpExchange(arena.port, request);
      assert.equal(answer.status, status, name);
      if (status === 426) assert.match(answer.head, /Sec-WebSocket-Version: 13/, name);
    }
  });

  it('#5 header floods: a header block over 8 KiB gets 431; 2,000 headers are dropped by uWS without an answer', async () => {
    const big = await httpExchange(arena.port, upgradeRequest(`X-Big: ${'a'.repeat(9_000)}\r\n`));
    assert.equal(big.status, 431);
    const flood = await httpExchange(arena.port, upgradeRequest(Array.from({ length: 2_000 }, (_, i) => `X-H${i}: v\r\n`).join('')));
    assert.equal(flood.status, undefined);
    assert.equal(flood.closed, true, 'uWS closes the socket');
  });

  it('#6 pathological Sec-WebSocket-Protocol: thousands of entries are parsed in linear time and never echoed', async () => {
    const started = performance.now();
    const answer = await httpExchange(arena.port, upgradeRequest(`Sec-WebSocket-Protocol: ${Array.from({ length: 1_000 }, (_, i) => `p${i}`).join(', ')}\r\n`), 200);
    assert.equal(answer.status, 101);
    assert.doesNotMatch(answer.head, /Sec-WebSocket-Protocol/i, 'no offered protocol is selected');
    assert.ok(performance.now() - started < 2_000);
    const tooLong = await httpExchange(arena.port, upgradeRequest(`Sec-WebSocket-Protocol: ${'x,'.repeat(5_000)}\r\n`));
    assert.equal(tooLong.status, 431);
  });

  it('#7 malformed Sec-WebSocket-Extensions are ignored: compression stays off', async () => {
    for (const ext of ['permessage-deflate; client_max_window_bits=999;;; x=', 'permessage-deflate; server_max_window_bits', '\u00ff\u00fe']) {
      const answer = await httpExchange(arena.port, upgradeRequest(`Sec-WebSocket-Extensions: ${ext}\r\n`));
      assert.equal(answer.status, 101, ext);
      assert.doesNotMatch(answer.head, /Sec-WebSocket-Extensions/i, ext);
    }
  });

  it('#10 a token offered as a subprotocol is never reflected; only uplink.v1 is ever selected', async () => {
    const offered = await httpExchange(arena.port, upgradeRequest('Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.SECRETTOKEN\r\n'));
    assert.equal(offered.status, 101);
    assert.doesNotMatch(offered.head, /SECRETTOKEN/);
    const ours = await httpExchange(arena.port, upgradeRequest('Sec-WebSocket-Protocol: base64url.bearer.x, uplink.v1\r\n'));
    assert.match(ours.head, /Sec-WebSocket-Protocol: uplink\.v1\r?$/m);
  });

  it('#12 an idle unauthenticated socket is closed at the hello deadline (4002)', async () => {
    const { gateway, url } = await startGateway({ helloTimeoutMs: 200 });
    const raw = await RawSocket.open(url, false);
    assert.equal((await raw.closed).code, CloseCode.HELLO_TIMEOUT);
    await gateway.close({ drainMs: 0 });
  });
});

describe('A. slow attackers (run side by side: each waits for uWS\'s 10 s HTTP timeout)', { concurrency: true }, () => {
  const arena = useArena();

  it('#8 slowloris: an upgrade dribbled one byte at a time is cut by uWS within about 10 s', async () => {
    const started = Date.now();
    const socket = connectTcp(arena.port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const request = upgradeRequest();
    let sent = 0;
    const dribble = setInterval(() => { if (sent < request.length - 4) socket.write(request[sent++]!); }, 250);
    await within(closed, 15_000, 'the cut').catch(() => undefined); // the assertions below say what went wrong
    clearInterval(dribble);
    socket.destroy();
    const elapsed = Date.now() - started;
    assert.ok(sent < request.length - 4, 'the request never completed');
    assert.ok(elapsed < 14_000, `closed after ${elapsed} ms`);
  });

  it('#5 (count) more headers than uWS parses (about 45): no answer, and the socket is closed by the HTTP timeout', async () => {
    const socket = connectTcp(arena.port, '127.0.0.1');
    let answered = false;
    socket.on('data', () => (answered = true));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(upgradeRequest(Array.from({ length: 60 }, (_, i) => `X-H${i}: v\r\n`).join('')));
    await within(closed, 15_000, 'the cut').catch(() => undefined); // the assertions below say what went wrong
    assert.equal(answered, false);
    assert.equal(socket.destroyed || socket.readyState === 'closed', true);
    socket.destroy();
  });
});

describe('A. admission limits', () => {
  const arena = useArena({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
    maxConnectionsPerSubject: 3, maxConnectionsPerSecPerIp: 0, maxConnections: 20,
  }, { token: () => hsToken({}, { sub: 'honest' }) });

  it('#13 one identity cannot hoard sockets: past maxConnectionsPerSubject the hello is refused (LIMIT_EXCEEDED, close 4530)', async () => {
    const token = await hsToken({}, { sub: 'hoarder' });
    const held = await Promise.all([1, 2, 3].map(() => client(arena.url, { token })));
    const raw = await RawSocket.open(arena.url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token }));
    assert.equal((await raw.next()).header.code, ErrorCode.LIMIT_EXCEEDED);
    assert.equal((await raw.closed).code, CloseCode.CONNECTION_LIMIT);
    await held[0]!.close();
    await eventually(() => arena.gateway.connectionCount <= 3 + 1, { timeoutMs: 2_000, what: 'the closed connection to leave' });
    const again = await client(arena.url, { token });
    assert.equal(await again.proxy<{ add(a: number, b: number): number }>('calc').add(1, 1), 2, 'a freed slot is usable');
    for (const c of [...held.slice(1), again]) await c.close();
  });

  it('#14 global connection exhaustion: past maxConnections new upgrades get 503, and are admitted again once others leave', async () => {
    const token = await hsToken({}, { sub: 'many' });
    const sockets: RawSocket[] = [];
    while (arena.gateway.connectionCount < 20) sockets.push(await RawSocket.open(arena.url, false));
    assert.equal((await httpExchange(arena.port, upgradeRequest())).status, 503);
    for (const s of sockets) s.close();
    await eventually(() => arena.gateway.connectionCount < 5, { timeoutMs: 2_000, what: 'the sockets to leave' });
    const c = await client(arena.url, { token });
    await c.close();
  });
});

describe('A. connection rate per address', () => {
  const arena = useArena({ maxConnectionsPerSecPerIp: 20 });

  it('#11 a connection-rate flood from one address gets 429 with Retry-After, and the address is served again a second later', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, () => httpExchange(arena.port, upgradeRequest(), 300)));
    const statuses = answers.map((a) => a.status);
    const upgraded = statuses.filter((s) => s === 101).length;
    assert.equal(upgraded + statuses.filter((s) => s === 429).length, 60, 'every attempt is upgraded or refused with 429');
    assert.ok(upgraded >= 15 && upgraded <= 35, `${upgraded} upgraded: the burst of 20 (the honest client took one), plus the refill while the flood lasted`);
    assert.match(answers.find((a) => a.status === 429)!.head, /Retry-After: 1/);
    await sleep(1_100); // the bucket refills (real time in the gateway's rate limiter); the arena's checks then connect from the same address
  });
});

describe('A. client gone during an asynchronous upgrade', () => {
  // A stale cache on every verification: each token waits for the JWKS endpoint.
  const { arena, keys } = useJwksArena('slow', { jwksCacheMaxAgeMs: 1 }, { acceptHeaderToken: true });

  it('#9 sockets that leave while their token is verified (slow JWKS) are never upgraded, and nothing fails', async () => {
    keys.jwks.delayMs = 300;
    const token = await (await keys.signer).sign('eve');
    const before = arena.gateway.connectionCount;
    for (let i = 0; i < 10; i++) {
      const socket = connectTcp(arena.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(upgradeRequest(`Authorization: Bearer ${token}\r\n`));
      await sleep(20); // the request reaches the gateway, then the client leaves mid-verification: no event marks that moment
      socket.destroy();
    }
    await sleep(700); // the verifications (300 ms JWKS delay) finish after their clients left: what they leave behind is an absence
    assert.equal(arena.gateway.connectionCount, before);
    assert.ok(!arena.logs.lines.some((l) => Number(l.level) >= 50), 'no error was logged');
    const patient = await httpExchange(arena.port, upgradeRequest(`Authorization: Bearer ${token}\r\n`), 1_000);
    assert.equal(patient.status, 101, 'a patient client is upgraded');
    keys.jwks.delayMs = 0;
  });
});
