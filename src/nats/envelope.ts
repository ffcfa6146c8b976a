/**
 * How stream frames, control messages, callbacks and events travel on NATS (docs/scale-out.md): the
 * encoded items or arguments as the message payload, packed with their attachments in the binary
 * layout of protocol/binary.ts (the gateway never decodes them), and everything else in headers; a
 * call and its answer carry no headers (call-envelope.ts). A client never sets a header: the gateway
 * builds them all; hosts believe them because only gateways may publish calls and control messages
 * (NATS permissions, docs/nats-server.conf).
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Identity } from '../core/context.js';
import type { ErrorBody } from '../protocol/errors.js';
import { packBinary, unpackBinary } from '../protocol/binary.js';
import { EncodedData, type Codec, type EncodedPayload } from '../protocol/codec.js';
import type { Annotations } from '../protocol/frames.js';

export const Header = {
  /** Callbacks (a host calling a gateway's client): the member, percent-encoded. */
  member: 'Uplink-Member',
  /** Milliseconds the caller still waits, from receipt (relative: immune to clock skew). */
  timeout: 'Uplink-Timeout',
  identity: 'Uplink-Identity',
  /** A gateway-signed assertion of the identity, bound to the connection (identity-assertion.ts). */
  assertion: 'Uplink-Assertion',
  /** Gateway events with cluster keys: the gateway's signature over subject and payload. */
  signature: 'Uplink-Signature',
  /** On messages to a gateway's inbox: what the message is (see Event). */
  event: 'Uplink-Event',
  /** The host that sent an accepted, open or session-object answer. */
  host: 'Uplink-Host',
  /** Stream frames: the first item's sequence number (items), the total (end) or items delivered (fail). */
  seq: 'Uplink-Seq',
  count: 'Uplink-Count',
  key: 'Uplink-Key',
  upTo: 'Uplink-UpTo',
  ack: 'Uplink-Ack',
  /** Control messages: what to do (see Op). */
  op: 'Uplink-Op',
  /** Control messages about a call: the reply subject it was sent with. */
  call: 'Uplink-Call',
  /** Control messages about a connection: its id on the gateway. */
  connection: 'Uplink-Connection',
  /** On session-object answers: the object is pinned to the answering host for this connection. */
  pin: 'Uplink-Pin',
} as const;

/** Messages a host sends to a gateway's inbox. */
export const Event = {
  ok: 'ok', error: 'error', accepted: 'accepted',
  open: 'open', items: 'items', end: 'end', fail: 'fail', released: 'released',
} as const;

/**
 * Control messages: a gateway to a host (`uplink.host.<host>.ctl`), and, for callbacks, a host to a
 * gateway (`_U.<gateway>._cb`: call the client, stop waiting, release a reference) and the gateway's
 * answer back on the host's control subject (callback-ok / callback-error).
 */
export const Op = {
  cancel: 'cancel', grant: 'grant', cancelStream: 'cancel-stream', detach: 'detach', resume: 'resume', release: 'release',
  callback: 'callback', cancelCallback: 'cancel-callback', releaseRef: 'release-ref', callbackOk: 'callback-ok', callbackError: 'callback-error',
} as const;

export const QUEUE_GROUP = 'uplink';
export const CALL_SUBJECT_PREFIX = 'uplink.call.';
export const HOST_EVENTS = 'uplink.evt.host.*';
export const GATEWAY_EVENTS = 'uplink.evt.gw.*';
export const REVOCATIONS = 'uplink.evt.revoke';
/** Object ids that are valid NATS subject tokens (dots separate tokens). */
const SUBJECT_ID = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Host and gateway ids: one token, fixed length (a stream's resume key starts with its host id). */
export const NODE_ID_LENGTH = 22;

export const Subject = {
  call: (object: string): string | undefined => (SUBJECT_ID.test(object) && object.length <= 128 ? CALL_SUBJECT_PREFIX + object : undefined),
  /** A call to one host (session objects pinned there). */
  pinnedCall: (host: string, object: string): string => `uplink.host.${host}.call.${object}`,
  control: (host: string): string => `uplink.host.${host}.ctl`,
  list: (host: string): string => `uplink.host.${host}.list`,
  metadata: (host: string): string => `uplink.host.${host}.meta`,
  hostEvents: (host: string): string => `uplink.evt.host.${host}`,
  gatewayEvents: (gateway: string): string => `uplink.evt.gw.${gateway}`,
  inbox: (gateway: string): string => `_U.${gateway}`,
  /**
   * Where hosts send callbacks for a gateway's clients: inside the gateway's inbox (so the NATS
   * permissions hold), on a token that no inbox entry can have (entries are base 36: never `_`).
   */
  callbacks: (gateway: string): string => `_U.${gateway}._cb`,
  /** References a gateway's clients let go of (`[[connection, ref], ...]`): every host drops those it holds. */
  unref: (gateway: string): string => `uplink.evt.gw.${gateway}.unref`,
} as const;

/** Host and gateway ids are NUIDs: 22 letters and digits. */
const NODE_ID = /^[A-Za-z0-9]{22}$/;
export const isNodeId = (value: unknown): value is string => typeof value === 'string' && NODE_ID.test(value);

/** A gateway's inbox entry `_U.<gateway>.<id>` (ids are base 36: never the callbacks token `_cb`). */
const GATEWAY_REPLY = /^_U\.[A-Za-z0-9]{22}\.[0-9a-z]{1,16}$/;
export const isGatewayReply = (reply: string | undefined): reply is string => reply !== undefined && GATEWAY_REPLY.test(reply);

/**
 * The inbox of a request made with nats.js's request() (`_INBOX.<nuid>.<token>`, or `_INBOX.<token>`
 * for other clients): the only place listings and service discovery are answered. Answers never go to
 * an Uplink subject, whatever reply subject an asker set (a heartbeat subject, a gateway's inbox).
 */
const REQUEST_INBOX = /^_INBOX\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/;
export const isRequestInbox = (reply: string | undefined): reply is string => reply !== undefined && reply.length <= 128 && REQUEST_INBOX.test(reply);

/** The gateway id in a reply subject `_U.<gateway>.<id>`, or undefined. */
export function gatewayOfReply(reply: string): string | undefined {
  return isGatewayReply(reply) ? reply.slice(3, 3 + NODE_ID_LENGTH) : undefined;
}

export interface CallContextFields {
  connection: string;
  remoteAddress: string;
  correlationId: string;
  annotations?: Annotations | undefined;
  /** The W3C traceparent of the gateway's span for the call, when tracing records: user code nests under it. */
  traceparent?: string | undefined;
  /** The connection has no way back to its client (calls and streams over HTTP): references and callbacks are refused. */
  noPeer?: true | undefined;
}

export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
export const unb64json = <T>(text: string): T => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as T;

export interface OutgoingCall {
  member: string;
  kind: string;
  timeoutMs: number | undefined;
  identity: Identity | undefined;
  context: CallContextFields;
  /** Streams: the consumer's first grant. */
  upTo?: number;
  /** The gateway's signed identity assertion (identity-assertion.ts), when the cluster has keys. */
  assertion?: string;
}

/** The identity a gateway verified (no check of who sent it: see identity-assertion.ts for that). */
export function readIdentity(h: MsgHdrs): Identity | undefined {
  const text = h.get(Header.identity);
  if (!text) return undefined;
  const identity = unb64json<Identity>(text);
  if (typeof identity !== 'object' || identity === null || typeof identity.subject !== 'string' || typeof identity.claims !== 'object' || identity.claims === null) {
    throw new Error('a malformed identity');
  }
  return identity;
}

/** A non-negative safe integer from a header, or a throw. */
export function count(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a count: '${text}'`);
  return n;
}

/** Room left for headers and the protocol line under the server's max_payload. */
const HEADER_ROOM = 8 * 1024;

/** The largest payload a message may carry on this connection (the server's max_payload, less header room). */
export function payloadBudget(nc: { info?: { max_payload: number } | undefined }): number {
  return Math.max(64 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM);
}

/** Bytes of `payload` in the binary layout of protocol/binary.ts (text as UTF-8, then each attachment with its length). */
export function packedSize(payload: EncodedPayload): number {
  let size = 4 + Buffer.byteLength(payload.text, 'utf8');
  if (payload.attachments) for (const a of payload.attachments) size += 4 + a.byteLength;
  return size;
}

/** Writes `payload` in that layout into `out` at `at` (room sized with packedSize); returns where it ends. */
export function writePacked(out: Buffer, at: number, payload: EncodedPayload): number {
  const length = out.write(payload.text, at + 4, 'utf8');
  out.writeUInt32BE(length, at);
  at += 4 + length;
  for (const a of payload.attachments ?? []) {
    out.writeUInt32BE(a.byteLength, at);
    out.set(a, at + 4);
    at += 4 + a.byteLength;
  }
  return at;
}

/**
 * A payload packed into a pooled Buffer: about 0.15 us against 2.3 for protocol/binary.ts's fresh
 * Uint8Array and TextEncoder output, each an off-heap allocation (measured on Node 20, #27; that one
 * is shared with the browser client, which has no Buffer). Safe to pool: a pool slice is never handed
 * out twice, and nothing writes into it after this (nats.js copies it into one buffer when it flushes).
 */
export function packPayload(payload: EncodedPayload): Uint8Array {
  const out = Buffer.allocUnsafe(packedSize(payload));
  writePacked(out, 0, payload);
  return out;
}

export function unpackPayload(data: Uint8Array, maxAttachments: number): EncodedPayload {
  const { text, attachments } = unpackBinary(data, maxAttachments);
  return { text, attachments: attachments.length > 0 ? attachments : undefined };
}

/** Headers of a message to a gateway's inbox: the event and its fields. */
export function eventHeaders(event: string, fields?: Record<string, string | number>): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.event, event);
  if (fields) for (const [name, value] of Object.entries(fields)) h.set(name, String(value));
  return h;
}

export function controlHeaders(op: string, fields: Record<string, string | number>): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.op, op);
  for (const [name, value] of Object.entries(fields)) h.set(name, String(value));
  return h;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const jsonBytes = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
export const bytesJson = <T>(data: Uint8Array): T => JSON.parse(decoder.decode(data)) as T;

/**
 * An error body on NATS: `{code, name, message}` as JSON, then a newline and the data encoded by the
 * host's codec (cycles cut, registered classes kept, as in one process), attachments packed as usual.
 */
export function errorPayload(error: ErrorBody, codec?: Codec): Uint8Array {
  const head = JSON.stringify({ code: error.code, name: error.name, message: error.message });
  if (error.data instanceof EncodedData) return packBinary(`${head}\n${error.data.payload.text}`, error.data.payload.attachments ?? []);
  if (error.data === undefined || !codec) return packBinary(head, []);
  let data: EncodedPayload;
  try {
    data = codec.encode(error.data);
  } catch {
    return packBinary(head, []); // data that cannot be encoded is left out; the error still goes
  }
  return packBinary(`${head}\n${data.text}`, data.attachments ?? []);
}

/** The error body of an error message; its data stays encoded (the gateway forwards it as it is). */
export function readErrorPayload(bytes: Uint8Array, maxAttachments: number): ErrorBody {
  const { text, attachments } = unpackBinary(bytes, maxAttachments);
  const newline = text.indexOf('\n');
  const head = JSON.parse(newline < 0 ? text : text.slice(0, newline)) as ErrorBody;
  if (!head || typeof head.code !== 'string' || typeof head.message !== 'string' || typeof head.name !== 'string') throw new Error('a malformed error');
  const body: ErrorBody = { code: head.code, name: head.name, message: head.message };
  if (newline >= 0) body.data = new EncodedData({ text: text.slice(newline + 1), attachments: attachments.length > 0 ? attachments : undefined });
  return body;
}

/** Member names travel percent-encoded: header values lose surrounding spaces and may not hold CR or LF. */
export const encodeMember = (member: string): string => encodeURIComponent(member);
export const decodeMember = (text: string): string => decodeURIComponent(text);
