/** A WebSocket client written by hand over TCP, for frames no real client library would send. */
import { connect, type Socket } from 'node:net';
import { eventually } from '../support/eventually.js';

export interface RawFrameOptions {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  payload?: Uint8Array | string;
  /** Clients must mask; false sends an unmasked frame. */
  mask?: boolean;
}

export function frame({ fin = true, rsv = 0, opcode, payload = new Uint8Array(0), mask = true }: RawFrameOptions): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const head: number[] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (body.length < 126) head.push(maskBit | body.length);
  else if (body.length < 65536) head.push(maskBit | 126, body.length >> 8, body.length & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((body.length >>> 24) & 0xff, (body.length >>> 16) & 0xff, (body.length >>> 8) & 0xff, body.length & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), body]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(body.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** Opens a TCP connection, performs the upgrade and returns the socket plus what the server sends after it. */
export async function rawWebSocket(port: number, extraHeaders = ''): Promise<{ socket: Socket; received: () => Buffer; ended: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  let data = Buffer.alloc(0);
  socket.on('data', (d) => (data = Buffer.concat([data, d])));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(upgradeRequest(extraHeaders));
  await eventually(() => data.includes('\r\n\r\n'), { timeoutMs: 2_000, everyMs: 5, what: 'the upgrade response' });
  const headerEnd = data.indexOf('\r\n\r\n') + 4;
  if (!data.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${data.subarray(0, 40).toString()}`);
  const start = headerEnd;
  return { socket, received: () => data.subarray(start), ended };
}

export interface ServerFrame { opcode: number; payload: Buffer }

/** Splits what a server sent into frames (server frames are never masked); a partial frame at the end is left out. */
export function parseFrames(bytes: Buffer): ServerFrame[] {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (offset + 2 > bytes.length) break;
      length = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (offset + 8 > bytes.length) break;
      length = Number(bytes.readBigUInt64BE(offset));
      offset += 8;
    }
    if (offset + length > bytes.length) break;
    frames.push({ opcode: bytes[at]! & 0x0f, payload: bytes.subarray(offset, offset + length) });
    at = offset + length;
  }
  return frames;
}

/** The close code in the first close frame the server sent (1005 for a close frame without one), if any. */
export function closeCodeOf(bytes: Buffer): number | undefined {
  const close = parseFrames(bytes).find((f) => f.opcode === 0x8);
  if (!close) return undefined;
  return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
}

/** An upgrade request with the given extra header lines (each ending in CRLF) and request line. */
export function upgradeRequest(extraHeaders = '', requestLine = 'GET / HTTP/1.1'): string {
  return `${requestLine}\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`;
}

/** Sends raw HTTP bytes and reports the response (status code, head) and whether TCP closed, after waitMs. */
export function httpExchange(port: number, request: string | Buffer, waitMs = 500): Promise<{ status: number | undefined; head: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let closed = false;
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.write(request);
    setTimeout(() => {
      socket.destroy();
      const head = data.split('\r\n\r\n')[0] ?? '';
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), head, closed });
    }, waitMs);
  });
}
