/** The client on the HTTP transport (`transport: 'http'` and `'auto'` behind a proxy that refuses upgrades), against a real gateway. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { connect } from '../../../src/client/index.js';
import { ErrorCode, UplinkError, type Gateway } from '../../../src/index.js';
import { Echo } from '../../support/fixtures.js';
import { startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { noUpgradeProxy, type NoUpgradeProxy } from '../../support/no-upgrade-proxy.js';
import { hsToken, SECRET } from '../../support/tokens.js';

type Calc = { add(a: number, b: number): number; divide(a: number, b: number): number };
type EchoApi = { echo<T>(value: T): T; fail(message: string): never; slow(ms: number): string };

describe('the client over HTTP', () => {
  let gateway: Gateway;
  let url: string;
  let proxy: NoUpgradeProxy;
  before(async () => {
    ({ gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }) }));
    proxy = await noUpgradeProxy(url);
  });
  after(async () => {
    await proxy.close();
    await gateway.close({ drainMs: 0 });
  });

  it("transport 'http': calls, rich values, typed errors, the session says http", async () => {
    const c = await connect(url, { transport: 'http', token: await hsToken({}, { sub: 'carol' }), reconnect: false });
    assert.equal(c.session.transport, 'http');
    assert.equal(c.session.limits.maxRefs, 0, 'references need a WebSocket');
    assert.equal(await c.proxy<Calc>('calc').add(2, 40), 42);
    const at = new Date('2026-12-02T10:00:00.000Z');
    const back = await c.proxy<EchoApi>('echo').echo({ at, big: 10n ** 20n, tags: new Set(['a']) });
    assert.deepEqual(back, { at, big: 10n ** 20n, tags: new Set(['a']) });
    const error = await c.proxy<EchoApi>('echo').fail('nope').catch((e: unknown) => e);
    assert.ok(error instanceof UplinkError);
    assert.equal(error.message, 'nope');
    const unknown = await c.proxy<Calc>('nothing').add(1, 1).catch((e: UplinkError) => e.code);
    assert.equal(unknown, ErrorCode.UNKNOWN_OBJECT);
    await c.close();
  });

  it('a batch is one POST /rpc/: outcomes in order, rich values, errors, stop leaves the rest unrun', async () => {
    const c = await connect(url, { transport: 'http', token: await hsToken({}, { sub: 'carol' }), reconnect: false });
    const at = new Date('2026-12-02T00:00:00.000Z');
    const all = await c.batch([{ object: 'calc', method: 'add', args: [1, 2] }, { object: 'echo', method: 'echo', args: [at] }, { object: 'echo', method: 'fail', args: ['x'] }]);
    assert.deepEqual(all.map((r) => (r.ok ? r.value : 'error' in r ? r.error.message : 'not run')), [3, at, 'x']);
    const stopped = await c.batch([{ object: 'echo', method: 'fail', args: ['first'] }, { object: 'calc', method: 'add', args: [1, 1] }], { stopOnError: true });
    assert.deepEqual(stopped.map((r) => (r.ok ? r.value : 'error' in r ? r.error.message : 'not run')), ['first', 'not run']);
    await c.close();
  });

  it('streams arrive over SSE, every item once and in order; breaking out of the loop cancels the stream', async () => {
    const c = await connect(url, { transport: 'http', token: await hsToken({}, { sub: 'carol' }), reconnect: false });
    const items: number[] = [];
    for await (const n of c.stream<number>('numbers', 'range', [2_000])) items.push(n);
    assert.deepEqual(items, Array.from({ length: 2_000 }, (_, i) => i));
    let taken = 0;
    for await (const tick of c.stream<{ symbol: string; at: Date }>('ticker', 'watch', ['ACME', 5])) {
      assert.ok(tick.at instanceof Date, 'rich items keep their types');
      if (++taken === 3) break;
    }
    assert.equal(taken, 3);
    // A cancel is said (DELETE with Last-Event-ID), not left to the linger window.
    await eventually(() => gateway.stats().streams.live === 0, { what: 'the generator closed on the gateway' });
    await c.close();
  });

  it('a refused token fails the connect with the typed error, as over WebSocket', async () => {
    await assert.rejects(connect(url, { transport: 'http', token: 'not-a-token', reconnect: false }), (e: UplinkError) => e.code === ErrorCode.UNAUTHENTICATED);
  });

  it('per-call deadlines reach the gateway; cancelling aborts the request and the method', async () => {
    const c = await connect(url, { transport: 'http', token: await hsToken({}, { sub: 'carol' }), reconnect: false });
    const late = await c.call('echo', 'slow', [5_000], { timeoutMs: 100 }).catch((e: UplinkError) => e.code);
    assert.equal(late, ErrorCode.DEADLINE_EXCEEDED);
    const controller = new AbortController();
    const pending = c.call('echo', 'slow', [10_000], { signal: controller.signal }).catch((e: UplinkError) => e.code);
    await eventually(() => Echo.slowRunning > 0, { what: 'the call reaching the method' });
    controller.abort();
    assert.equal(await pending, ErrorCode.CANCELLED);
    await eventually(() => Echo.slowRunning === 0, { what: 'the method ending on its signal' });
    await c.close();
  });

  it("transport 'auto' behind a proxy that refuses upgrades falls back to HTTP; calls work", async () => {
    const refusedBefore = proxy.upgradesRefused;
    const c = await connect(proxy.url, { transport: 'auto', token: await hsToken({}, { sub: 'dave' }), reconnect: false });
    assert.equal(proxy.upgradesRefused, refusedBefore + 1, 'the WebSocket was tried first');
    assert.equal(c.session.transport, 'http');
    assert.equal(await c.proxy<Calc>('calc').add(1, 2), 3);
    await c.close();
    const direct = await connect(url, { transport: 'auto', token: await hsToken({}, { sub: 'dave' }), reconnect: false });
    assert.equal(direct.session.transport, 'websocket', 'where upgrades work, auto keeps the WebSocket');
    await direct.close();
  });
});
