/**
 * A call and its answer travel on NATS without NATS headers: nats.js spent 8 to 9.5 us more per round
 * trip on Uplink's call headers and the answer's event header than on none (`npm run bench:nats-headers`,
 * #27), and a header value may not hold CR or LF nor keep surrounding spaces. Both are one payload:
 *
 *   call:    u32be headBytes | head (UTF-8 JSON object) | arguments (the layout of protocol/binary.ts)
 *   answer:  u32be headBytes | head (UTF-8 JSON object) | result (the same layout), or the error payload
 *
 * Call head: `m` member, `k` kind (call, get, set, stream), `c` connection (`<gateway>/<id>`), `a` the
 * client's address, `r` correlation id; when set: `t` milliseconds left (relative: immune to clock
 * skew), `i` the identity the gateway verified, `s` the gateway's signed assertion of it, `n` the
 * client's annotations, `p` the gateway span's traceparent, `u` a stream's first grant.
 * Answer head: `e` ok, error or accepted; `h` the answering host (accepted, session objects), `pin`: 1
 * (a session object: later calls of the connection go to `h`), `n` result annotations.
 *
 * Invariants: the gateway never decodes arguments or results; everything read here is checked field
 * by field, and anything malformed is a throw (a call: BAD_FRAME; an answer: INTERNAL), never a crash.
 */
import type { Identity } from '../core/context.js';
import { isAnnotations, MAX_NAME_LENGTH, type Annotations } from '../protocol/frames.js';
import type { EncodedPayload } from '../protocol/codec.js';
import { isNodeId, packedSize, unpackPayload, writePacked, type CallContextFields, type OutgoingCall } from './envelope.js';

/** An identity is the same object for every call of its connection (until a refresh): its JSON is written once. */
const identityJson = new WeakMap<Identity, string>();

function jsonOf(identity: Identity): string {
  let text = identityJson.get(identity);
  if (text === undefined) identityJson.set(identity, (text = JSON.stringify(identity)));
  return text;
}

const str = JSON.stringify;

/** A call's message: its head, then its arguments packed (`argsBytes`: their packedSize, when known already). */
export function encodeCall(call: OutgoingCall, args: EncodedPayload, argsBytes?: number): Uint8Array {
  const c = call.context;
  let head = `{"m":${str(call.member)},"k":${str(call.kind)},"c":${str(c.connection)},"a":${str(c.remoteAddress)},"r":${str(c.correlationId)}`;
  if (call.timeoutMs !== undefined) head += `,"t":${Math.max(0, Math.floor(call.timeoutMs))}`;
  if (call.identity) head += `,"i":${jsonOf(call.identity)}`;
  if (call.assertion !== undefined) head += `,"s":${str(call.assertion)}`;
  if (c.annotations) head += `,"n":${str(c.annotations)}`;
  if (c.traceparent !== undefined) head += `,"p":${str(c.traceparent)}`;
  if (c.noPeer) head += ',"w":0';
  if (call.upTo !== undefined) head += `,"u":${call.upTo}`;
  return withHead(`${head}}`, args, argsBytes);
}

/** The connection id on hosts: the gateway's id, a slash, the gateway's own id for it. */
const REMOTE_CONNECTION = /^[A-Za-z0-9]{22}\/[A-Za-z0-9_-]{1,64}$/;
const KINDS: ReadonlySet<string> = new Set(['call', 'get', 'set', 'stream']);

/**
 * A call read back, checked field by field (a throw: the call is malformed, answered BAD_FRAME).
 * `identity` false: the identity in the head is not read at all (a host that verifies assertions).
 */
export function decodeCall(data: Uint8Array, maxAttachments: number, identity = true): { call: OutgoingCall; args: EncodedPayload } {
  const { head, body } = split(data);
  const h = head as Record<string, unknown>;
  if (typeof h.m !== 'string' || h.m.length === 0 || h.m.length > MAX_NAME_LENGTH) throw new Error('a call without a member');
  if (typeof h.k !== 'string' || !KINDS.has(h.k)) throw new Error('unknown call kind');
  const call: OutgoingCall = {
    member: h.m, kind: h.k, timeoutMs: h.t === undefined ? undefined : countOf(h.t),
    identity: identity ? identityOf(h.i) : undefined, context: contextOf(h),
    ...(h.u === undefined ? {} : { upTo: countOf(h.u) }),
    ...(h.s === undefined ? {} : { assertion: stringOf(h.s, 'assertion') }),
  };
  return { call, args: unpackPayload(body, maxAttachments) };
}

function contextOf(h: Record<string, unknown>): CallContextFields {
  if (typeof h.c !== 'string' || !REMOTE_CONNECTION.test(h.c)) throw new Error('a call without its connection');
  if (typeof h.a !== 'string' || typeof h.r !== 'string') throw new Error('a call without its context');
  if (h.n !== undefined && !isAnnotations(h.n)) throw new Error('malformed annotations');
  if (h.w !== undefined && h.w !== 0) throw new Error('malformed way back');
  return {
    connection: h.c, remoteAddress: h.a.slice(0, 64), correlationId: h.r,
    ...(h.n === undefined ? {} : { annotations: h.n as Annotations }),
    ...(h.p === undefined ? {} : { traceparent: stringOf(h.p, 'traceparent') }),
    ...(h.w === 0 ? { noPeer: true as const } : {}),
  };
}

/** The identity a gateway verified (no check of who sent it: identity-assertion.ts does that), frozen as the gateway's own are. */
function identityOf(value: unknown): Identity | undefined {
  if (value === undefined) return undefined;
  const identity = value as Identity;
  if (typeof identity !== 'object' || identity === null || typeof identity.subject !== 'string' || typeof identity.claims !== 'object' || identity.claims === null) {
    throw new Error('a malformed identity');
  }
  Object.freeze(identity.claims);
  return Object.freeze(identity);
}

function countOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error(`not a count: ${String(value)}`);
  return value;
}

function stringOf(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`a malformed ${what}`);
  return value;
}

export interface AnswerHead {
  e: 'ok' | 'error' | 'accepted';
  /** The answering host (accepted, and answers of session objects). */
  h?: string;
  /** A session object: the connection's later calls go to `h`. */
  pin?: 1;
  /** Result annotations user code set, passed on to the client. */
  n?: Annotations;
}

/** An answer: its head, then a result (packed here: `bodyBytes` its packedSize when known) or an error payload. */
export function encodeAnswer(head: AnswerHead, body?: EncodedPayload | Uint8Array, bodyBytes?: number): Uint8Array {
  return withHead(str(head), body, bodyBytes);
}

/** An answer read back (a throw: malformed); unknown events come back as they are, for the caller to ignore. */
export function decodeAnswer(data: Uint8Array): { head: AnswerHead; body: Uint8Array } {
  const { head, body } = split(data);
  const h = head as Record<string, unknown>;
  if (typeof h.e !== 'string') throw new Error('an answer without its event');
  if (h.h !== undefined && !isNodeId(h.h)) throw new Error('an answer from no host id');
  if (h.n !== undefined && !isAnnotations(h.n)) throw new Error('malformed annotations');
  return { head: head as AnswerHead, body };
}

const HEAD_MAX = 64 * 1024;

/** One buffer: the head, then the body as it is (bytes) or packed in place (a payload: no second copy). */
function withHead(head: string, body: EncodedPayload | Uint8Array | undefined, bodyBytes?: number): Uint8Array {
  const headBytes = Buffer.byteLength(head, 'utf8');
  const size = body === undefined ? 0 : body instanceof Uint8Array ? body.byteLength : (bodyBytes ?? packedSize(body));
  const out = Buffer.allocUnsafe(4 + headBytes + size);
  out.writeUInt32BE(headBytes, 0);
  out.write(head, 4, 'utf8');
  if (body instanceof Uint8Array) out.set(body, 4 + headBytes);
  else if (body) writePacked(out, 4 + headBytes, body);
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function split(data: Uint8Array): { head: unknown; body: Uint8Array } {
  if (data.byteLength < 4) throw new Error('a message without its head');
  const headBytes = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  if (headBytes > HEAD_MAX || 4 + headBytes > data.byteLength) throw new Error('a head out of range');
  const head: unknown = JSON.parse(decoder.decode(data.subarray(4, 4 + headBytes)));
  if (typeof head !== 'object' || head === null || Array.isArray(head)) throw new Error('a head that is not an object');
  return { head, body: data.subarray(4 + headBytes) };
}
