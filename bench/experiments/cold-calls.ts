/**
 * Why a call costs more next to the raw reference at a moderate rate than at saturation. At 15,000
 * calls/s every message is handled alone, after the server slept and other work (the load generator,
 * the kernel) ran on its core: the call's code and data come from memory, not from the CPU caches.
 * This measures the server's JavaScript for one add(1,2), in process (no sockets), three ways:
 *
 *   raw      the reference's handler (JSON.parse, call, JSON.stringify);
 *   checked  the same plus only the checks Uplink may not drop, made with Uplink's own functions:
 *            the header's shape, the payload's limits, token expiry, the in-flight cap, the lookup of
 *            an exposed member;
 *   uplink   the gateway's connection handler (src/server/connection/connection.ts), authenticated.
 *
 * each with warm caches (calls back to back) and cold ones (EVICT bytes written between two calls,
 * not timed). The cold column is the one the fixed-rate rows of `npm run bench` see.
 *
 *   npm run bench:cold-calls
 */
import { SignJWT } from 'jose';
import { Gateway, JwtAuthenticator } from '../../src/index.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { defaultCodecLimits, checkJsonLimits } from '../../src/protocol/limits.js';
import { writeResult } from '../../src/protocol/frame-writer.js';
import { frameBody, parseClientHeader, parseFrameHeader } from '../../src/protocol/frames.js';
import { Connection } from '../../src/server/connection/connection.js';
import type { ConnectionEnvironment } from '../../src/server/connection/connection-environment.js';
import type { ServerSocket } from '../../src/server/connection/server-socket.js';
import { median } from '../measurement.js';
import { BENCH_SECRET } from '../servers/bench-secret.js';

const CALLS = 30_000;
const ROUNDS = 5;
/** More than this machine's caches: what the calls touch is evicted between two of them. */
const EVICT = 8 * 1024 * 1024;

/** A socket that keeps nothing: what is sent is counted, so that no work is optimized away. */
class CountingSocket implements ServerSocket {
  bytes = 0;
  /** Answers that are not results (a refusal would make a handler look cheap). */
  notResults = 0;
  bufferedAmount = 0;
  last: string | Uint8Array = '';
  send(message: string | Uint8Array): boolean {
    this.last = message;
    this.bytes += typeof message === 'string' ? message.length : message.byteLength;
    if (typeof message !== 'string' || !(message.startsWith('{"t":"result"') || message.startsWith('{"id":'))) this.notResults++;
    return true;
  }
  cork(writes: () => void): void { writes(); }
  end(): void {}
}

async function uplinkHandler(socket: CountingSocket): Promise<(message: ArrayBuffer) => void> {
  const gateway = new Gateway({ port: 0, logLevel: 'warn', maxInflight: 256, authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: BENCH_SECRET }) });
  registerDemoObjects(gateway);
  // The environment the gateway gives each connection; the bench reaches past the socket layer on purpose.
  const env = (gateway as unknown as { env: ConnectionEnvironment }).env;
  const connection = new Connection(socket, { remoteAddress: '127.0.0.1', origin: undefined, userAgent: undefined }, env, 'bench');
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(BENCH_SECRET));
  connection.receive(encode(JSON.stringify({ t: 'hello', v: [1], token })), false);
  await new Promise((resolve) => setTimeout(resolve, 100)); // the hello's token check is asynchronous
  if (typeof socket.last !== 'string' || !socket.last.startsWith('{"t":"welcome"')) throw new Error('the hello was not welcomed');
  socket.notResults = 0;
  return (message) => connection.receive(message, false);
}

function rawHandler(socket: ServerSocket): (message: ArrayBuffer) => void {
  const methods: Record<string, (a: number, b: number) => number> = { add: (a, b) => a + b };
  return (message) => {
    const request = JSON.parse(Buffer.from(message).toString()) as { id: number; m: string; a: [number, number] };
    socket.send(JSON.stringify({ id: request.id, r: methods[request.m]!(...request.a) }));
  };
}

function checkedHandler(socket: ServerSocket): (message: ArrayBuffer) => void {
  const exposed = new Map<string, (a: number, b: number) => number>([['add', (a, b) => a + b]]);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const expiresAt = Date.now() + 3_600_000;
  let inflight = 0;
  return (message) => {
    const text = decoder.decode(message);
    const frame = parseClientHeader(parseFrameHeader(text));
    if (frame.t !== 'call') throw new Error('not a call');
    if (Date.now() >= expiresAt) throw new Error('token expired');
    if (inflight >= 256) throw new Error('busy');
    const args = JSON.parse(frameBody(text)) as [number, number];
    checkJsonLimits(args, defaultCodecLimits);
    const method = exposed.get(frame.m);
    if (!method || !Array.isArray(args)) throw new Error('unknown member');
    inflight++;
    const result = method(...args);
    inflight--;
    socket.send(writeResult(frame.id, undefined, undefined, { text: JSON.stringify(result) }));
  };
}

function encode(text: string): ArrayBuffer {
  return new TextEncoder().encode(text).buffer as ArrayBuffer;
}

const evictee = new Float64Array(EVICT / 8);
/** Writes one word per cache line of a buffer larger than the caches. */
function evictCaches(): void {
  for (let i = 0; i < evictee.length; i += 8) evictee[i]! += 1;
}

/** µs per call over one pass of the messages; `cold`: caches evicted before each call (not timed). */
function usPerCall(handle: (message: ArrayBuffer) => void, messages: ArrayBuffer[], cold: boolean): number {
  let ns = 0n;
  for (const message of messages) {
    if (cold) evictCaches();
    const t0 = process.hrtime.bigint();
    handle(message);
    ns += process.hrtime.bigint() - t0;
  }
  return Number(ns) / messages.length / 1000;
}

const socket = new CountingSocket();
// Growing ids, as a client's; made before timing so that the harness's own allocation stays out.
const uplinkMessages = Array.from({ length: CALLS }, (_, i) => encode(`{"t":"call","id":${1_000_000 + i},"o":"calc","m":"add"}\n[1,2]`));
const rawMessages = Array.from({ length: CALLS }, (_, i) => encode(`{"id":${1_000_000 + i},"m":"add","a":[1,2]}`));
const handlers: Array<[string, (message: ArrayBuffer) => void, ArrayBuffer[]]> = [
  ['raw', rawHandler(socket), rawMessages],
  ['checked', checkedHandler(socket), uplinkMessages],
  ['uplink', await uplinkHandler(socket), uplinkMessages],
];
for (const [, handle, messages] of handlers) usPerCall(handle, messages.slice(0, 10_000), false); // warm-up: optimized code
// The handlers take turns in every round (this machine's speed drifts between runs); each row is the
// median over rounds of its time, and of its ratio to raw's time in the same round.
const times = handlers.map(() => ({ warm: [] as number[], cold: [] as number[] }));
for (let round = 0; round < ROUNDS; round++) {
  for (const cold of [false, true]) {
    handlers.forEach(([, handle, messages], i) => times[i]![cold ? 'cold' : 'warm'].push(usPerCall(handle, messages, cold)));
  }
}
console.log(`node ${process.version}, add(1,2), server JavaScript per call (medians of ${ROUNDS} rounds of ${CALLS}); cold: ${EVICT / 1048576} MiB written between calls`);
console.log('handler   warm us  cold us   warm x raw  cold x raw  cold - warm');
handlers.forEach(([name], i) => {
  const t = times[i]!;
  const ratio = (kind: 'warm' | 'cold') => median(t[kind].map((v, round) => v / times[0]![kind][round]!));
  console.log(`${name.padEnd(9)} ${median(t.warm).toFixed(2).padStart(7)} ${median(t.cold).toFixed(2).padStart(8)} ${ratio('warm').toFixed(2).padStart(11)} ${ratio('cold').toFixed(2).padStart(11)} ${(median(t.cold) - median(t.warm)).toFixed(2).padStart(12)}`);
});
if (socket.bytes === 0 || socket.notResults > 0) throw new Error(`${socket.notResults} answers were not results`);
process.exit(0);
