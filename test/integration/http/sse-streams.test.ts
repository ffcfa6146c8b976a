/**
 * Streams over SSE (docs/protocol.md section 13.1) against a real uWS gateway with real JWTs: events and their ids,
 * rich items, typed errors before and after the stream started, TCP backpressure holding the
 * generator back, resume with Last-Event-ID (exactly once), and the hostile cases: caps, aborts,
 * another identity's id, garbage ids, references and callbacks. After each, an honest call works.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { callContext, ErrorCode, expose, remote, UplinkError, type Gateway } from '../../../src/index.js';
import { startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { SseReader } from '../../support/sse-reader.js';
import { expiresSoon, hsToken, SECRET } from '../../support/tokens.js';

const LINGER_MS = 400;
const CAP = 6;

/** A promise the test resolves (Node 20 has no Promise.withResolvers). */
function opening(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the generators did, as the tests read it. */
const seen = { produced: 0, floodFinally: 0, gatedFinally: 0, gate: opening() };

class Box {
  @expose ping(): string {
    return 'pong';
  }
}

class Feeds {
  @expose async *count(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  /** `first` items, then waits for the test's gate, then `rest` more. */
  @expose async *gated(first: number, rest: number): AsyncGenerator<number> {
    try {
      for (let i = 0; i < first; i++) yield i;
      const signal = callContext().signal; // a cancel (linger expiry) ends the wait, so finally runs
      await Promise.race([seen.gate.promise, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
      if (signal.aborted) return;
      for (let i = 0; i < rest; i++) yield first + i;
    } finally {
      seen.gatedFinally++;
    }
  }

  /** Endless items of `size` characters; counts what it produced. */
  @expose async *flood(size: number): AsyncGenerator<string> {
    try {
      for (let i = 0; ; i++) {
        seen.produced = i + 1;
        yield `${i}:${'x'.repeat(size)}`;
      }
    } finally {
      seen.floodFinally++;
    }
  }

  @expose async *rich(): AsyncGenerator<unknown> {
    yield new Date(0);
    yield new Map([['k', 1n]]);
    yield 'plain';
  }

  @expose async *failing(): AsyncGenerator<number> {
    yield 1;
    throw new UplinkError(ErrorCode.FORBIDDEN, 'not today', { retry: false });
  }

  @expose async *bytes(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array([1, 2]);
  }

  @expose async *handles(): AsyncGenerator<unknown> {
    yield remote(new Box(), { expose: ['ping'] });
  }

  @expose async *withCallback(fn: () => Promise<number>): AsyncGenerator<number> {
    yield await fn();
  }

  @expose handle(): unknown {
    return remote(new Box(), { expose: ['ping'] });
  }
}

describe('streams over SSE', () => {
  let gateway: Gateway;
  let port: number;
  let token: string;
  before(async () => {
    let url: string;
    ({ gateway, url } = await startGateway({
      authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
      streamLingerMs: LINGER_MS, maxStreamsPerSubject: CAP,
    }));
    gateway.register(new Feeds(), 'feeds');
    port = Number(new URL(url).port);
    token = await hsToken({}, { sub: 'alice' });
  });
  after(() => gateway.close({ drainMs: 0 }));

  /** POSTs with Accept: text/event-stream; resolves with the status and headers, and a reader for a 200. */
  function sse(path: string, body = '[]', headers: Record<string, string> = {}): Promise<{ status: number; type: string; reader: SseReader; json: () => Promise<{ code: string; message: string }> }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/rpc/${path}`, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'content-type': 'application/json', ...headers } }, (res) => {
        const reader = new SseReader(res, () => req.destroy());
        const json = async () => {
          await reader.until(() => reader.ended, 'the body');
          return JSON.parse(reader.events.length ? '' : bodyText) as { code: string; message: string };
        };
        let bodyText = '';
        if (res.statusCode !== 200) res.on('data', (c: string) => (bodyText += c));
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), reader, json });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const honestCall = async () => {
    const answer = await fetch(`http://127.0.0.1:${port}/rpc/calc/add`, { method: 'POST', body: '[2,3]', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([answer.status, await answer.text()], [200, '5']);
    assert.equal(gateway.stats().streams.live >= 0, true);
  };

  it('answers text/event-stream: open with the key, one item event per item (id key:seq), end with the total', async () => {
    const { status, type, reader } = await sse('feeds/count', '[3]');
    assert.deepEqual([status, type, reader.res.headers['cache-control'], reader.res.headers['x-accel-buffering']], [200, 'text/event-stream', 'no-store', 'no']);
    await reader.until(() => reader.ended, 'the end');
    const key = (JSON.parse(reader.events[0]!.data) as { key: string }).key;
    assert.deepEqual(reader.events, [
      { event: 'open', data: JSON.stringify({ key }) },
      { event: 'item', id: `${key}:0`, data: '0' }, { event: 'item', id: `${key}:1`, data: '1' }, { event: 'item', id: `${key}:2`, data: '2' },
      { event: 'end', data: '{"total":3}' },
    ]);
    await eventually(() => gateway.stats().streams.live === 0, { what: 'the ended stream to close in the host' });
  });

  it('an item\'s data is its payload: JSON, then its meta line when it has one', async () => {
    const { reader } = await sse('feeds/rich');
    await reader.until(() => reader.ended, 'the end');
    assert.deepEqual(reader.items().map((e) => e.data), [
      '"1970-01-01T00:00:00.000Z"\n{"values":["Date"],"v":1}', '[["k","1"]]\n{"values":["map",{"0.1":["bigint"]}],"v":1}', '"plain"',
    ]);
  });

  it('refusals before the stream opened are a call\'s errors (JSON, status); a failing generator ends with an error event', async () => {
    const cases: Array<[Promise<Awaited<ReturnType<typeof sse>>>, number, string]> = [
      [sse('feeds/count', '[1]', { authorization: 'Bearer nope' }), 401, ErrorCode.UNAUTHENTICATED],
      [sse('feeds/nope'), 404, ErrorCode.UNKNOWN_MEMBER],
      [sse('calc/add', '[1,2]'), 400, ErrorCode.BAD_ARGUMENTS],
      [sse('feeds/count', '[1,'), 400, ErrorCode.BAD_FRAME],
    ];
    for (const [answer, status, code] of cases) {
      const { status: got, type, json } = await answer;
      assert.deepEqual([got, type, (await json()).code], [status, 'application/json', code]);
    }
    const { reader } = await sse('feeds/failing');
    await reader.until(() => reader.ended, 'the end');
    assert.deepEqual(reader.events.slice(1).map((e) => [e.event, e.data]), [
      ['item', '1'], ['error', '{"code":"FORBIDDEN","name":"UplinkError","message":"not today","data":{"retry":false}}'],
    ]);
    await honestCall();
  });

  it('binary items, server references and callbacks are WebSocket-only: typed errors, never INTERNAL', async () => {
    for (const member of ['bytes', 'handles']) {
      const { reader } = await sse(`feeds/${member}`);
      await reader.until(() => reader.ended, 'the end');
      const last = reader.events.at(-1)!;
      assert.equal(last.event, 'error');
      assert.equal((JSON.parse(last.data) as { code: string }).code, ErrorCode.TYPE_NOT_ALLOWED, last.data);
    }
    const callback = await sse('feeds/withCallback', '[{"id":"c1"}]\n{"values":{"0":[["custom","cref"]]},"v":1}', { 'content-type': 'application/vnd.uplink.payload' });
    assert.deepEqual([callback.status, (await callback.json()).code], [400, ErrorCode.TYPE_NOT_ALLOWED]);
    const call = await fetch(`http://127.0.0.1:${port}/rpc/feeds/handle`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual([call.status, ((await call.json()) as { code: string }).code], [400, ErrorCode.TYPE_NOT_ALLOWED]);
    await eventually(() => gateway.stats().streams.live === 0, { what: 'the refused streams to close' });
    await honestCall();
  });

  it('a slow reader holds the generator back (TCP backpressure as credit); reading again lets it go on', async () => {
    seen.produced = 0;
    const floodFinally = seen.floodFinally;
    const { reader } = await sse('feeds/flood', '[4000]');
    await reader.until(() => reader.items().length >= 10, 'the first items');
    reader.res.pause();
    let last = -1;
    await eventually(async () => {
      const now = seen.produced;
      const still = now === last;
      last = now;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return still && seen.produced === now;
    }, { timeoutMs: 10_000, everyMs: 0, what: 'the generator to stop producing' });
    const held = seen.produced;
    if (process.env.SSE_DEBUG) console.log('held at', held);
    assert.ok(held < 5_000, `the generator stopped at ${held} items (about ${Math.round(held * 4 / 1024)} MiB: socket buffers and the window)`);
    reader.res.resume();
    await eventually(() => seen.produced > held + 2_000, { timeoutMs: 10_000, what: 'the generator to go on once read' });
    reader.destroy();
    await eventually(() => seen.floodFinally === floodFinally + 1, { timeoutMs: 5_000, what: 'the generator\'s finally after the linger window' });
    await honestCall();
  });

  it('Last-Event-ID resumes within the linger window: every item once, in order', async () => {
    seen.gate = opening();
    const { reader } = await sse('feeds/gated', '[20, 30]');
    await reader.until(() => reader.items().length >= 20, 'the first 20 items');
    const kept = reader.items().slice(0, 12); // what this client got before its connection was cut
    reader.destroy();
    await eventually(() => gateway.stats().streams.lingering === 1, { what: 'the stream to linger' });
    const resumed = await sse('feeds/gated', '[20, 30]', { 'last-event-id': kept.at(-1)!.id! });
    assert.equal(resumed.status, 200);
    await resumed.reader.until(() => resumed.reader.items().length >= 8, 'the replayed items');
    seen.gate.resolve();
    await resumed.reader.until(() => resumed.reader.ended, 'the end');
    const ids = [...kept, ...resumed.reader.items()].map((e) => Number(e.id!.split(':')[1]));
    assert.deepEqual(ids, Array.from({ length: 50 }, (_, i) => i), 'every item once, in order');
    assert.deepEqual([...kept, ...resumed.reader.items()].map((e) => Number(e.data)), ids);
    assert.equal(resumed.reader.events.at(-1)?.data, '{"total":50}');
    const again = await sse('feeds/gated', '[20, 30]', { 'last-event-id': kept.at(-1)!.id! });
    assert.deepEqual([again.status, (await again.json()).code], [410, ErrorCode.STREAM_LOST], 'a finished stream does not resume twice');
  });

  it('a client that aborts mid-stream: the stream lingers, then its generator\'s finally runs', async () => {
    seen.gate = opening();
    const before = seen.gatedFinally;
    const { reader } = await sse('feeds/gated', '[5, 5]');
    await reader.until(() => reader.items().length >= 5, 'the items');
    reader.destroy();
    await eventually(() => gateway.stats().streams.lingering === 1, { what: 'the stream to linger' });
    assert.equal(seen.gatedFinally, before, 'not before the linger window passed');
    await eventually(() => seen.gatedFinally === before + 1, { what: 'the finally block after the linger window' });
    assert.deepEqual(gateway.stats().streams, { live: 0, lingering: 0 });
    seen.gate.resolve();
    await honestCall();
  });

  it('Last-Event-ID from another identity is STREAM_LOST; garbage ids are BAD_FRAME; unknown keys STREAM_LOST', async () => {
    seen.gate = opening();
    const { reader } = await sse('feeds/gated', '[3, 1]');
    await reader.until(() => reader.items().length >= 3, 'the items');
    const lastId = reader.items().at(-1)!.id!;
    reader.destroy();
    const mallory = await hsToken({}, { sub: 'mallory' });
    const stolen = await sse('feeds/gated', '[]', { authorization: `Bearer ${mallory}`, 'last-event-id': lastId });
    assert.deepEqual([stolen.status, (await stolen.json()).code], [410, ErrorCode.STREAM_LOST]);
    for (const garbage of ['x', `${lastId}:1`, `${lastId.split(':')[0]}:-1`, `${lastId.split(':')[0]}:1e9`, 'a'.repeat(5_000), '%00:1', ' :1']) {
      const answer = await sse('feeds/gated', '[]', { 'last-event-id': garbage });
      assert.deepEqual([answer.status, (await answer.json()).code], [400, ErrorCode.BAD_FRAME], garbage);
    }
    const unknown = await sse('feeds/gated', '[]', { 'last-event-id': 'AAAAAAAAAAAAAAAAAAAAAAAA:0' });
    assert.deepEqual([unknown.status, (await unknown.json()).code], [410, ErrorCode.STREAM_LOST]);
    const mine = await sse('feeds/gated', '[]', { 'last-event-id': lastId });
    assert.equal(mine.status, 200, 'the owner still resumes it');
    seen.gate.resolve();
    await mine.reader.until(() => mine.reader.ended, 'the end');
    assert.deepEqual(mine.reader.items().map((e) => e.data), ['3']);
    await honestCall();
  });

  it('a response ends when its token expires (TOKEN_EXPIRED); a fresh token resumes the stream', async () => {
    seen.gate = opening();
    const shortLived = await hsToken({}, { sub: 'alice', exp: expiresSoon() });
    const { reader } = await sse('feeds/gated', '[3, 2]', { authorization: `Bearer ${shortLived}` });
    await reader.until(() => reader.ended, 'the expiry');
    const last = reader.events.at(-1)!;
    assert.deepEqual([last.event, (JSON.parse(last.data) as { code: string }).code], ['error', ErrorCode.TOKEN_EXPIRED]);
    const resumed = await sse('feeds/gated', '[]', { 'last-event-id': reader.items().at(-1)!.id! });
    assert.equal(resumed.status, 200);
    seen.gate.resolve();
    await resumed.reader.until(() => resumed.reader.ended, 'the end');
    assert.deepEqual([...reader.items(), ...resumed.reader.items()].map((e) => e.data), ['0', '1', '2', '3', '4']);
  });

  it('many SSE streams per subject: over the cap is LIMIT_EXCEEDED (400) before anything streams', async () => {
    seen.gate = opening();
    const open = [];
    for (let i = 0; i < CAP; i++) open.push(await sse('feeds/gated', '[1, 0]'));
    for (const { reader } of open) await reader.until(() => reader.items().length === 1, 'the first item');
    const over = await sse('feeds/gated', '[1, 0]');
    assert.deepEqual([over.status, (await over.json()).code], [400, ErrorCode.LIMIT_EXCEEDED]);
    seen.gate.resolve();
    for (const { reader } of open) await reader.until(() => reader.ended, 'the end');
    await eventually(() => gateway.stats().streams.live === 0, { what: 'the streams to close' });
    await honestCall();
  });

  it('a gateway that closes ends its SSE responses (an error event), and the generators\' finally blocks run', async () => {
    const { gateway: other, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }) });
    other.register(new Feeds(), 'feeds');
    const mainPort = port;
    port = Number(new URL(url).port);
    try {
      seen.gate = opening();
      const before = seen.gatedFinally;
      const { reader } = await sse('feeds/gated', '[2, 2]');
      await reader.until(() => reader.items().length === 2, 'the items');
      await other.close({ drainMs: 0 });
      await reader.until(() => reader.ended, 'the response to end');
      const last = reader.events.at(-1)!;
      assert.equal(last.event, 'error');
      // HOST_LOST when the objects live behind NATS (UPLINK_TEST_NATS=1): the link closes with the gateway.
      assert.ok(([ErrorCode.CANCELLED, ErrorCode.HOST_LOST] as string[]).includes((JSON.parse(last.data) as { code: string }).code), last.data);
      await eventually(() => seen.gatedFinally === before + 1, { what: 'the finally block' });
    } finally {
      port = mainPort;
    }
    await honestCall();
  });
});
