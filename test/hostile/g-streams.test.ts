/** Catalogue G (docs/security.md): streams, deadlines, cancellation and runtime faults in user code. */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/index.js';
import { client, RawSocket, rejection, sleep } from '../support/gateway.js';
import { useArena } from './arena.js';
import { frame, rawWebSocket } from './raw-websocket.js';
import { eventually } from '../support/eventually.js';

const openStream = (raw: RawSocket, id: number, n: number, upTo: number) =>
  raw.send(`${JSON.stringify({ t: 'stream', id, o: 'probe', m: 'count', upTo })}\n[${n}]`);

/** Items of one stream read from a RawSocket until `count` arrived (or the stream ended). */
async function readItems(raw: RawSocket, id: number, count: number): Promise<number[]> {
  const items: number[] = [];
  while (items.length < count) {
    const f = await raw.next();
    if (f.header.id !== id) continue;
    if (f.header.t === 'items') items.push(...(JSON.parse(f.body) as number[]));
    else if (f.header.t !== 'stream-open') break;
  }
  return items;
}

describe('G. streams and faults', () => {
  const arena = useArena({ maxStreams: 8, streamLifetimeMs: 500, streamLingerMs: 0 });

  /** Tracks unhandled rejections and uncaught exceptions while a test runs. */
  function watchProcess(): { faults: unknown[]; stop(): void } {
    const faults: unknown[] = [];
    const onFault = (e: unknown) => faults.push(e);
    process.on('unhandledRejection', onFault);
    process.on('uncaughtException', onFault);
    return { faults, stop: () => { process.off('unhandledRejection', onFault); process.off('uncaughtException', onFault); } };
  }

  it('#93 thousands of streams that are never read: past maxStreams LIMIT_EXCEEDED, and the open ones stay bounded', async () => {
    const raw = await RawSocket.open(arena.url);
    try {
      for (let id = 1; id <= 200; id++) openStream(raw, id, 1_000_000, 1);
      await eventually(() => raw.frames.filter((f) => f.header.code === ErrorCode.LIMIT_EXCEEDED).length === 192, { timeoutMs: 3_000, what: '192 refusals' });
      // Behind NATS the gateway refuses at once while the host may still be starting the 8 it took.
      await eventually(() => arena.probe.live === 8, { timeoutMs: 2_000, what: 'the 8 admitted streams to start' });
      assert.equal(arena.probe.live, 8);
      assert.ok(arena.probe.pulled <= 8 * 2, `${arena.probe.pulled} items pulled`);
    } finally {
      raw.close(); // also when an assertion failed: the streams must not outlive this test
    }
    await eventually(() => arena.probe.live === 0, { timeoutMs: 2_000, what: 'the streams to close with the connection' });
  });

  it('#94 a never-ending generator ends at its lifetime with DEADLINE_EXCEEDED, and its finally block runs', async () => {
    const finished = arena.probe.finished;
    const c = await client(arena.url);
    let received = 0;
    const error = await rejection((async () => {
      for await (const _ of c.proxy<{ count(n: number): AsyncIterable<number> }>('probe').count(1e12)) received++;
    })());
    assert.equal(error.code, ErrorCode.DEADLINE_EXCEEDED);
    assert.ok(received > 0);
    await eventually(() => arena.probe.finished === finished + 1, { timeoutMs: 1_000, what: 'finally to run' });
    await c.close();
  });

  it('#95 a socket cut mid-stream (linger 0) closes the generator at once: finally runs, nothing lingers', async () => {
    const { socket, ended } = await rawWebSocket(arena.port);
    socket.write(frame({ opcode: 1, payload: '{"t":"hello","v":[1]}' }));
    socket.write(frame({ opcode: 1, payload: '{"t":"stream","id":1,"o":"probe","m":"count","upTo":5}\n[1000000]' }));
    await eventually(() => arena.probe.live === 1 && arena.probe.pulled > 0, { timeoutMs: 2_000, what: 'the stream to start' });
    const finished = arena.probe.finished;
    socket.resetAndDestroy();
    await ended;
    await eventually(() => arena.probe.live === 0, { timeoutMs: 1_000, what: 'the generator to close' });
    assert.equal(arena.probe.finished, finished + 1);
    assert.equal(arena.gateway.stats().streams.live, 0);
  });

  it('#96 cancel for unknown, finished or already-cancelled ids is ignored; the stream is cancelled exactly once', async () => {
    const raw = await RawSocket.open(arena.url);
    openStream(raw, 1, 1_000_000, 2);
    assert.deepEqual(await readItems(raw, 1, 2), [0, 1]);
    const finished = arena.probe.finished;
    for (const id of [1, 1, 999, -5, 1]) raw.send(`{"t":"cancel","id":${id}}`);
    raw.send('{"t":"ping","id":7}');
    await eventually(() => raw.frames.some((f) => f.header.t === 'pong'), { timeoutMs: 1_000, what: 'the pong' });
    await eventually(() => arena.probe.finished === finished + 1, { timeoutMs: 1_000, what: 'the cancel' });
    await sleep(50); // proves no second finally follows: absence cannot be polled
    assert.equal(arena.probe.finished, finished + 1, 'finally ran once');
    const errors = raw.frames.filter((f) => f.header.t === 'error').map((f) => f.header.code);
    assert.deepEqual(errors, [ErrorCode.BAD_FRAME], 'ignored cancels are silent; only the malformed id -5 is refused');
    raw.close();
  });

  it('#97 a duplicate id while the first is in flight: refused without an id, and id 1 gets exactly one answer', async () => {
    const raw = await RawSocket.open(arena.url);
    raw.send('{"t":"call","id":1,"o":"probe","m":"later"}\n[50]');
    raw.send('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    openStream(raw, 1, 3, 3);
    await eventually(() => raw.frames.some((f) => f.header.id === 1 && f.header.t === 'result'), { what: 'the answer to id 1' });
    await raw.barrier(); // what the gateway sent before the pong is here: a second answer would be too
    const forOne = raw.frames.filter((f) => f.header.id === 1);
    assert.deepEqual(forOne.map((f) => [f.header.t, f.body]), [['result', '"late"']]);
    assert.deepEqual(raw.frames.filter((f) => f.header.id === undefined).map((f) => f.header.code), [ErrorCode.BAD_FRAME, ErrorCode.BAD_FRAME]);
    raw.close();
  });

  it('#98 a method that never resolves: DEADLINE_EXCEEDED at the deadline, its AbortSignal fires, no late answer', async () => {
    const raw = await RawSocket.open(arena.url);
    const aborted = arena.probe.aborted;
    const answer = await raw.call({ id: 1, o: 'probe', m: 'hang', dl: 100 }, '[]');
    assert.equal(answer.header.code, ErrorCode.DEADLINE_EXCEEDED);
    // At once in one process; through NATS the host aborts on its own deadline tick or the gateway's cancel.
    await eventually(() => arena.probe.aborted === aborted + 1, { timeoutMs: 1_000, what: 'the AbortSignal to fire' });
    await sleep(100); // proves no late answer follows: absence cannot be polled
    assert.equal(raw.frames.length, 0, 'nothing after the deadline error');
    raw.close();
  });

  it('#100 rejections after the client left never become unhandled', async () => {
    const watch = watchProcess();
    for (let i = 0; i < 5; i++) {
      const raw = await RawSocket.open(arena.url);
      raw.send('{"t":"call","id":1,"o":"probe","m":"later"}\n[50,true]');
      raw.send('{"t":"call","id":2,"o":"echo","m":"crash"}\n[]');
      raw.ws.terminate();
    }
    await sleep(150); // the late failures (50 ms) happen, and no unhandled rejection follows: absence cannot be polled
    watch.stop();
    assert.deepEqual(watch.faults, []);
  });

  it('#101 results and stream items that arrive after the socket closed are dropped, never sent to a closed socket', async () => {
    const watch = watchProcess();
    const raw = await RawSocket.open(arena.url);
    const { laterStarted, laterDone, pulled } = arena.probe;
    raw.send('{"t":"call","id":1,"o":"probe","m":"later"}\n[60]');
    openStream(raw, 2, 1_000_000, 1_000_000);
    await eventually(() => arena.probe.laterStarted > laterStarted && arena.probe.pulled > pulled, { what: 'the call and the stream running' });
    raw.ws.terminate();
    await eventually(() => arena.probe.laterDone > laterDone, { what: 'the late result' });
    await nextTurn(); // the gateway has handled (dropped) it: a send to the closed socket would have failed by now
    watch.stop();
    assert.deepEqual(watch.faults, []);
    assert.ok(!arena.logs.lines.some((l) => Number(l.level) >= 50 && /closed uWS/.test(String((l.err as { message?: string })?.message))));
  });

  it('#102 binary arguments read after an await are intact (copied before uWS neuters the message buffer)', async () => {
    const c = await client(arena.url);
    const bytes = Uint8Array.from({ length: 4_096 }, (_, i) => i % 251);
    const expected = bytes.reduce((s, b) => s + b, 0);
    const sums = await Promise.all(Array.from({ length: 20 }, () => c.proxy<{ digest(b: Uint8Array): number }>('probe').digest(bytes)));
    assert.deepEqual(sums, Array(20).fill(expected));
    await c.close();
  });

  it('#103 a producer faster than its consumer is held to the credit window (plus one item of lookahead)', async () => {
    const raw = await RawSocket.open(arena.url);
    const pulled = arena.probe.pulled;
    openStream(raw, 1, 1_000_000, 10);
    assert.deepEqual(await readItems(raw, 1, 10), Array.from({ length: 10 }, (_, i) => i));
    await sleep(200); // proves nothing is pulled or sent beyond the window: absence cannot be polled
    assert.ok(arena.probe.pulled - pulled <= 11, `${arena.probe.pulled - pulled} pulled for a window of 10`);
    assert.equal(raw.frames.filter((f) => f.header.t === 'items').length, 0, 'nothing beyond the window');
    raw.close();
  });
});
