/** Lifecycle and limits: socket cuts, keepalive, graceful close with drain, busy, connection limit, logs, native check, env config. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { callContext, CloseCode, ConnectionClosedError, ErrorCode, optionsFromEnv } from '../../../src/index.js';
import { loadUws, UWS_CANDIDATES } from '../../../src/server/http/uws-loader.js';
import { client, rejection, startGateway, TcpRelay } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { Echo as EchoFixture } from '../../support/fixtures.js';

type Echo = { slow(ms: number): string };
type Calc = { add(a: number, b: number): number };

describe('a cut socket', () => {
  it('fails pending calls with ConnectionClosedError at once, and the server aborts them', async () => {
    const { gateway, url } = await startGateway();
    const relay = await TcpRelay.start(gateway.port);
    const c = await client(relay.url, { timeoutMs: 0 });
    const running = EchoFixture.slowRunning;
    const pending = [c.proxy<Echo>('echo').slow(10_000), c.proxy<Echo>('echo').slow(10_000)];
    await eventually(() => EchoFixture.slowRunning === running + 2, { what: 'both calls running on the gateway' });
    const cutAt = Date.now();
    relay.cut();
    for (const p of pending) assert.ok((await rejection(p)) instanceof ConnectionClosedError);
    assert.ok(Date.now() - cutAt < 1_000, 'failed promptly');
    await eventually(() => gateway.connectionCount === 0, { timeoutMs: 500, what: 'the connection gone' });
    await eventually(() => EchoFixture.slowRunning === running, { what: 'the server to abort both calls' });
    const honest = await client(url);
    assert.equal(await honest.proxy<Calc>('calc').add(1, 2), 3);
    await honest.close();
    await relay.close();
    await gateway.close({ drainMs: 0 });
  });

  it('detects a dead path with keepalive pings and fails pending calls', async () => {
    const { gateway } = await startGateway();
    const relay = await TcpRelay.start(gateway.port);
    const c = await client(relay.url, { timeoutMs: 0, keepaliveMs: 50, keepaliveTimeoutMs: 100 });
    const running = EchoFixture.slowRunning;
    const pending = c.proxy<Echo>('echo').slow(10_000);
    await eventually(() => EchoFixture.slowRunning === running + 1, { what: 'the call running on the gateway' });
    relay.freeze();
    const error = await rejection(pending);
    assert.ok(error instanceof ConnectionClosedError);
    assert.match(error.message, /keepalive/);
    await relay.close();
    await gateway.close({ drainMs: 0 });
  });
});

describe('graceful close', () => {
  it('says goodbye, lets short calls finish, answers long ones with SHUTTING_DOWN, refuses new calls and connections', async () => {
    const { gateway, url } = await startGateway();
    let goodbye: unknown;
    const c = await client(url, { timeoutMs: 0, onClose: (info) => (goodbye = info) });
    const short = c.proxy<Echo>('echo').slow(50);
    const running = EchoFixture.slowRunning;
    const long = c.proxy<Echo>('echo').slow(10_000);
    await eventually(() => EchoFixture.slowRunning === running + 2, { what: 'both calls running on the gateway' });
    const closing = gateway.close({ drainMs: 200 }); // draining from here on: the next call is refused
    assert.equal((await rejection(c.proxy<Calc>('calc').add(1, 2))).code, ErrorCode.SHUTTING_DOWN);
    assert.equal(await short, 'slept 50 ms');
    assert.equal((await rejection(long)).code, ErrorCode.SHUTTING_DOWN);
    await closing;
    await c.whenClosed;
    assert.deepEqual(goodbye, { code: CloseCode.GOING_AWAY, reason: 'shutdown', goodbye: { reason: 'shutdown', reconnectMs: 1_000 } });
    await assert.rejects(client(url, { connectTimeoutMs: 500 }));
  });

  it('answers every accepted call when closed under load', async () => {
    const { gateway, url } = await startGateway();
    const clients = await Promise.all([1, 2, 3, 4].map(() => client(url, { timeoutMs: 0 })));
    const calls: Array<Promise<unknown>> = [];
    let fastDone = 0;
    for (const c of clients) {
      for (let i = 0; i < 50; i++) {
        const call = c.proxy<Echo>('echo').slow(i % 2 ? 5 : 5_000);
        if (i % 2) void call.then(() => fastDone++, () => {});
        calls.push(call);
      }
    }
    // The 5 ms calls finish first (waiting for them, not a fixed sleep: a loaded machine is slower).
    await eventually(() => fastDone === 100, { timeoutMs: 10_000, what: 'the fast calls' });
    await gateway.close({ drainMs: 100 });
    const outcomes = await Promise.allSettled(calls);
    const codes = outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code: string }).code));
    assert.equal(codes.filter((c) => c === 'ok').length, 100);
    assert.equal(codes.filter((c) => c === ErrorCode.SHUTTING_DOWN).length, 100);
  });
});

describe('limits', () => {
  it('answers calls beyond maxInflight with BUSY and serves the rest', async () => {
    const { gateway, url } = await startGateway({ maxInflight: 4 });
    const c = await client(url);
    const calls = Array.from({ length: 6 }, () => c.proxy<Echo>('echo').slow(50));
    const outcomes = await Promise.allSettled(calls);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 4);
    assert.deepEqual(outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason.code), [ErrorCode.BUSY, ErrorCode.BUSY]);
    assert.equal(await c.proxy<Calc>('calc').add(1, 2), 3);
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  it('refuses upgrades beyond maxConnections with HTTP 503', async () => {
    const { gateway, url } = await startGateway({ maxConnections: 2 });
    const a = await client(url);
    const b = await client(url);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    assert.equal(status, 503);
    assert.equal(await a.proxy<Calc>('calc').add(2, 2), 4);
    await a.close();
    await b.close();
    await gateway.close({ drainMs: 0 });
  });

  it('cuts a client that does not read once its outbound buffer passes maxBackpressure', async () => {
    const { gateway } = await startGateway({ maxBackpressure: 256 * 1024, maxPayloadLength: 256 * 1024, maxInflight: 256 });
    const relay = await TcpRelay.start(gateway.port);
    const reader = await client(relay.url, { timeoutMs: 0 });
    const big = 'x'.repeat(200 * 1024);
    relay.freezeInbound();
    const calls = Array.from({ length: 200 }, () => reader.proxy<{ echo(v: string): string }>('echo').echo(big).catch((e: Error) => e));
    await eventually(() => gateway.connectionCount === 0, { timeoutMs: 5_000, what: 'the slow consumer to be disconnected' });
    relay.cut();
    await Promise.all(calls);
    await relay.close();
    await gateway.close({ drainMs: 0 });
  });
});

describe('logging', () => {
  it('writes one structured line per connection open and close, never the token', async () => {
    const { gateway, url, logs } = await startGateway();
    const c = await client(url, { token: 'eyJ-very-secret-token' });
    const id = c.session.connectionId;
    await c.close();
    await eventually(() => logs.lines.some((l) => l.msg === 'connection closed'), { what: 'the close logged' });
    const opened = logs.lines.filter((l) => l.msg === 'connection opened' && l.conn === id);
    const closed = logs.lines.filter((l) => l.msg === 'connection closed' && l.conn === id);
    assert.equal(opened.length, 1);
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.code, 1000);
    assert.ok(!logs.text().includes('very-secret'));
    await gateway.close({ drainMs: 0 });
  });

  it('user code logs through callContext().log: a pino child whose lines carry the connection id and the correlation id', async () => {
    const { gateway, url, logs } = await startGateway();
    gateway.register({ note: (text: string) => void callContext().log.info({ text }, 'user note') }, 'notes', { expose: ['note'] });
    const c = await client(url);
    await c.call('notes', 'note', ['hello'], { correlationId: 'trace-42' });
    const line = logs.lines.find((l) => l.msg === 'user note');
    assert.deepEqual({ conn: line?.conn, cid: line?.cid, text: line?.text, remote: line?.remote }, { conn: c.session.connectionId, cid: 'trace-42', text: 'hello', remote: '127.0.0.1' });
    await c.close();
    await gateway.close({ drainMs: 0 });
  });
});

describe('per-call debug lines', () => {
  it('are written only when the log level is debug', async () => {
    const quiet = await startGateway({ logLevel: 'info' });
    const loud = await startGateway();
    for (const g of [quiet, loud]) {
      const c = await client(g.url);
      await c.proxy<Calc>('calc').add(1, 2);
      await c.close();
    }
    assert.equal(quiet.logs.lines.filter((l) => l.msg === 'call answered').length, 0);
    assert.equal(loud.logs.lines.filter((l) => l.msg === 'call answered' && l.call === 'calc.add').length, 1);
    await quiet.gateway.close({ drainMs: 0 });
    await loud.gateway.close({ drainMs: 0 });
  });
});

describe('native uWS binding check', () => {
  /** Node 22/24 on Debian 12: no native build (the node runtime serves there; test:platforms runs it). */
  const noNative = !loadUws().report.native && 'no native uWS build loads on this platform';

  it('loads a native build here, and says why each other candidate was skipped', { skip: noNative }, () => {
    const { report } = loadUws();
    assert.equal(report.native, true);
    assert.equal(report.candidates.length, UWS_CANDIDATES.indexOf(UWS_CANDIDATES.find((c) => c.module === report.loaded)!) + 1, 'tried in order until one loaded');
    for (const skipped of report.candidates.filter((c) => c.result === 'skipped')) assert.ok(skipped.reason, `${skipped.module}: a reason`);
  });

  it('reports the build in /health', { skip: noNative }, async () => {
    const { gateway } = await startGateway({ runtime: 'uws' });
    const health = await (await fetch(`http://127.0.0.1:${gateway.port}/health`)).json() as { uws: { loaded: string; native: boolean } };
    assert.equal(health.uws.native, true);
    assert.ok(UWS_CANDIDATES.some((c) => c.module === health.uws.loaded));
    await gateway.close({ drainMs: 0 });
  });

  it('runtime uws refuses to start on the JS fallback unless explicitly allowed; auto takes the node runtime instead, with one warning', () => {
    const script = "import { Gateway, optionsFromEnv } from './src/index.ts'; const g = new Gateway({ ...optionsFromEnv(), port: 0 }); await g.listen(); console.log('started on ' + g.health().runtime); await g.close({ drainMs: 0 });";
    const run = (env: Record<string, string>) => spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, UWS_USE_FALLBACK: '1', UPLINK_UWS_BUILD: 'uWebSockets.js', UPLINK_LOG_LEVEL: 'warn', ...env }, encoding: 'utf8', timeout: 30_000,
    });
    const refused = run({ UPLINK_RUNTIME: 'uws' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /fell back to the JS shim.*slow JavaScript shim.*UPLINK_ALLOW_JS_FALLBACK=1/s);
    const allowed = run({ UPLINK_RUNTIME: 'uws', UPLINK_ALLOW_JS_FALLBACK: '1' });
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.match(allowed.stdout, /started on uws/);
    const auto = run({ UPLINK_RUNTIME: 'auto' });
    assert.equal(auto.status, 0, auto.stderr);
    assert.match(auto.stdout, /started on node/);
    const warnings = auto.stdout.split('\n').filter((l) => l.startsWith('{') && JSON.parse(l).level === 40);
    assert.equal(warnings.length, 1, auto.stdout);
    assert.match(warnings[0]!, /no native uWebSockets\.js build loads.*fell back to the JS shim.*running on the node runtime/);
  });
});

describe('configuration from the environment', () => {
  it('reads UPLINK_* variables and keeps defaults for the rest', () => {
    assert.deepEqual(optionsFromEnv({ UPLINK_PORT: '9000', UPLINK_HOST: '0.0.0.0', UPLINK_MAX_INFLIGHT: '8', UPLINK_DEBUG_ERRORS: 'false', UPLINK_LOG_LEVEL: 'warn' }),
      { port: 9000, host: '0.0.0.0', maxInflight: 8, debugErrors: false, logLevel: 'warn' });
    assert.deepEqual(optionsFromEnv({}), {});
  });

  it('rejects malformed values with the variable name', () => {
    assert.throws(() => optionsFromEnv({ UPLINK_PORT: 'eighty' }), /UPLINK_PORT/);
    assert.throws(() => optionsFromEnv({ UPLINK_ALLOW_JS_FALLBACK: 'maybe' }), /UPLINK_ALLOW_JS_FALLBACK/);
  });
});
