/**
 * Catalogue B (docs/security.md): frame-level protocol abuse over raw TCP after a real upgrade.
 * Several rows document what the pinned uWS build (20.30) does where RFC 6455 asks for more: those
 * live in uWS's C++ core, and only a newer build can change them. Each test asserts today's behaviour,
 * so a uWS upgrade that changes one fails here: update the test and the table in docs/security.md together.
 * On the node runtime (ws) those rows follow the RFC: a close frame with the RFC's code, then TCP closed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onNodeRuntime, sleep } from '../support/gateway.js';
import { useArena } from './arena.js';
import { closeCodeOf, frame, httpExchange, parseFrames, rawWebSocket, upgradeRequest } from './raw-websocket.js';

const MAX_PAYLOAD = 4096;
/** The runtime's own limit, four times the protocol limit: past it uWS drops the TCP connection unread (ws: 1009). */
const UWS_LIMIT = 4 * MAX_PAYLOAD;
const hello = () => frame({ opcode: 1, payload: '{"t":"hello","v":[1]}' });
const text = (payload: string | Uint8Array, fin = true) => frame({ opcode: 1, payload, fin });
const continuation = (payload: string | Uint8Array, fin = true) => frame({ opcode: 0, payload, fin });

describe('B. frames', () => {
  const arena = useArena({ maxPayloadLength: MAX_PAYLOAD });

  /** Sends bytes after a real upgrade; reports whether TCP closed within waitMs, the close code sent, and every frame received. */
  async function outcome(frames: Buffer[], waitMs = 800, extraHeaders = '') {
    const { socket, received, ended } = await rawWebSocket(arena.port, extraHeaders);
    socket.write(Buffer.concat(frames));
    const tcpClosed = await Promise.race([ended.then(() => true), sleep(waitMs).then(() => false)]);
    const bytes = received();
    socket.destroy();
    return { tcpClosed, closeCode: closeCodeOf(bytes), bytes: bytes.length, frames: parseFrames(bytes) };
  }
  /** What uWS does with most violations: TCP closed at once, no close frame, nothing dispatched. */
  const closedWithoutCloseFrame = { tcpClosed: true, closeCode: undefined, bytes: 0 };
  const summary = (o: Awaited<ReturnType<typeof outcome>>) => ({ tcpClosed: o.tcpClosed, closeCode: o.closeCode, bytes: onNodeRuntime ? 0 : o.bytes });
  /** A violation: uWS closes TCP without a close frame; ws sends the RFC's close code first, then closes TCP. */
  const violation = (rfcCode: number) => (onNodeRuntime ? { tcpClosed: true, closeCode: rfcCode, bytes: 0 } : closedWithoutCloseFrame);
  const texts = (o: Awaited<ReturnType<typeof outcome>>) => o.frames.filter((f) => f.opcode === 1).map((f) => f.payload.toString());

  it('#15 RSV1/2/3 set without a negotiated extension: TCP closed, no close frame (RFC: 1002)', async () => {
    for (const rsv of [1, 2, 4]) assert.deepEqual(summary(await outcome([frame({ opcode: 1, rsv, payload: '{"t":"hello","v":[1]}' })])), violation(1002), `rsv ${rsv}`);
  });

  it('#16 reserved opcodes 3-7 and 0xB-0xF: TCP closed, no close frame (RFC: 1002)', async () => {
    for (const opcode of [3, 7, 0xb, 0xf]) assert.deepEqual(summary(await outcome([frame({ opcode, payload: 'x' })])), violation(1002), `opcode ${opcode}`);
  });

  it('#17 an unmasked client frame is neither processed nor refused: the socket stays open (RFC: close 1002)', async () => {
    const expected = onNodeRuntime ? violation(1002) : { tcpClosed: false, closeCode: undefined, bytes: 0 };
    assert.deepEqual(summary(await outcome([frame({ opcode: 1, payload: '{"t":"hello","v":[1]}', mask: false })])), expected);
  });

  it('#18 control frames over 125 bytes or with FIN=0: TCP closed, no close frame (RFC: 1002)', async () => {
    assert.deepEqual(summary(await outcome([frame({ opcode: 9, payload: new Uint8Array(200) })])), violation(1002));
    assert.deepEqual(summary(await outcome([frame({ opcode: 9, fin: false, payload: 'a' })])), violation(1002));
  });

  it('#19 fragmentation order violations: a continuation first, or a new text frame mid-message: TCP closed (RFC: 1002)', async () => {
    assert.deepEqual(summary(await outcome([continuation('x')])), violation(1002));
    assert.deepEqual(summary(await outcome([text('{"t":', false), text('"hello"}')])), violation(1002));
  });

  it('#20 invalid UTF-8, whole or split across fragments: TCP closed, no close frame (RFC: 1007); in a close reason: answered with a bare close', async () => {
    assert.deepEqual(summary(await outcome([text(new Uint8Array([0xc3, 0x28]))])), violation(1007));
    assert.deepEqual(summary(await outcome([text(new Uint8Array([0x7b, 0xe2, 0x82]), false), continuation(new Uint8Array([0x28, 0x7d]))])), violation(1007));
    const badReason = await outcome([frame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8, 0xc3, 0x28]) })]);
    assert.equal(badReason.tcpClosed, true);
    assert.equal(badReason.closeCode, onNodeRuntime ? 1007 : 1005);
  });

  it('#21 invalid close frames (1-byte payload; codes 0, 999, 1004-1006, 1015, 5000) are answered with a close frame without a code (RFC: 1002)', async () => {
    const one = await outcome([frame({ opcode: 8, payload: new Uint8Array([0x03]) })]);
    assert.equal(one.tcpClosed, true);
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 5000]) {
      const result = await outcome([frame({ opcode: 8, payload: new Uint8Array([code >> 8, code & 0xff]) })]);
      assert.equal(result.tcpClosed, true, `code ${code}`);
      const allowed = onNodeRuntime ? [1002] : [1005, undefined];
      assert.ok(allowed.includes(result.closeCode), `code ${code} answered with ${result.closeCode}`);
    }
  });

  it('#22 a declared length over uWS\'s limit or over 2^53-1 closes before any body arrives (the server sees 1006)', async () => {
    const head = (length: bigint) => {
      const b = Buffer.alloc(14);
      b[0] = 0x82; b[1] = 0x80 | 127;
      b.writeBigUInt64BE(length, 2);
      return b; // mask key left as zeros; no payload follows
    };
    assert.deepEqual(summary(await outcome([head(BigInt(UWS_LIMIT + 1))])), violation(1009));
    assert.deepEqual(summary(await outcome([head(2n ** 63n - 1n)])), violation(1009));
  });

  it('#23 an oversized message split into small fragments closes once the sum passes uWS\'s limit', async () => {
    const third = 'a'.repeat(Math.ceil((UWS_LIMIT + 1) / 3));
    assert.deepEqual(summary(await outcome([text(third, false), continuation(third, false), continuation(third)])), violation(1009));
  });

  it('#24 thousands of tiny fragments close at uWS\'s byte limit; zero-length fragments buffer nothing', async () => {
    assert.deepEqual(summary(await outcome([text('a', false), ...Array.from({ length: UWS_LIMIT + 1 }, () => continuation('a', false))])), violation(1009));
    // 20,000 empty fragments add no bytes; the message they frame is delivered whole.
    const empties = await outcome([hello(), text('{"t":"ping",', false), ...Array.from({ length: 20_000 }, () => continuation('', false)), continuation('"id":7}')], 1_500);
    assert.equal(empties.tcpClosed, false);
    assert.ok(texts(empties).some((t) => t === '{"t":"pong","id":7}'), 'the fragmented ping was answered');
  });

  it('#25 no decompression bomb: permessage-deflate is never negotiated, and a compressed (RSV1) frame closes the socket', async () => {
    const answer = await httpExchange(arena.port, upgradeRequest('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'));
    assert.doesNotMatch(answer.head, /permessage-deflate/);
    const bomb = await outcome([hello(), frame({ opcode: 1, rsv: 4, payload: new Uint8Array([0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]) })], 800, 'Sec-WebSocket-Extensions: permessage-deflate\r\n');
    assert.equal(bomb.tcpClosed, true);
  });

  it('#26 a ping flood is answered with pongs, and the connection goes on serving', async () => {
    const pings = Array.from({ length: 10_000 }, () => frame({ opcode: 9, payload: new Uint8Array(125) }));
    const result = await outcome([...pings, hello(), text('{"t":"ping","id":1}')], 2_000);
    assert.equal(result.tcpClosed, false);
    assert.equal(result.frames.filter((f) => f.opcode === 0xa).length, 10_000, 'one pong per ping');
    assert.deepEqual(texts(result).map((t) => JSON.parse(t.split('\n')[0]!).t), ['welcome', 'pong']);
  });

  it('#27 data after a close frame is ignored: the close is answered and nothing else is processed', async () => {
    const result = await outcome([hello(), frame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) }), text('{"t":"ping","id":9}')]);
    assert.equal(result.tcpClosed, true);
    assert.equal(result.closeCode, 1000);
    assert.ok(!texts(result).some((t) => t.includes('"pong"')), 'the ping after the close was not answered');
  });

  it('#28 thousands of frames in one TCP write are each answered, in order', async () => {
    const pings = Array.from({ length: 3_000 }, (_, i) => text(`{"t":"ping","id":${i}}`));
    const result = await outcome([hello(), ...pings], 2_000);
    const pongs = texts(result).slice(1).map((t) => (JSON.parse(t) as { id: number }).id);
    assert.deepEqual(pongs, Array.from({ length: 3_000 }, (_, i) => i));
  });

  it('#29 a binary frame that is not a valid Uplink binary message gets BAD_FRAME, and the connection stays', async () => {
    const result = await outcome([hello(), frame({ opcode: 2, payload: new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]) }), text('{"t":"ping","id":2}')]);
    assert.equal(result.tcpClosed, false);
    const [, error, pong] = texts(result).map((t) => JSON.parse(t.split('\n')[0]!) as Record<string, unknown>);
    assert.equal(error?.code, 'BAD_FRAME');
    assert.deepEqual(pong, { t: 'pong', id: 2 });
  });
});

describe('B. HTTP-level behaviours of the pinned uWS build (and of node:http on the node runtime)', () => {
  const arena = useArena();

  it('#4 (HTTP/1.0) an HTTP/1.0 upgrade request gets no answer at all on uWS (RFC: 1.1 required); 400 on the node runtime', async () => {
    const answer = await httpExchange(arena.port, upgradeRequest('', 'GET / HTTP/1.0'), 600);
    if (onNodeRuntime) assert.equal(answer.status, 400);
    else assert.equal(answer.head, '');
  });

  it('conflicting duplicate Content-Length headers are not refused by uWS (RFC 9112: 400): the request is answered; node:http drops the connection', async () => {
    const answer = await httpExchange(arena.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello', 600);
    if (onNodeRuntime) assert.deepEqual({ status: answer.status, closed: answer.closed }, { status: undefined, closed: true });
    else assert.equal(answer.status, 404);
  });
});
