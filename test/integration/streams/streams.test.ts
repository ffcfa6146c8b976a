/** Streaming over real gateways: order, coalescing, flow control, cancellation, limits, cut sockets, reconnect and resume. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { eventually, steady } from '../../support/eventually.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { callContext, ConnectionClosedError, ErrorCode, expose, stream, type Gateway, type GatewayOptions } from '../../../src/index.js';
import { Echo, TestError } from '../../support/fixtures.js';
import { client, RawSocket, rejection, sleep, startGateway, TcpRelay } from '../../support/gateway.js';

/** Counts live generators and how far each got, so tests can see the server side. */
class Probe {
  static live = 0;
  static finallies = 0;
  static produced = 0;

  @expose async *count(n: number, delayMs = 0): AsyncGenerator<number> {
    Probe.live++;
    try {
      for (let i = 0; i < n; i++) {
        Probe.produced++;
        if (delayMs > 0) await sleep(delayMs);
        yield i;
      }
    } finally {
      Probe.live--;
      Probe.finallies++;
    }
  }

  @expose async *blobs(size: number): AsyncGenerator<string> {
    Probe.live++;
    try {
      for (;;) {
        Probe.produced++;
        yield 'x'.repeat(size);
      }
    } finally {
      Probe.live--;
      Probe.finallies++;
    }
  }

  /** Waits for an abort: finally must run promptly on cancel even while the generator is suspended in an await. */
  /** The call context as the generator sees it after every yield (and after real awaits). */
  @expose async *contexts(n: number): AsyncGenerator<string> {
    for (let i = 0; i < n; i++) {
      if (i % 3 === 0) await nextTurn(); // a real await (another macrotask): the context must survive it
      yield callContext().correlationId;
    }
  }

  @expose async *waitForever(): AsyncGenerator<number> {
    Probe.live++;
    try {
      yield 0;
      const signal = callContext().signal;
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
    } finally {
      Probe.live--;
      Probe.finallies++;
    }
  }

  /** Releases the second half of a gated stream. */
  static release: () => void = () => {};
  /** The gated generator has returned (its last item and the end are with the gateway). */
  static gatedEnded = false;

  /** Five items, then waits for Probe.release(), then five more and the end. */
  @expose async *gated(): AsyncGenerator<number> {
    Probe.gatedEnded = false;
    for (let i = 0; i < 5; i++) yield i;
    await new Promise<void>((resolve) => (Probe.release = resolve));
    for (let i = 5; i < 10; i++) yield i;
    Probe.gatedEnded = true;
  }

  @expose async *failAfter(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
    throw new TestError('stream broke', { hint: 'after n items' });
  }

  @expose *syncNumbers(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i * 2;
  }

  @stream async readable(): Promise<ReadableStream<string>> {
    return new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
  }

  @expose notAStream(): number {
    return 1;
  }
}

/** A gateway serving the probe, behind a TCP relay that a test can cut; stop() closes both. */
async function probeGateway(options: GatewayOptions = {}) {
  const { gateway, url } = await startGateway(options);
  gateway.register(new Probe(), 'probe');
  const relay = await TcpRelay.start(gateway.port);
  return { gateway, url, relay, stop: async () => { await relay.close(); await gateway.close({ drainMs: 0 }); } };
}

const reset = () => { Probe.produced = 0; Probe.finallies = 0; };

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

type ProbeApi = {
  count(n: number, delayMs?: number): AsyncGenerator<number>;
  blobs(size: number): AsyncGenerator<string>;
  waitForever(): AsyncGenerator<number>;
  failAfter(n: number): AsyncGenerator<number>;
  gated(): AsyncGenerator<number>;
  syncNumbers(n: number): Generator<number>;
  readable(): Promise<ReadableStream<string>>;
  notAStream(): number;
};

let gateway: Gateway;
let url: string;
before(async () => {
  ({ gateway, url } = await startGateway({ streamLingerMs: 0, maxStreams: 16 }));
  gateway.register(new Probe(), 'probe');
});
after(() => gateway.close({ drainMs: 0 }));

describe('streams', () => {
  it('delivers 100,000 items complete and in order, coalesced into far fewer frames', async () => {
    const c = await client(url, { streamWindow: 4_096 });
    let expected = 0;
    for await (const n of c.proxy<ProbeApi>('probe').count(100_000)) {
      assert.equal(n, expected);
      expected++;
    }
    assert.equal(expected, 100_000);
    await c.close();

    const raw = await RawSocket.open(url);
    raw.send('{"t":"stream","id":1,"o":"probe","m":"count","upTo":1000}\n[1000]');
    const frames = [];
    for (;;) {
      const f = await raw.next();
      frames.push(f);
      if (f.header.t === 'end') break;
    }
    assert.equal(frames[0]!.header.t, 'stream-open');
    assert.match(String(frames[0]!.header.key), /^[A-Za-z0-9_-]{24}$/);
    const itemFrames = frames.filter((f) => f.header.t === 'items');
    assert.equal(itemFrames.reduce((n, f) => n + (JSON.parse(f.body) as number[]).length, 0), 1000);
    assert.ok(itemFrames.length < 20, `${itemFrames.length} frames for 1000 items`);
    assert.deepEqual(frames.at(-1)!.header, { t: 'end', id: 1, seq: 1000 });
    raw.close();
  });

  it('refuses a stream request to a plain method before the method runs (no side effect)', async () => {
    const c = await client(url);
    const counter = c.proxy<{ increment(): Promise<number> }>('counter');
    assert.equal(await c.get('counter', 'count'), 0);
    const error = await rejection(collect(c.stream('counter', 'increment', [])));
    assert.equal(error.code, ErrorCode.BAD_ARGUMENTS);
    assert.match(error.message, /not a stream method/);
    assert.equal(await c.get('counter', 'count'), 0, 'increment did not run');
    assert.equal(await counter.increment(), 1);
    await c.close();
  });

  it('streams sync generators, @stream methods returning a ReadableStream, and refuses non-iterables', async () => {
    const c = await client(url);
    const probe = c.proxy<ProbeApi>('probe');
    assert.deepEqual(await collect(probe.syncNumbers(4)), [0, 2, 4, 6]);
    assert.deepEqual(await collect(c.stream('probe', 'readable', [])), ['a', 'b']);
    assert.equal((await rejection(collect(c.stream('probe', 'notAStream', [])))).code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await rejection(c.call('probe', 'count', [3]))).code, ErrorCode.BAD_ARGUMENTS);
    await c.close();
  });

  it('a generator sees its own call context after every yield, also across credit waits and other streams', async () => {
    const c = await client(url);
    const read = async (cid: string) => {
      const seen: string[] = [];
      for await (const x of c.stream<string>('probe', 'contexts', [40], { window: 4, correlationId: cid })) seen.push(x);
      return seen;
    };
    const [a, b] = await Promise.all([read('stream-a'), read('stream-b')]);
    assert.deepEqual(a, Array(40).fill('stream-a'));
    assert.deepEqual(b, Array(40).fill('stream-b'));
    await c.close();
  });

  it('multiplexes streams and ordinary calls on one connection', async () => {
    const c = await client(url);
    const probe = c.proxy<ProbeApi>('probe');
    const [a, b, sums] = await Promise.all([
      collect(probe.count(2_000)),
      collect(probe.count(300, 1)),
      Promise.all(Array.from({ length: 50 }, (_, i) => c.proxy<{ add(a: number, b: number): number }>('calc').add(i, 1))),
    ]);
    assert.equal(a.length, 2_000);
    assert.deepEqual(b, Array.from({ length: 300 }, (_, i) => i));
    assert.deepEqual(sums, Array.from({ length: 50 }, (_, i) => i + 1));
    await c.close();
  });

  it('ends with a typed error mid-stream; items already delivered stay delivered', async () => {
    const c = await client(url);
    const got: number[] = [];
    const error = await rejection((async () => { for await (const n of c.proxy<ProbeApi>('probe').failAfter(5)) got.push(n); })());
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.ok(error instanceof TestError);
    assert.equal(error.message, 'stream broke');
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(1, 1), 2);
    await c.close();
  });
});

describe('flow control', () => {
  it('a slow consumer holds the producer to the credit window: server memory stays bounded', async () => {
    reset();
    const c = await client(url, { streamWindow: 32 });
    const heapBefore = process.memoryUsage().heapUsed;
    let consumed = 0;
    for await (const blob of c.proxy<ProbeApi>('probe').blobs(16 * 1024)) {
      assert.equal(blob.length, 16 * 1024);
      consumed++;
      assert.ok(Probe.produced <= consumed + 32 + 1, `produced ${Probe.produced} with ${consumed} consumed`);
      await nextTurn(); // the consumer yields the event loop after each item: the producer may run ahead if credit lets it
      if (consumed === 300) break;
    }
    await eventually(() => Probe.finallies === 1);
    assert.ok(Probe.produced <= 300 + 32 + 1);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024, 'heap grew by less than 32 MiB');
    await c.close();
  });

  it('a client that stops reading the socket pauses the generator at the high-water mark instead of buffering', async () => {
    reset();
    const relay = await TcpRelay.start(gateway.port);
    const c = await client(relay.url, { streamWindow: 100_000 });
    const iterator = c.stream<string>('probe', 'blobs', [32 * 1024]);
    await iterator.next();
    relay.freezeInbound();
    const plateau = await steady(() => Probe.produced, { what: 'the generator to stop at the high-water mark' });
    await sleep(300); // proves nothing more is pulled for a while: absence cannot be polled
    assert.equal(Probe.produced, plateau, 'the generator stopped being pulled');
    // 256 KiB high-water mark + socket buffers: far below the 100,000-item credit.
    assert.ok(plateau * 32 * 1024 < 64 * 1024 * 1024, `${plateau} items of 32 KiB produced`);
    assert.equal(gateway.connectionCount > 0, true, 'paused, not disconnected');
    relay.cut();
    await eventually(() => Probe.finallies === 1);
    await relay.close();
  });
});

describe('cancellation', () => {
  it('cancels before the first item, mid-stream, and by AbortSignal; finally blocks run', async () => {
    const c = await client(url);
    const probe = c.proxy<ProbeApi>('probe');

    reset();
    const early = c.stream('probe', 'count', [1_000_000, 5]);
    await early.return();
    // Whether or not the generator had started, the gateway lets the stream go and pulls nothing more.
    // A round trip on the same socket: the gateway has read the stream frame and its cancel (frames are read in order).
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(1, 1), 2);
    await eventually(() => gateway.stats().streams.live === 0);
    const produced = Probe.produced;
    assert.ok(produced <= 6, `${produced} items pulled for a stream cancelled before its first item`);
    await sleep(50); // proves nothing is pulled after the cancel: absence cannot be polled
    assert.equal(Probe.produced, produced, 'nothing is pulled after the cancel');
    await eventually(() => Probe.live === 0); // a generator that had started ran its finally block

    reset();
    for await (const n of probe.count(1_000_000)) if (n === 10) break;
    await eventually(() => Probe.finallies === 1);

    reset();
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const n of probe.$stream('waitForever', [], { signal: controller.signal }) as AsyncIterable<number>) {
      seen.push(n);
      controller.abort();
    }
    assert.deepEqual(seen, [0]);
    await eventually(() => Probe.finallies === 1, { timeoutMs: 1_000 }); // prompt: the generator was suspended in an await
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(2, 2), 4);
    await c.close();
  });

  it('cancels a stream before its first item: the generator never outlives the cancel', async () => {
    const c = await client(url);
    const live = Probe.live;
    const controller = new AbortController();
    const stream = c.stream('probe', 'count', [10, 1_000], { signal: controller.signal });
    controller.abort();
    assert.deepEqual(await collect(stream), []);
    // A round trip on the same socket: the gateway has read the stream frame and its cancel.
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(1, 1), 2);
    await eventually(() => Probe.live === live);
    await c.close();
  });
});

describe('limits', () => {
  it('refuses streams beyond maxStreams with LIMIT_EXCEEDED, and the others go on', async () => {
    const c = await client(url);
    const live = Probe.live;
    const open = Array.from({ length: 16 }, () => c.stream('probe', 'waitForever', []));
    for (const s of open) await s.next();
    const extra = c.stream('probe', 'count', [1]);
    assert.equal((await rejection(extra.next())).code, ErrorCode.LIMIT_EXCEEDED);
    for (const s of open) await s.return();
    await eventually(() => Probe.live === live);
    await c.close();
  });

  it('ends a stream past its lifetime or idle limit with DEADLINE_EXCEEDED and closes the generator', async () => {
    const { url: u, stop } = await probeGateway({ streamLifetimeMs: 200, streamIdleMs: 0 });
    const c = await client(u);
    reset();
    const got: number[] = [];
    const error = await rejection((async () => { for await (const n of c.stream<number>('probe', 'count', [1_000_000, 10])) got.push(n); })());
    assert.equal(error.code, ErrorCode.DEADLINE_EXCEEDED);
    assert.ok(got.length > 0 && got.length < 1_000);
    await eventually(() => Probe.finallies === 1);
    await c.close();
    await stop();

    const { url: u2, stop: stop2 } = await probeGateway({ streamIdleMs: 150 });
    const c2 = await client(u2);
    const idle = c2.stream('probe', 'waitForever', []);
    assert.deepEqual(await idle.next(), { value: 0, done: false });
    assert.equal((await rejection(idle.next())).code, ErrorCode.DEADLINE_EXCEEDED);
    await c2.close();
    await stop2();
  });

  it('ends a stream whose consumer stopped granting credit at the idle limit, at once, with the count delivered', async () => {
    const { url: u, stop } = await probeGateway({ streamIdleMs: 150 });
    const raw = await RawSocket.open(u);
    raw.send('{"t":"stream","id":1,"o":"probe","m":"count","upTo":2}\n[3,0]'); // item 2 is pulled ahead and waits for credit that never comes
    const frames = [await raw.next(), await raw.next(), await raw.next(1_000)];
    assert.deepEqual(frames.map((f) => f.header.t), ['stream-open', 'items', 'error']);
    assert.equal(frames[1]!.body, '[0,1]');
    assert.deepEqual([frames[2]!.header.code, frames[2]!.header.seq], [ErrorCode.DEADLINE_EXCEEDED, 2]);
    raw.close();
    await stop();
  });
});

describe('dropped connections', () => {
  it('resumes after the socket is cut mid-stream: every item exactly once, in order', async () => {
    const { relay, stop } = await probeGateway({ streamLingerMs: 5_000 });
    const states: string[] = [];
    const c = await client(relay.url, { reconnect: { initialDelayMs: 20 }, streamWindow: 64, onStateChange: (s) => states.push(s) });
    const got: number[] = [];
    let cuts = 0;
    for await (const n of c.proxy<ProbeApi>('probe').count(3_000, 0)) {
      got.push(n);
      if (n % 1_000 === 500) {
        relay.cut();
        cuts++;
      }
    }
    assert.equal(cuts, 3);
    assert.deepEqual(got, Array.from({ length: 3_000 }, (_, i) => i));
    assert.deepEqual(states.slice(0, 3), ['open', 'reconnecting', 'open']);
    await c.close();
    await stop();
  });

  it('delivers the end of a stream even when the socket dropped it: the gateway keeps a stream until its final ack', async () => {
    const { gateway: g, relay, stop } = await probeGateway({ streamLingerMs: 5_000 });
    const c = await client(relay.url, { reconnect: { initialDelayMs: 20 } });
    const stream = c.stream<number>('probe', 'gated', []);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await stream.next()).value);
    relay.freeze();
    Probe.release(); // the last five items and the end go into a dead path
    await eventually(() => Probe.gatedEnded, { what: 'the generator to end' });
    assert.equal(g.stats().streams.live, 1, 'the ended stream waits for its final ack');
    relay.unfreeze();
    relay.cut();
    for await (const n of stream) got.push(n);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => i));
    await eventually(() => g.stats().streams.live === 0, { timeoutMs: 2_000 });
    await c.close();
    await stop();
  });

  it('asks again for an idempotent stream whose request was lost with the socket; a plain one fails', async () => {
    const { relay, stop } = await probeGateway({ streamLingerMs: 5_000 });
    const c = await client(relay.url, { reconnect: { initialDelayMs: 20 } });
    relay.freeze();
    const idempotent = collect(c.proxy<ProbeApi>('probe').$with({ idempotent: true }).count(5));
    const plain = rejection(collect(c.proxy<ProbeApi>('probe').count(5)));
    await steady(() => relay.dropped, { ready: (n) => n > 0, everyMs: 20, what: 'both requests lost in the dead path' });
    relay.unfreeze();
    relay.cut();
    assert.deepEqual(await idempotent, [0, 1, 2, 3, 4]);
    assert.ok((await plain) instanceof ConnectionClosedError);
    await c.close();
    await stop();
  });

  it('closes a lingering generator when the linger window passes without a resume', async () => {
    const { gateway: g, relay, stop } = await probeGateway({ streamLingerMs: 300 });
    const c = await client(relay.url);
    reset();
    const stream = c.stream('probe', 'waitForever', []);
    await stream.next();
    relay.cut();
    await eventually(() => g.stats().streams.lingering === 1, { timeoutMs: 250, what: 'the stream to linger' });
    assert.equal(Probe.finallies, 0, 'still lingering');
    await eventually(() => Probe.finallies === 1, { timeoutMs: 2_000 });
    assert.ok((await rejection(stream.next())) instanceof ConnectionClosedError);
    await stop();
  });

  it('closes 1,000 streams on 100 connections cut abruptly, leaving 0 live generators', async () => {
    const { gateway: g, relay, stop } = await probeGateway({ streamLingerMs: 0 });
    const live = Probe.live;
    const clients = await Promise.all(Array.from({ length: 100 }, () => client(relay.url)));
    const streams = clients.flatMap((c) => Array.from({ length: 10 }, () => c.stream('probe', 'waitForever', [])));
    await Promise.all(streams.map((s) => s.next()));
    assert.equal(Probe.live - live, 1_000);
    relay.cut();
    await eventually(() => Probe.live === live, { timeoutMs: 5_000 });
    assert.equal(g.stats().streams.live, 0);
    await stop();
  });

  it('fails calls in flight with CONNECTION_CLOSED, retries idempotent ones, and queues calls made while reconnecting', async () => {
    const { relay, stop } = await probeGateway();
    const states: string[] = [];
    const c = await client(relay.url, { reconnect: { initialDelayMs: 50 }, timeoutMs: 5_000, onStateChange: (s) => states.push(s) });
    const echo = c.proxy<{ slow(ms: number): string }>('echo');
    const running = Echo.slowRunning;
    const lost = echo.slow(300);
    const retried = echo.$call('slow', [300], { idempotent: true });
    await eventually(() => Echo.slowRunning === running + 2, { what: 'both calls running on the gateway' });
    relay.cut();
    await eventually(() => states.includes('reconnecting'));
    const queued = echo.slow(1);
    assert.equal((await rejection(lost)).code, ErrorCode.CONNECTION_CLOSED);
    assert.equal(await retried, 'slept 300 ms');
    assert.equal(await queued, 'slept 1 ms');
    await c.close();

    const failStates: string[] = [];
    const failFast = await client(relay.url, { reconnect: { initialDelayMs: 200, queueSize: 0 }, onStateChange: (s) => failStates.push(s) });
    relay.cut();
    await eventually(() => failStates.includes('reconnecting'));
    assert.equal((await rejection(failFast.proxy<{ slow(ms: number): string }>('echo').slow(1))).code, ErrorCode.CONNECTION_CLOSED);
    await failFast.close();
    await stop();
  });
});

describe('resume security', () => {
  const SECRET = 'stream-test-secret-long-enough-0123456789';
  const authProbeGateway = () => probeGateway({ authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }), streamLingerMs: 5_000 });
  const token = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));

  it('re-authenticates with a fresh token on reconnect', async () => {
    const { relay, stop } = await authProbeGateway();
    let tokens = 0;
    const c = await client(relay.url, { token: () => (tokens++, token('alice')), reconnect: { initialDelayMs: 20 } });
    const stream = c.stream<number>('probe', 'count', [100, 5]);
    assert.equal((await stream.next()).value, 0);
    relay.cut();
    const rest = await collect(stream);
    assert.deepEqual(rest, Array.from({ length: 99 }, (_, i) => i + 1));
    assert.equal(tokens, 2);
    await c.close();
    await stop();
  });

  it('refuses to resume another subject\'s stream, or a guessed key, with STREAM_LOST', async () => {
    const { url: u, stop } = await authProbeGateway();
    const hello = async (sub: string) => {
      const raw = await RawSocket.open(u, false);
      raw.send(JSON.stringify({ t: 'hello', v: [1], token: await token(sub) }));
      assert.equal((await raw.next()).header.t, 'welcome');
      return raw;
    };
    const alice = await hello('alice');
    alice.send('{"t":"stream","id":1,"o":"probe","m":"waitForever","upTo":10}\n[]');
    const key = String((await alice.next()).header.key);
    alice.ws.terminate();
    const bob = await hello('bob');
    bob.send(JSON.stringify({ t: 'resume', id: 7, key, ack: 0, upTo: 10 }));
    const refused = await bob.next();
    assert.equal(refused.header.code, ErrorCode.STREAM_LOST);
    bob.send(JSON.stringify({ t: 'resume', id: 8, key: 'AAAAAAAAAAAAAAAAAAAAAAAA', ack: 0, upTo: 10 }));
    assert.equal((await bob.next()).header.code, ErrorCode.STREAM_LOST);
    const alice2 = await hello('alice');
    alice2.send(JSON.stringify({ t: 'resume', id: 3, key, ack: 0, upTo: 10 }));
    assert.deepEqual((await alice2.next()).header, { t: 'stream-open', id: 3, key });
    const replay = await alice2.next();
    assert.deepEqual(replay.header, { t: 'items', id: 3, seq: 0 });
    assert.equal(replay.body, '[0]');
    alice2.send('{"t":"cancel","id":3}');
    bob.close();
    alice2.close();
    await stop();
  });
});

