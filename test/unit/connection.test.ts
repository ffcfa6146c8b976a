/**
 * Connection logic behind the server-socket seam: a fake socket, a fake clock, an object host that
 * answers by itself. What the wire tests cover on a real gateway, here without uWS or sleeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Codec } from '../../src/protocol/codec.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { HostCall, ObjectHost, ReplySink } from '../../src/host/object-host.js';
import { gatewayDefaults } from '../../src/server/config.js';
import { Connection } from '../../src/server/connection/connection.js';
import { Deadlines } from '../../src/server/deadlines.js';
import type { ConnectionEnvironment, ResolvedOptions } from '../../src/server/connection/connection-environment.js';
import { ClientLog } from '../../src/server/logger.js';
import type { ServerSocket } from '../../src/server/connection/server-socket.js';
import type { WireMessage } from '../../src/protocol/frame-writer.js';
import { FakeClock } from '../support/fake-clock.js';
import { FlushQueue } from '../../src/server/connection/flush-queue.js';

class FakeSocket implements ServerSocket {
  readonly sent: string[] = [];
  ended = undefined as { code: number; reason: string } | undefined;
  bufferedAmount = 0;
  /** send() reports backpressure and grows the buffer by this many bytes per message. */
  backpressureBytes = 0;

  send(message: WireMessage): boolean {
    this.sent.push(typeof message === 'string' ? message : new TextDecoder().decode(message.subarray(4)));
    this.bufferedAmount += this.backpressureBytes;
    return this.backpressureBytes === 0;
  }

  cork(writes: () => void): void {
    writes();
  }

  end(code: number, reason: string): void {
    this.ended ??= { code, reason };
  }

  closeCode(): number | undefined {
    return this.ended?.code;
  }

  headers(): Array<Record<string, unknown>> {
    return this.sent.map((m) => JSON.parse(m.split('\n')[0]!) as Record<string, unknown>);
  }
}

/** Answers add(a, b) at once, and never answers 'hang'. */
const host: ObjectHost = {
  invoke(call: HostCall, reply: ReplySink) {
    if (call.member === 'hang') return;
    const [a, b] = JSON.parse(call.args.text) as number[];
    reply.resolve({ text: String(a! + b!) });
  },
  openStream: () => undefined,
  resumeStream: () => undefined,
  releaseConnection: () => {},
  releaseReference: () => {},
  endStreams: () => 0,
  streamStats: () => ({ live: 0, lingering: 0 }),
  shutdown: () => {},
};

function setup(overrides: Partial<ResolvedOptions> = {}) {
  const clock = new FakeClock();
  const socket = new FakeSocket();
  const logger = pino({ level: 'silent' });
  const options = { ...gatewayDefaults, server: 'test', maxAttachments: 16, clockToleranceMs: 0, ...overrides } as ResolvedOptions;
  let flushes = 0;
  const flushQueue = new FlushQueue(() => void flushes++);
  const env: ConnectionEnvironment = {
    objectHost: host, codec: new Codec(), options, clock, deadlines: new Deadlines(clock), metrics: undefined,
    logs: { logger, clientLog: new ClientLog(logger, 0), calls: false },
    sessions: { draining: false, admitIdentity: async () => undefined, admitSubject: () => true, opened: () => {}, closed: () => {} },
    flushQueue,
  };
  const connection = new Connection(socket, { remoteAddress: '127.0.0.1', origin: undefined, userAgent: undefined }, env, 'c1');
  /** What uWS's message handler does. */
  const receive = (text: string): void => connection.receive(new TextEncoder().encode(text).buffer as ArrayBuffer, false);
  return { clock, socket, connection, receive, flushes: () => flushes, flushQueue };
}

describe('Connection (fake socket, fake clock)', () => {
  it('welcomes a hello, then answers calls in order', async () => {
    const { clock, socket, receive } = setup();
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    assert.equal(socket.headers()[0]!.t, 'welcome');
    receive('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    receive('{"t":"call","id":2,"o":"calc","m":"add"}\n[3,4]');
    assert.deepEqual(socket.sent.slice(1), ['{"t":"result","id":1}\n3', '{"t":"result","id":2}\n7']);
  });

  it('closes 4408 when no hello comes within helloTimeoutMs', () => {
    const { clock, socket } = setup({ helloTimeoutMs: 2_000 });
    clock.advance(1_999);
    assert.equal(socket.ended, undefined);
    clock.advance(1);
    assert.equal(socket.closeCode(), CloseCode.HELLO_TIMEOUT);
  });

  it('answers DEADLINE_EXCEEDED when the call deadline passes on the fake clock', async () => {
    const { clock, socket, receive, connection } = setup();
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    receive('{"t":"call","id":5,"o":"calc","m":"hang","dl":1000}\n[]');
    clock.advance(1_000);
    connection.flush();
    const last = socket.headers().at(-1)!;
    assert.equal(last.t, 'error');
    assert.equal(last.id, 5);
    assert.equal(last.code, ErrorCode.DEADLINE_EXCEEDED);
  });

  it('refuses a duplicate id without an id, and a malformed frame with BAD_FRAME, and keeps serving', async () => {
    const { clock, socket, receive } = setup();
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    receive('{"t":"call","id":9,"o":"calc","m":"hang"}\n[]');
    receive('{"t":"call","id":9,"o":"calc","m":"add"}\n[1,1]');
    receive('{"t":"call","id":-1}');
    receive('{"t":"call","id":10,"o":"calc","m":"add"}\n[2,2]');
    const errors = socket.headers().filter((h) => h.t === 'error');
    assert.deepEqual(errors.map((e) => [e.id, e.code]), [[undefined, ErrorCode.BAD_FRAME], [undefined, ErrorCode.BAD_FRAME]]);
    assert.equal(socket.sent.at(-1), '{"t":"result","id":10}\n4');
    assert.equal(socket.ended, undefined);
  });

  it('cuts off a client that does not read (4508) once its buffer passes maxBackpressure', async () => {
    const { clock, socket, receive } = setup({ maxBackpressure: 100 });
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    socket.backpressureBytes = 60;
    receive('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    assert.equal(socket.ended, undefined, '60 bytes buffered: under the budget');
    receive('{"t":"call","id":2,"o":"calc","m":"add"}\n[1,2]');
    assert.equal(socket.closeCode(), CloseCode.SLOW_CONSUMER);
  });

  it('queues frames produced outside the message handler and asks the gateway for one flush', async () => {
    const { clock, socket, receive, connection, flushes, flushQueue } = setup();
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    flushQueue.run();
    const flushesBefore = flushes();
    const before = socket.sent.length;
    connection.send('{"t":"pong","id":1}');
    connection.send('{"t":"pong","id":2}');
    assert.equal(socket.sent.length, before, 'nothing is written before the flush');
    assert.equal(flushes(), flushesBefore + 1, 'one flush requested for both frames');
    flushQueue.run();
    assert.deepEqual(socket.sent.slice(before), ['{"t":"pong","id":1}', '{"t":"pong","id":2}']);
  });

  it('writes the answer of a sync call when the message handler ends, without asking for a flush', async () => {
    const { clock, socket, receive, connection, flushes, flushQueue } = setup();
    receive('{"t":"hello","v":[1]}');
    await clock.settle();
    flushQueue.run();
    const [before, flushesBefore] = [socket.sent.length, flushes()];
    receive('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    assert.deepEqual(socket.sent.slice(before), ['{"t":"result","id":1}\n3'], 'written by the time the handler returned');
    assert.equal(flushes(), flushesBefore, 'no flush scheduled: it would cost a loop turn per call');
    connection.send('{"t":"pong","id":1}');
    assert.equal(flushes(), flushesBefore + 1, 'a frame sent outside a handler still asks for one');
  });
});
