/** RemoteStream with a fake transport: credit, acknowledgement, duplicates from a replay, gaps, cancel. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, type UplinkError } from '../../src/protocol/errors.js';
import { RemoteStream, type StreamTransport } from '../../src/client/remote-stream.js';
import { BYTE_BUDGET, StreamWindow } from '../../src/client/stream-window.js';

function transport() {
  const log: string[] = [];
  const t: StreamTransport = {
    sendCredit: (id, upTo, ack) => void log.push(`credit ${id} ${upTo} ${ack}`),
    sendCancel: (id) => void log.push(`cancel ${id}`),
    forget: (id) => void log.push(`forget ${id}`),
  };
  return { t, log };
}

async function take<T>(stream: RemoteStream<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push((await stream.next()).value as T);
  return out;
}

describe('RemoteStream', () => {
  it('grants a new window once half of it is consumed, acknowledging what arrived', async () => {
    const { t, log } = transport();
    const stream = new RemoteStream<number>(t, 1, 4, undefined);
    stream.items(0, [0, 1, 2, 3]);
    assert.deepEqual(await take(stream, 1), [0]);
    assert.deepEqual(log, []);
    assert.deepEqual(await take(stream, 1), [1]);
    assert.deepEqual(log, ['credit 1 6 4'], 'two consumed of a window of four: credit up to 6, ack all 4 received');
  });

  it('drops the duplicates a replay repeats and fails with STREAM_LOST on a gap', async () => {
    const { t } = transport();
    const stream = new RemoteStream<number>(t, 1, 100, undefined);
    stream.items(0, [0, 1, 2]);
    stream.items(1, [1, 2, 3]);
    assert.deepEqual(await take(stream, 4), [0, 1, 2, 3]);
    stream.items(6, [6]);
    await assert.rejects(stream.next(), (e: UplinkError) => e.code === ErrorCode.STREAM_LOST);
  });

  it('delivers what arrived before an error, then throws it', async () => {
    const { t } = transport();
    const stream = new RemoteStream<number>(t, 1, 100, undefined);
    stream.items(0, [0, 1]);
    stream.fail(new Error('boom'));
    assert.deepEqual(await take(stream, 2), [0, 1]);
    await assert.rejects(stream.next(), /boom/);
  });

  it('an end that does not match the items received is STREAM_LOST; a matching one sends the final ack', async () => {
    const { t, log } = transport();
    const ok = new RemoteStream<number>(t, 1, 100, undefined);
    ok.items(0, [0]);
    ok.end(1);
    assert.deepEqual(await take(ok, 1), [0]);
    assert.equal((await ok.next()).done, true);
    assert.ok(log.includes('credit 1 1 1'));
    const short = new RemoteStream<number>(t, 2, 100, undefined);
    short.end(3);
    await assert.rejects(short.next(), (e: UplinkError) => e.code === ErrorCode.STREAM_LOST);
  });

  it('return() and an abort signal cancel once', async () => {
    const { t, log } = transport();
    const controller = new AbortController();
    const stream = new RemoteStream<number>(t, 3, 100, controller.signal);
    controller.abort();
    await stream.return();
    assert.deepEqual(log.filter((l) => l.startsWith('cancel')), ['cancel 3']);
    assert.equal((await stream.next()).done, true);
  });
});

/** The consumer takes everything that arrived; the next take would wait (its promise is left pending). */
async function drain<T>(stream: RemoteStream<T>, n: number): Promise<void> {
  await take(stream, n);
  void stream.next(); // finds the queue empty: where the window decides whether to grow
  await Promise.resolve();
}

describe('adaptive stream window', () => {
  it('doubles when the consumer runs dry exactly where its credit ended (the producer waited on the round trip)', async () => {
    const { t, log } = transport();
    const stream = new RemoteStream<number>(t, 1, 4, undefined, 64);
    stream.items(0, [0, 1, 2, 3]); // all the credit of the first window
    await drain(stream, 4);
    assert.equal(stream.windowSize, 8);
    assert.deepEqual(log, ['credit 1 6 4', 'credit 1 8 4', 'credit 1 12 4'], 'the usual half-window grants, then one of the doubled window');
  });

  it('stays as it is when the producer stopped short of its credit (a slow generator, not the round trip)', async () => {
    const { t, log } = transport();
    const stream = new RemoteStream<number>(t, 1, 4, undefined, 64);
    stream.items(0, [0, 1, 2]);
    await drain(stream, 3);
    assert.equal(stream.windowSize, 4);
    assert.deepEqual(log, ['credit 1 6 3']);
  });

  it('never grows a window set for the stream, nor past its maximum', async () => {
    const fixed = new RemoteStream<number>(transport().t, 1, 4, undefined);
    fixed.items(0, [0, 1, 2, 3]);
    await drain(fixed, 4);
    assert.equal(fixed.windowSize, 4);
    const capped = new StreamWindow(4, 16);
    assert.deepEqual([capped.grow(), capped.grow(), capped.grow()], [true, true, false]);
    assert.equal(capped.size, 16);
  });

  it('stays within the byte budget at the average item size seen', () => {
    const window = new StreamWindow(16, 1 << 20);
    window.received(10, 10 * 64 * 1024); // 64 KiB items
    while (window.grow());
    assert.equal(window.size, BYTE_BUDGET / (64 * 1024));
    const small = new StreamWindow(256, 8192);
    small.received(100, 800);
    while (small.grow());
    assert.equal(small.size, 8192);
  });
});
