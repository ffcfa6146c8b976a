/**
 * Frame-level behaviours of the pinned uWS build (20.30), documented by tests: each asserts what the
 * server does today, where RFC 6455 asks for more, and that an honest client on the same gateway keeps
 * working. These live in uWS's C++ core; only a newer uWS build can change them (docs/security.md).
 * A uWS upgrade that changes one makes its test fail: update the test and the table together.
 */
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/index.js';
import { client, startGateway } from '../helpers.js';
import { closeCodeOf, frame, rawWebSocket } from './raw-websocket.js';

let gateway: Gateway;
let url: string;
before(async () => ({ gateway, url } = await startGateway({ maxPayloadLength: 4096 })));
after(() => gateway.close({ drainMs: 0 }));

async function honestClientWorks(): Promise<void> {
  const c = await client(url);
  assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(1, 2), 3);
  await c.close();
}

/** Sends frames after a real upgrade; reports whether TCP closed within 800 ms and the close code sent, if any. */
async function outcome(frames: Buffer[]): Promise<{ tcpClosed: boolean; closeCode: number | undefined; bytes: number }> {
  const { socket, received, ended } = await rawWebSocket(gateway.port);
  for (const f of frames) socket.write(f);
  const tcpClosed = await Promise.race([ended.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 800))]);
  const bytes = received();
  socket.destroy();
  return { tcpClosed, closeCode: closeCodeOf(bytes), bytes: bytes.length };
}

describe('frames uWS closes without a close frame (RFC 6455 wants a close code first)', () => {
  const cases: Array<[string, Buffer[], string]> = [
    ['invalid UTF-8 in a text frame', [frame({ opcode: 1, payload: new Uint8Array([0xc3, 0x28]) })], '1007'],
    ['a reserved opcode', [frame({ opcode: 3, payload: 'x' })], '1002'],
    ['RSV bits without an extension', [frame({ opcode: 1, rsv: 4, payload: '{"t":"ping","id":1}' })], '1002'],
    ['a ping longer than 125 bytes', [frame({ opcode: 9, payload: new Uint8Array(200) })], '1002'],
    ['a fragmented control frame', [frame({ opcode: 9, fin: false, payload: 'a' })], '1002'],
    ['a continuation without a first fragment', [frame({ opcode: 0, payload: 'x' })], '1002'],
    ['a message larger than maxPayloadLength', [frame({ opcode: 2, payload: new Uint8Array(5000) })], '1009'],
    ['a flood of tiny fragments past maxPayloadLength', [frame({ opcode: 1, fin: false, payload: 'a' }),
      ...Array.from({ length: 5_000 }, () => frame({ opcode: 0, fin: false, payload: 'a' }))], '1009'],
  ];
  for (const [name, frames, rfc] of cases) {
    it(`${name}: TCP closed at once, no close frame (RFC: ${rfc})`, async () => {
      assert.deepEqual(await outcome(frames), { tcpClosed: true, closeCode: undefined, bytes: 0 });
      await honestClientWorks();
    });
  }
});

describe('other frame-level behaviours', () => {
  it('a close frame with an invalid code (999, 1005) is answered with a close frame without a code (RFC: 1002)', async () => {
    for (const code of [999, 1005]) {
      const result = await outcome([frame({ opcode: 8, payload: new Uint8Array([code >> 8, code & 0xff]) })]);
      assert.deepEqual(result, { tcpClosed: true, closeCode: 1005, bytes: 2 });
    }
    await honestClientWorks();
  });

  it('an unmasked client frame is neither processed nor refused: the socket stays open (RFC: close 1002)', async () => {
    const result = await outcome([frame({ opcode: 1, payload: '{"t":"hello","v":[1]}', mask: false })]);
    assert.deepEqual(result, { tcpClosed: false, closeCode: undefined, bytes: 0 });
    await honestClientWorks();
  });
});

describe('HTTP-level behaviours', () => {
  async function firstLine(request: string): Promise<string> {
    const socket = connectTcp(gateway.port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => (out += String(d)));
    socket.on('error', () => {});
    socket.write(request);
    await new Promise((r) => setTimeout(r, 600));
    socket.destroy();
    return out.split('\r\n')[0] ?? '';
  }
  const upgradeHeaders = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

  it('an HTTP/1.0 upgrade request gets no answer at all (RFC: 1.1 required; a 400 would be clearer)', async () => {
    assert.equal(await firstLine(`GET / HTTP/1.0\r\nHost: x\r\n${upgradeHeaders}\r\n`), '');
    await honestClientWorks();
  });

  it('conflicting duplicate Content-Length headers are not refused (RFC 9112: 400), the request is answered', async () => {
    assert.equal(await firstLine('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello'), 'HTTP/1.1 404 Not Found');
    await honestClientWorks();
  });
});
