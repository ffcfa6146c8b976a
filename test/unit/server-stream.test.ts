/**
 * ServerStream on a fake clock and a fake sink: credit, linger, idle, lifetime and resume, with no
 * socket and no sleeps. Time moves only by clock.tick().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallContext } from '../../src/core/context.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Codec } from '../../src/protocol/codec.js';
import { ServerStream, type StreamLimits } from '../../src/streams/server-stream.js';
import { FakeClock } from '../support/fake-clock.js';
import { FakeSink } from '../support/fake-sink.js';

const codec = new Codec();
const limits: StreamLimits = {
  lifetimeMs: 0, idleMs: 0, lingerMs: 1_000, maxUnacked: 1_000, maxBatch: 64, frameBytes: 16_384, maxFrameBytes: 1 << 20, maxReplayBytes: 1 << 20,
};

interface Probe { pulled: number; finished: boolean }

function* counter(probe: Probe, count = Infinity): Generator<number> {
  try {
    for (let i = 0; i < count; i++) {
      probe.pulled++;
      yield i;
    }
  } finally {
    probe.finished = true;
  }
}

function open(options: { limits?: Partial<StreamLimits>; upTo?: number; count?: number } = {}) {
  const clock = new FakeClock();
  const probe: Probe = { pulled: 0, finished: false };
  const closed: string[] = [];
  const connection = { id: 'c1', remoteAddress: '127.0.0.1', identity: undefined, isOpen: true, track() {} };
  const context = new CallContext(connection, 'cid', undefined, undefined);
  const stream = new ServerStream({
    key: 'k1', owner: undefined, ownerKey: 'anon', object: 'o', member: 'm',
    iterator: counter(probe, options.count), context, encode: (items) => codec.encode(items), limits: { ...limits, ...options.limits }, upTo: options.upTo ?? 5,
    onClosed: (_s, cause) => closed.push(cause), onLingering: () => {}, onError: () => {},
    toErrorBody: () => ({ code: ErrorCode.INTERNAL, name: 'UplinkError', message: 'x' }), clock,
  });
  const sink = new FakeSink(codec);
  stream.attach(sink);
  return { clock, probe, closed, context, stream, sink };
}

/** The items of every frame from sequence number `from` on, duplicates dropped as a client does. */
function itemsFrom(sink: FakeSink, from: number): unknown[] {
  const out: unknown[] = [];
  for (const e of sink.events) {
    if (e.t !== 'items') continue;
    e.items.forEach((item, i) => {
      if (e.seq + i === from + out.length) out.push(item);
    });
  }
  return out;
}

describe('ServerStream (fake clock)', () => {
  it('sends only what was granted, and more after a grant', async () => {
    const { stream, clock, sink, probe } = open({ upTo: 3 });
    await clock.settle();
    assert.deepEqual(sink.received, [0, 1, 2]);
    assert.ok(probe.pulled <= 4, `one item of lookahead at most, pulled ${probe.pulled}`);
    stream.grant(6, 3);
    await clock.settle();
    assert.deepEqual(sink.received, [0, 1, 2, 3, 4, 5]);
  });

  it('ends after the last item and closes at the final ack', async () => {
    const { stream, clock, sink, closed } = open({ upTo: 10, count: 3 });
    await clock.settle();
    assert.deepEqual(sink.last(), { t: 'end', total: 3 });
    assert.deepEqual(closed, [], 'the end waits for the final ack');
    stream.grant(3, 3);
    assert.deepEqual(closed, ['end']);
  });

  it('a detached stream lingers for lingerMs, then cancels and runs the finally block', async () => {
    const { stream, clock, closed, probe, context } = open();
    await clock.settle();
    stream.detach();
    assert.equal(stream.lingering, true);
    await clock.tick(999);
    assert.equal(stream.live, true, 'still waiting for a resume one ms before the window closes');
    await clock.tick(1);
    assert.deepEqual(closed, ['cancel']);
    assert.equal(context.aborted, true);
    assert.equal(probe.finished, true);
  });

  it('a resume within the linger window replays the unacknowledged items and goes on', async () => {
    const { stream, clock, sink } = open({ upTo: 4 });
    await clock.settle();
    stream.detach();
    await clock.tick(500);
    const next = new FakeSink(codec);
    stream.resume(next, 2, 8);
    await clock.settle();
    assert.deepEqual(next.events[0], { t: 'open', key: 'k1' });
    // Replay is per frame (a frame holding acknowledged items too is sent whole; the client drops duplicates by seq).
    assert.deepEqual(itemsFrom(next, 2), [2, 3, 4, 5, 6, 7], 'items 2 and 3 were not acknowledged: replayed, then new ones');
    await clock.tick(10_000);
    assert.equal(stream.live, true, 'the linger timer was stopped by the resume');
    assert.equal(sink.events.some((e) => e.t === 'fail'), false);
  });

  it('idle: no credit for idleMs (checked every idleMs) ends the stream with DEADLINE_EXCEEDED', async () => {
    const { clock, sink, context } = open({ upTo: 2, limits: { idleMs: 1_000 } });
    await clock.settle();
    await clock.tick(1_000); // activity happened during the first period: the check re-arms
    assert.equal(sink.events.some((e) => e.t === 'fail'), false);
    await clock.tick(1_000);
    assert.deepEqual(sink.last(), { t: 'fail', code: ErrorCode.DEADLINE_EXCEEDED, delivered: 2 });
    assert.equal(context.aborted, true);
  });

  it('credit keeps an idle stream alive', async () => {
    const { stream, clock, sink } = open({ upTo: 2, limits: { idleMs: 1_000 } });
    for (let i = 0; i < 5; i++) {
      await clock.tick(600);
      stream.grant(2, 2);
    }
    assert.equal(sink.events.some((e) => e.t === 'fail'), false);
  });

  it('lifetime: the stream ends with DEADLINE_EXCEEDED at lifetimeMs, whatever the credit', async () => {
    const { stream, clock, sink, probe } = open({ upTo: 1_000_000, limits: { lifetimeMs: 5_000 } });
    await clock.settle();
    stream.grant(2_000_000, 0);
    await clock.tick(4_999);
    assert.equal(sink.events.some((e) => e.t === 'fail'), false);
    await clock.tick(1);
    await clock.settle();
    const fail = sink.events.find((e) => e.t === 'fail');
    assert.deepEqual(fail && { ...fail, delivered: 0 }, { t: 'fail', code: ErrorCode.DEADLINE_EXCEEDED, delivered: 0 });
    assert.equal(probe.finished, true);
  });

  it('cancel stops the iterator once and releases the sink', async () => {
    const { stream, clock, sink, closed, probe } = open();
    await clock.settle();
    stream.cancel();
    stream.cancel();
    await clock.settle();
    assert.deepEqual(closed, ['cancel']);
    assert.equal(probe.finished, true);
    assert.deepEqual(sink.last(), { t: 'released' });
  });

  it('a resume takes the stream from the sink it was attached to (STREAM_LOST there), and refuses an ack that does not line up', async () => {
    const { stream, clock, sink } = open({ upTo: 4 });
    await clock.settle();
    stream.grant(4, 2);
    const late = new FakeSink(codec);
    assert.equal(stream.resume(late, 1, 8), false, 'below what was acknowledged');
    assert.equal(stream.resume(late, 5, 8), false, 'beyond what was sent');
    assert.equal(late.events.length, 0, 'a refused resume writes nothing');
    const next = new FakeSink(codec);
    assert.equal(stream.resume(next, 4, 8), true);
    assert.deepEqual(sink.events.slice(-2), [{ t: 'fail', code: ErrorCode.STREAM_LOST, delivered: 4 }, { t: 'released' }]);
    await clock.settle();
    assert.ok(next.received.length > 0, 'items flow on the new sink');
  });
});
