/**
 * The SSE response of one stream (server/http/sse-streams.ts) on a fake exchange and the FakeClock:
 * heartbeats, the credit it grants as events are written, backpressure, the client going away, and
 * refusals before the stream opened. The socket-level behaviour is test/integration/http/sse-streams.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamControl } from '../../src/host/object-host.js';
import type { HttpExchange } from '../../src/server/http/exchange.js';
import { SSE_HEARTBEAT_MS, SSE_WINDOW, SseSink, type SseContext } from '../../src/server/http/sse-streams.js';
import { Codec } from '../../src/protocol/codec.js';
import { ErrorCode, errorBody, type ErrorBody } from '../../src/protocol/errors.js';
import { FakeClock } from '../support/fake-clock.js';

class FakeExchange implements Partial<HttpExchange> {
  parts: string[] = [];
  status = 0;
  ended = false;
  aborted = false;
  full = false;
  writable: (() => void) | undefined;
  abort: (() => void) | undefined;
  header = () => '';
  startStream(status: number): void { this.status = status; }
  write(part: string): boolean { this.parts.push(part); return !this.full; }
  onWritable(handler: () => void): void { this.writable = handler; }
  onAborted(handler: () => void): void { this.abort = handler; }
  end(): void { this.ended = true; }
}

class FakeControl implements StreamControl {
  live = true;
  grants: Array<[number, number]> = [];
  calls: string[] = [];
  grant(upTo: number, ack: number): void { this.grants.push([upTo, ack]); }
  cancel(): void { this.calls.push('cancel'); }
  detach(): void { this.calls.push('detach'); }
  drained(): void { this.calls.push('drained'); }
}

function setup(next = 0, retainBytes = 1 << 20) {
  const clock = new FakeClock();
  const exchange = new FakeExchange();
  const refused: ErrorBody[] = [];
  let done = 0;
  const context: SseContext = { objectHost: undefined as never, codec: new Codec(), clock, retainBytes, refuse: (_e, error) => void refused.push(error) };
  const sink = new SseSink(exchange as unknown as HttpExchange, context, next, () => done++);
  const control = new FakeControl();
  return { clock, exchange, refused, sink, control, done: () => done };
}

const microtasks = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('SSE sink', () => {
  it('writes open, one event per item and end; grants a window past what was written and closes the stream on end', async () => {
    const { exchange, sink, control, done } = setup();
    sink.opened('K');
    sink.attach(control);
    sink.items(0, { text: '[1,2]' }, 2);
    await microtasks();
    assert.deepEqual(control.grants, [[2 + SSE_WINDOW, 0]], 'the last items written stay unacknowledged for a resume');
    sink.end(2);
    await microtasks();
    assert.deepEqual(control.grants.at(-1), [2, 2], 'the end was written: everything is acknowledged');
    assert.equal(exchange.parts.join(''), 'event: open\ndata: {"key":"K"}\n\nevent: item\nid: K:0\ndata: 1\n\nevent: item\nid: K:1\ndata: 2\n\nevent: end\ndata: {"total":2}\n\n');
    assert.deepEqual([exchange.status, exchange.ended, done()], [200, true, 1]);
  });

  it('acknowledges items once more than a window of them, or more than the byte budget, were written', async () => {
    const { sink, control } = setup(0, 10);
    sink.opened('K');
    sink.attach(control);
    sink.items(0, { text: JSON.stringify(Array.from({ length: 8 }, (_, i) => `${i}`)) }, 8);
    await microtasks();
    assert.deepEqual(control.grants.at(-1), [8 + SSE_WINDOW, 5], 'items of 3 bytes: the last 3 stay (9 bytes)');
    sink.items(8, { text: JSON.stringify(['x'.repeat(20)]) }, 1);
    await microtasks();
    assert.deepEqual(control.grants.at(-1), [9 + SSE_WINDOW, 9], 'an item over the budget is not kept');
  });

  it('a resumed response skips items of a replayed frame the client had', () => {
    const { exchange, sink, control } = setup(3);
    sink.opened('K');
    sink.attach(control);
    sink.items(2, { text: '[2,3,4]' }, 3);
    assert.deepEqual(exchange.parts.filter((p) => p.startsWith('event: item')).map((p) => /id: (\S+)/.exec(p)?.[1]), ['K:3', 'K:4']);
  });

  it('a ping every 15 s while the stream is open, none after it ended', () => {
    const { clock, exchange, sink, control } = setup();
    sink.opened('K');
    sink.attach(control);
    clock.advance(SSE_HEARTBEAT_MS - 1);
    assert.equal(exchange.parts.filter((p) => p === ': ping\n\n').length, 0);
    clock.advance(1);
    clock.advance(SSE_HEARTBEAT_MS);
    assert.equal(exchange.parts.filter((p) => p === ': ping\n\n').length, 2);
    sink.end(0);
    assert.equal(clock.pending, 0, 'no timer left');
  });

  it('a full socket makes the sink unwritable and gives no credit until it drains; then the stream is told and granted', async () => {
    const { exchange, sink, control } = setup();
    sink.opened('K');
    sink.attach(control);
    exchange.full = true;
    sink.items(0, { text: '[1]' }, 1);
    await microtasks();
    assert.deepEqual([sink.writable, control.grants], [false, []], 'a host that writes anyway is held back by credit');
    exchange.full = false;
    exchange.writable?.();
    await microtasks();
    assert.deepEqual([sink.writable, control.calls, control.grants], [true, ['drained'], [[1 + SSE_WINDOW, 0]]]);
  });

  it('the client going away detaches the stream (it lingers), once; no grant follows', async () => {
    const { exchange, sink, control, done, clock } = setup();
    sink.opened('K');
    sink.attach(control);
    sink.items(0, { text: '[1]' }, 1);
    exchange.aborted = true;
    exchange.abort?.();
    await microtasks();
    assert.deepEqual([control.calls, control.grants, done(), clock.pending], [['detach'], [], 1, 0]);
  });

  it('a refusal before the stream opened is answered as a call\'s error; after, as an error event', () => {
    const early = setup();
    early.sink.fail(errorBody(ErrorCode.LIMIT_EXCEEDED, 'too many'), 0);
    assert.deepEqual([early.refused.map((e) => e.code), early.exchange.parts, early.done()], [[ErrorCode.LIMIT_EXCEEDED], [], 1]);
    const late = setup();
    late.sink.opened('K');
    late.sink.fail({ ...errorBody(ErrorCode.DEADLINE_EXCEEDED, 'idle'), data: { n: 1 } }, 0);
    assert.equal(late.exchange.parts.at(-1), 'event: error\ndata: {"code":"DEADLINE_EXCEEDED","name":"UplinkError","message":"idle","data":{"n":1}}\n\n');
    assert.equal(late.exchange.ended, true);
  });

  it('binary items end the stream with a typed error event and cancel it', () => {
    const { exchange, sink, control } = setup();
    sink.opened('K');
    sink.attach(control);
    sink.items(0, { text: '[0]\n{"values":{"0":[["custom","bin"]]},"v":1}', attachments: [new Uint8Array([1])] }, 1);
    assert.match(exchange.parts.at(-1) ?? '', /^event: error\ndata: \{"code":"TYPE_NOT_ALLOWED"/);
    assert.deepEqual(control.calls, ['cancel']);
  });
});

describe('SSE sink and the token', () => {
  it('at the token\'s expiry the stream is detached (it lingers for a resume) and the response ends with TOKEN_EXPIRED', () => {
    const clock = new FakeClock();
    const exchange = new FakeExchange();
    let done = 0;
    const context: SseContext = { objectHost: undefined as never, codec: new Codec(), clock, retainBytes: 1 << 20, refuse: () => {} };
    const sink = new SseSink(exchange as unknown as HttpExchange, context, 0, () => done++, clock.now() + 40_000);
    const control = new FakeControl();
    sink.opened('K');
    sink.attach(control);
    clock.advance(39_999);
    assert.deepEqual([exchange.ended, control.calls], [false, []]);
    clock.advance(1);
    assert.deepEqual([exchange.ended, control.calls, done, clock.pending], [true, ['detach'], 1, 0]);
    assert.match(exchange.parts.at(-1) ?? '', /^event: error\ndata: \{"code":"TOKEN_EXPIRED"/);
  });
});

describe('SSE sink, a client gone while the stream opened', () => {
  it('the stream is detached once the host returned it, not left attached to a dead response', () => {
    const { exchange, sink, control, done } = setup();
    exchange.aborted = true;
    exchange.onAborted = (handler: () => void) => handler(); // as the uWS exchange does once aborted
    sink.opened('K');
    sink.items(0, { text: '[1]' }, 1);
    sink.attach(control);
    assert.deepEqual([control.calls, done()], [['detach'], 1]);
  });
});
