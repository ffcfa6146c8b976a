/** Catalogue C (docs/security.md): volume, rate and backpressure, against a real gateway with an honest client alongside. */
import { eventually, steady } from '../support/eventually.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode, ErrorCode } from '../../src/index.js';
import { client, RawSocket, rejection, sleep, TcpRelay } from '../support/gateway.js';
import { useArena } from './arena.js';
import { frame, rawWebSocket } from './raw-websocket.js';
import { natsBacked } from '../support/nats-backed.js';

const call = (id: number, o: string, m: string, args: unknown[]) => `${JSON.stringify({ t: 'call', id, o, m })}\n${JSON.stringify(args)}`;

/** Collects frames on a RawSocket until `done` holds or the socket closes. */
function collect(raw: RawSocket, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  return eventually(() => done() || raw.ws.readyState !== raw.ws.OPEN, { timeoutMs, what: 'the frames' });
}

describe('C. message rate', () => {
  const arena = useArena({ maxMessagesPerSec: 200 });

  it('#30 a message flood gets RATE_LIMITED beyond the rate, then the connection is closed (4529)', async () => {
    const raw = await RawSocket.open(arena.url);
    for (let i = 1; i <= 300; i++) raw.send(call(i, 'calc', 'add', [i, 1]));
    await collect(raw, () => raw.frames.length >= 300);
    const results = raw.frames.filter((f) => f.header.t === 'result');
    const limited = raw.frames.filter((f) => f.header.code === ErrorCode.RATE_LIMITED);
    if (natsBacked) {
      // Answers from a host in another process come after the flood closed the connection (in one
      // process they are written at once): the refusals are all there, answers at most once each.
      assert.ok(results.length + limited.length <= 300 && new Set(raw.frames.map((f) => f.header.id)).size === raw.frames.length, 'never answered twice');
    } else {
      assert.equal(results.length + limited.length, 300, 'every call is answered once');
      assert.ok(results.length >= 200, `${results.length} calls ran: the burst is served`);
    }
    assert.ok(limited.length >= 50, `${limited.length} calls refused: the rest is not`);
    for (const r of results) assert.equal(Number(r.body), (r.header.id as number) + 1);
    for (let i = 0; i < 400; i++) raw.send(`{"t":"ping","id":${i}}`);
    assert.equal((await raw.closed).code, CloseCode.RATE_LIMITED);
  });
});

describe('C. in-flight calls and results', () => {
  const arena = useArena({ maxInflight: 8, maxResultBytes: 100_000 });

  it('#31 pipelined calls beyond maxInflight get BUSY at once (never an unbounded queue); the admitted ones finish', async () => {
    const raw = await RawSocket.open(arena.url);
    for (let i = 1; i <= 40; i++) raw.send(call(i, 'probe', 'later', [100]));
    await collect(raw, () => raw.frames.length >= 40);
    assert.equal(raw.frames.filter((f) => f.header.code === ErrorCode.BUSY).length, 32);
    const done = raw.frames.filter((f) => f.header.t === 'result');
    assert.deepEqual(done.map((f) => f.body), Array(8).fill('"late"'));
    assert.deepEqual(new Set(raw.frames.map((f) => f.header.id)).size, 40, 'one answer per id');
    raw.close();
  });

  it('#35 a small request cannot produce a huge response: results and stream items over maxResultBytes get LIMIT_EXCEEDED', async () => {
    const c = await client(arena.url);
    const probe = c.proxy<{ big(n: number): string; bigItems(count: number, chars: number): AsyncIterable<string> }>('probe');
    assert.equal((await probe.big(90_000)).length, 90_000);
    assert.equal((await rejection(probe.big(200_000))).code, ErrorCode.LIMIT_EXCEEDED);
    const error = await rejection((async () => { for await (const _ of probe.bigItems(3, 200_000)) { /* drain */ } })());
    assert.equal(error.code, ErrorCode.LIMIT_EXCEEDED);
    await c.close();
  });
});

describe('C. readers that do not keep up', () => {
  const arena = useArena({ maxBackpressure: 256 * 1024, maxInflight: 256, streamLingerMs: 0 });

  it('#32 a slow reader on a fast stream: the producer stops at the unacknowledged-item bound instead of buffering', async () => {
    const { socket, ended } = await rawWebSocket(arena.port);
    socket.write(frame({ opcode: 1, payload: '{"t":"hello","v":[1]}' }));
    socket.write(frame({ opcode: 1, payload: '{"t":"stream","id":1,"o":"probe","m":"count","upTo":1000000000}\n[10000000]' }));
    socket.pause(); // never reads, never acknowledges
    const pulled = await steady(() => arena.probe.pulled, { ready: (n) => n > 0, what: 'the generator to stop' });
    await sleep(300); // proves it stays stopped: absence cannot be polled
    assert.equal(arena.probe.pulled, pulled, 'the generator is paused');
    assert.ok(pulled <= arena.gateway.options.streamMaxUnacked + 2, `${pulled} items pulled`);
    assert.equal(arena.probe.live, 1);
    socket.destroy();
    await ended;
    await eventually(() => arena.probe.live === 0, { timeoutMs: 2_000, what: 'the generator to be closed' });
  });

  it('#33 a client with a zero TCP window and large responses is disconnected at the backpressure budget (4508)', async () => {
    const { socket, ended, received } = await rawWebSocket(arena.port);
    socket.write(frame({ opcode: 1, payload: '{"t":"hello","v":[1]}' }));
    await eventually(() => received().length > 0, { what: 'the welcome' });
    socket.pause();
    for (let i = 1; i <= 200; i++) socket.write(frame({ opcode: 1, payload: call(i, 'probe', 'big', [60_000]) }));
    await eventually(() => arena.logs.lines.some((l) => l.msg === 'connection closed' && l.code === CloseCode.SLOW_CONSUMER), { timeoutMs: 5_000, what: 'the slow consumer to be closed' });
    const cut = arena.logs.lines.find((l) => l.msg === 'slow consumer: disconnected');
    assert.ok(cut && Number(cut.bufferedBytes) <= 256 * 1024 + 2 * 60_100, `buffered ${cut?.bufferedBytes} bytes when cut`);
    socket.destroy();
    await ended;
  });
});

describe('C. dead peers', () => {
  const arena = useArena({ idleTimeoutSec: 8 });

  it('#34 a silent dead peer (no FIN, no frames, no pongs) is closed by the idle timeout with server pings', async () => {
    const relay = await TcpRelay.start(arena.port);
    const c = await client(relay.url, { keepaliveMs: 0 });
    const before = arena.gateway.connectionCount;
    relay.freeze();
    await eventually(() => arena.gateway.connectionCount < before, { timeoutMs: 20_000, what: 'the dead peer to be closed' });
    await c.close().catch(() => {});
    await relay.close();
  });
});
