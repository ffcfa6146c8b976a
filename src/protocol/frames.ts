/**
 * Frame envelopes of protocol version 1 (docs/protocol.md is the normative text).
 *
 * A frame is `HEADER` or `HEADER \n BODY`: HEADER is one line of JSON (JSON.stringify never emits a raw
 * newline), BODY is an encoded payload (see payload.ts) that the gateway forwards to the object host
 * without decoding it. Frames with binary attachments travel as binary WebSocket messages (binary.ts).
 */
import { ErrorCode, PayloadError, type ErrorBody } from '../errors.js';

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Identifier limits for object ids, member names, correlation ids and annotation keys. */
export const MAX_NAME_LENGTH = 256;
export const MAX_ANNOTATIONS = 16;
export const MAX_ANNOTATION_VALUE_LENGTH = 1024;
export const MAX_BATCH_CALLS = 64;

export type Annotations = Record<string, string>;
export type MemberKind = 'get' | 'set';

export interface HelloFrame { t: 'hello'; v: number[]; token?: string; client?: string }
export interface WelcomeFrame {
  t: 'welcome'; v: number; conn: string; server: string;
  limits: { maxPayload: number; maxInflight: number; maxArgs: number };
  /** Token expiry, epoch milliseconds, when the connection is authenticated with an expiring token. */
  exp?: number;
  /** Milliseconds from this frame until the token expires (immune to clock skew between the peers). */
  expIn?: number;
}
/** Opens a stream: the method's results arrive as `items` frames; the client may receive items with seq < upTo. */
export interface StreamFrame { t: 'stream'; id: number; o: string; m: string; upTo: number; cid?: string; ann?: Annotations }
/** Grants credit (items with seq < upTo) and acknowledges every item with seq < ack. */
export interface CreditFrame { t: 'credit'; id: number; upTo: number; ack: number }
/** Reattaches a lingering stream (by its resume key) to this connection under `id`. */
export interface ResumeFrame { t: 'resume'; id: number; key: string; ack: number; upTo: number }
/** The stream is running; `key` resumes it after a reconnect. */
export interface StreamOpenFrame { t: 'stream-open'; id: number; key: string }
/** Items seq, seq+1, ... (the body is their array). */
export interface ItemsFrame { t: 'items'; id: number; seq: number }
/** The stream ended after `seq` items in all. */
export interface EndFrame { t: 'end'; id: number; seq: number }
/** A fresh token for a live connection (same subject and issuer). */
export interface RefreshFrame { t: 'refresh'; id: number; token: string }
export interface RefreshedFrame { t: 'refreshed'; id: number; exp?: number; expIn?: number }
export interface CallFrame {
  t: 'call'; id: number; o: string; m: string;
  /** Property access instead of a method call. */
  k?: MemberKind;
  /** Deadline: milliseconds the caller is still willing to wait, measured from receipt. */
  dl?: number;
  cid?: string; ann?: Annotations;
}
export interface OnewayFrame { t: 'oneway'; o: string; m: string; cid?: string; ann?: Annotations }
export interface ResultFrame { t: 'result'; id: number; cid?: string; ann?: Annotations }
/** For a stream, `seq` is the number of items delivered before the error. */
export interface ErrorFrame extends ErrorBody { t: 'error'; id?: number; cid?: string; seq?: number }
/** One call of a batch: `n` characters of the body are its arguments, `a` attachments are its own. */
export interface BatchCall { o: string; m: string; k?: MemberKind; n: number; a?: number }
export interface BatchFrame { t: 'batch'; id: number; stop: boolean; calls: BatchCall[]; dl?: number; cid?: string; ann?: Annotations }
/** One outcome per call: `{ n }` is a result whose body is the next n characters; an ErrorBody; or null (not run). */
export type BatchOutcome = { n: number; a?: number } | ErrorBody | null;
export interface BatchResultFrame { t: 'batch-result'; id: number; results: BatchOutcome[]; cid?: string }
export interface PingFrame { t: 'ping'; id: number }
export interface PongFrame { t: 'pong'; id: number }
export interface CancelFrame { t: 'cancel'; id: number }
export interface GoodbyeFrame { t: 'goodbye'; reason: string; reconnectMs?: number }

/** Frames a client may send. */
export type ClientFrame = HelloFrame | CallFrame | OnewayFrame | BatchFrame | PingFrame | PongFrame | CancelFrame | GoodbyeFrame | RefreshFrame
  | StreamFrame | CreditFrame | ResumeFrame;
export type ServerFrame = WelcomeFrame | ResultFrame | ErrorFrame | BatchResultFrame | PingFrame | PongFrame | GoodbyeFrame | RefreshedFrame
  | StreamOpenFrame | ItemsFrame | EndFrame;

/** A received frame, split but not decoded: `body` is the payload text ('' when absent). */
export interface RawFrame<H> { header: H; body: string; attachments: Uint8Array[] | undefined }

export function badFrame(message: string): PayloadError {
  return new PayloadError(ErrorCode.BAD_FRAME, message);
}

/** Splits `HEADER[\nBODY]` and parses the header JSON (nothing else). */
export function splitFrame(text: string): { header: unknown; body: string } {
  const nl = text.indexOf('\n');
  const headerText = nl < 0 ? text : text.slice(0, nl);
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    throw badFrame('frame header is not valid JSON');
  }
  return { header, body: nl < 0 ? '' : text.slice(nl + 1) };
}

export function joinFrame(header: object, body?: string): string {
  const h = JSON.stringify(header);
  return body === undefined ? h : h + '\n' + body;
}

// ---- header validation: every field a peer sends is checked for type and size before use ----

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isFrameId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;

function optional(h: Dict, key: string, check: (v: unknown) => boolean): void {
  if (h[key] !== undefined && !check(h[key])) throw badFrame(`invalid field '${key}'`);
}
function required(h: Dict, key: string, check: (v: unknown) => boolean): void {
  if (!check(h[key])) throw badFrame(`missing or invalid field '${key}'`);
}

function isAnnotations(v: unknown): boolean {
  if (!isDict(v)) return false;
  const keys = Object.keys(v);
  if (keys.length > MAX_ANNOTATIONS) return false;
  for (const k of keys) {
    const value = v[k];
    if (k.length > MAX_NAME_LENGTH || typeof value !== 'string' || value.length > MAX_ANNOTATION_VALUE_LENGTH) return false;
  }
  return true;
}
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isKind = (v: unknown): boolean => v === 'get' || v === 'set';
const isDeadline = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 2_147_483_647;

function checkCallTarget(h: Dict): void {
  required(h, 'o', isName);
  required(h, 'm', isName);
  optional(h, 'cid', isName);
  optional(h, 'ann', isAnnotations);
}

function checkBatchCalls(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BATCH_CALLS) return false;
  for (const c of v) {
    if (!isDict(c) || !isName(c.o) || !isName(c.m) || (c.k !== undefined && !isKind(c.k))) return false;
    if (!isCount(c.n) || (c.a !== undefined && !isCount(c.a))) return false;
  }
  return true;
}

/** Validates a header sent by a client. Throws BAD_FRAME; never trusts a field it has not checked. */
export function parseClientHeader(header: unknown): ClientFrame {
  if (!isDict(header)) throw badFrame('frame header must be a JSON object');
  switch (header.t) {
    case 'call':
      required(header, 'id', isFrameId);
      checkCallTarget(header);
      optional(header, 'k', isKind);
      optional(header, 'dl', isDeadline);
      break;
    case 'oneway':
      checkCallTarget(header);
      break;
    case 'batch':
      required(header, 'id', isFrameId);
      required(header, 'stop', (v) => typeof v === 'boolean');
      required(header, 'calls', checkBatchCalls);
      optional(header, 'dl', isDeadline);
      optional(header, 'cid', isName);
      optional(header, 'ann', isAnnotations);
      break;
    case 'ping':
    case 'pong':
    case 'cancel':
      required(header, 'id', isFrameId);
      break;
    case 'refresh':
      required(header, 'id', isFrameId);
      required(header, 'token', (v) => typeof v === 'string');
      break;
    case 'stream':
      required(header, 'id', isFrameId);
      checkCallTarget(header);
      required(header, 'upTo', isCount);
      break;
    case 'credit':
      required(header, 'id', isFrameId);
      required(header, 'upTo', isCount);
      required(header, 'ack', isCount);
      break;
    case 'resume':
      required(header, 'id', isFrameId);
      required(header, 'key', isName);
      required(header, 'ack', isCount);
      required(header, 'upTo', isCount);
      break;
    case 'hello':
      required(header, 'v', (v) => Array.isArray(v) && v.length > 0 && v.length <= 16 && v.every((x) => Number.isSafeInteger(x)));
      optional(header, 'token', (v) => typeof v === 'string');
      optional(header, 'client', isName);
      break;
    case 'goodbye':
      required(header, 'reason', (v) => typeof v === 'string' && v.length <= MAX_NAME_LENGTH);
      break;
    default:
      throw badFrame('unknown frame type');
  }
  return header as unknown as ClientFrame;
}

/** Validates a header sent by a gateway (the client trusts the server's shape no more than its own). */
export function parseServerHeader(header: unknown): ServerFrame {
  if (!isDict(header) || typeof header.t !== 'string') throw badFrame('frame header must be a JSON object with a type');
  switch (header.t) {
    case 'result':
    case 'pong':
    case 'ping':
    case 'refreshed':
    case 'stream-open':
      required(header, 'id', isFrameId);
      break;
    case 'items':
    case 'end':
      required(header, 'id', isFrameId);
      required(header, 'seq', isCount);
      break;
    case 'error':
      optional(header, 'id', isFrameId);
      required(header, 'code', (v) => typeof v === 'string');
      required(header, 'message', (v) => typeof v === 'string');
      break;
    case 'batch-result':
      required(header, 'id', isFrameId);
      required(header, 'results', Array.isArray);
      break;
    case 'welcome':
      required(header, 'v', Number.isSafeInteger);
      required(header, 'conn', (v) => typeof v === 'string');
      break;
    case 'goodbye':
      required(header, 'reason', (v) => typeof v === 'string');
      break;
    default:
      throw badFrame('unknown frame type');
  }
  return header as unknown as ServerFrame;
}

/** Picks the highest version both sides speak, or undefined. */
export function negotiateVersion(offered: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const v of offered) if (SUPPORTED_VERSIONS.includes(v) && (best === undefined || v > best)) best = v;
  return best;
}
