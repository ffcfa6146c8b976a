/**
 * Frame envelopes of protocol version 1 (docs/protocol.md is the normative text).
 *
 * A frame is `HEADER` or `HEADER \n BODY`: HEADER is one line of JSON (JSON.stringify never emits a raw
 * newline), BODY is an encoded payload (see payload.ts) that the gateway forwards to the object host
 * without decoding it. Frames with binary attachments travel as binary WebSocket messages (binary.ts).
 */
import { ErrorCode, PayloadError, type ErrorBody } from './errors.js';
import { FORBIDDEN_KEYS } from './limits.js';
import { isRefId } from './refs.js';

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
  /** `maxRefs`: references per connection in each direction (absent: the gateway has no references). */
  limits: { maxPayload: number; maxInflight: number; maxArgs: number; maxRefs?: number };
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
/** The gateway calls the client's reference `ref` (member `m` of an exposed object; absent: the function). `id` is the gateway's own number space. */
export interface CallbackFrame { t: 'callback'; id: number; ref: string; m?: string; dl?: number }
/** The gateway no longer waits for callback `id` (its deadline passed or the server method gave up). */
export interface CallbackCancelFrame { t: 'callback-cancel'; id: number }
export interface CallbackResultFrame { t: 'callback-result'; id: number }
export interface CallbackErrorFrame extends ErrorBody { t: 'callback-error'; id: number }
/**
 * The sender lets go of a reference: a server reference (`s...`) or a client reference (`c...`). A
 * holder says how many times it received the id (`n`): the owner forgets the reference only once it
 * has not sent it more often than that (a copy may be on its way). Without `n`, the owner withdraws it.
 */
export interface ReleaseFrame { t: 'release'; ref: string; n?: number }

/** Frames a client may send. */
export type ClientFrame = HelloFrame | CallFrame | OnewayFrame | BatchFrame | PingFrame | PongFrame | CancelFrame | GoodbyeFrame | RefreshFrame
  | StreamFrame | CreditFrame | ResumeFrame | CallbackResultFrame | CallbackErrorFrame | ReleaseFrame;
export type ServerFrame = WelcomeFrame | ResultFrame | ErrorFrame | BatchResultFrame | PingFrame | PongFrame | GoodbyeFrame | RefreshedFrame
  | StreamOpenFrame | ItemsFrame | EndFrame | CallbackFrame | CallbackCancelFrame | ReleaseFrame;

/** A received frame, split but not decoded: `body` is the payload text ('' when absent). */
export interface RawFrame<H> { header: H; body: string; attachments: Uint8Array[] | undefined }

export function badFrame(message: string): PayloadError {
  return new PayloadError(ErrorCode.BAD_FRAME, message);
}

/** A header that parsed but does not check: its type and id when they could be read (the refusal may name the request). */
export class HeaderError extends PayloadError {
  constructor(message: string, readonly frameType: string | undefined, readonly frameId: number | undefined) {
    super(ErrorCode.BAD_FRAME, message);
  }
}

/**
 * A frame's text is `HEADER[\nBODY]`. The header line, parsed (not yet checked against a shape).
 * Throws BAD_FRAME. `nl`: the first newline's index, when the caller has it already.
 */
export function parseFrameHeader(text: string, nl = text.indexOf('\n')): unknown {
  try {
    return JSON.parse(nl < 0 ? text : text.slice(0, nl));
  } catch {
    throw badFrame('frame header is not valid JSON');
  }
}

/** Everything after a frame's header line ('' when there is none). */
export function frameBody(text: string, nl = text.indexOf('\n')): string {
  return nl < 0 ? '' : text.slice(nl + 1);
}

export function joinFrame(header: object, body?: string): string {
  const h = JSON.stringify(header);
  return body === undefined ? h : h + '\n' + body;
}

// ---- header validation: every field a peer sends is checked for type and size before use ----

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isFrameId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;

type Check = (v: unknown) => boolean;
/** The fields a frame type must and may carry, each with its check. */
interface Shape { required?: Record<string, Check>; optional?: Record<string, Check> }

export function isAnnotations(v: unknown): boolean {
  if (!isDict(v)) return false;
  const keys = Object.keys(v);
  if (keys.length > MAX_ANNOTATIONS) return false;
  for (const k of keys) {
    const value = v[k];
    // The payload's key rule holds here too: user code may copy annotations into objects of its own.
    if (k.length > MAX_NAME_LENGTH || FORBIDDEN_KEYS.has(k) || typeof value !== 'string' || value.length > MAX_ANNOTATION_VALUE_LENGTH) return false;
  }
  return true;
}
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPositive = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isKind = (v: unknown): boolean => v === 'get' || v === 'set';
const isDeadline = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 2_147_483_647;
const isString = (v: unknown): boolean => typeof v === 'string';
const isBoolean = (v: unknown): boolean => typeof v === 'boolean';
const isReason = (v: unknown): boolean => typeof v === 'string' && v.length <= MAX_NAME_LENGTH;
/** An error message from a client (a callback's failure): bounded like the rest of a header. */
const isMessage = (v: unknown): boolean => typeof v === 'string' && v.length <= 4_096;
const isVersionList = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.length <= 16 && v.every((x) => Number.isSafeInteger(x));

function isBatchCalls(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BATCH_CALLS) return false;
  for (const c of v) {
    if (!isDict(c) || !isName(c.o) || !isName(c.m) || (c.k !== undefined && !isKind(c.k))) return false;
    if (!isCount(c.n) || (c.a !== undefined && !isCount(c.a))) return false;
  }
  return true;
}

const target = { o: isName, m: isName };
const tags = { cid: isName, ann: isAnnotations };
const idOnly: Shape = { required: { id: isFrameId } };

/** Every frame a client may send, and what its header must look like. */
const CLIENT_SHAPES: Record<string, Shape> = {
  call: { required: { id: isFrameId, ...target }, optional: { k: isKind, dl: isDeadline, ...tags } },
  oneway: { required: target, optional: tags },
  batch: { required: { id: isFrameId, stop: isBoolean, calls: isBatchCalls }, optional: { dl: isDeadline, ...tags } },
  stream: { required: { id: isFrameId, ...target, upTo: isCount }, optional: tags },
  credit: { required: { id: isFrameId, upTo: isCount, ack: isCount } },
  resume: { required: { id: isFrameId, key: isName, ack: isCount, upTo: isCount } },
  cancel: idOnly,
  ping: idOnly,
  pong: idOnly,
  refresh: { required: { id: isFrameId, token: isString } },
  hello: { required: { v: isVersionList }, optional: { token: isString, client: isName } },
  goodbye: { required: { reason: isReason } },
  'callback-result': idOnly,
  'callback-error': { required: { id: isFrameId, code: isName, name: isName, message: isMessage } },
  release: { required: { ref: isRefId }, optional: { n: isPositive } },
};

/** Every frame a gateway may send (the client trusts the server's shape no more than its own). */
const SERVER_SHAPES: Record<string, Shape> = {
  result: idOnly,
  ping: idOnly,
  pong: idOnly,
  refreshed: idOnly,
  'stream-open': { required: { id: isFrameId, key: isString } },
  items: { required: { id: isFrameId, seq: isCount } },
  end: { required: { id: isFrameId, seq: isCount } },
  error: { required: { code: isString, message: isString }, optional: { id: isFrameId } },
  'batch-result': { required: { id: isFrameId, results: Array.isArray } },
  welcome: { required: { v: Number.isSafeInteger, conn: isString } },
  goodbye: { required: { reason: isString } },
  callback: { required: { id: isFrameId, ref: isRefId }, optional: { m: isName, dl: isDeadline } },
  'callback-cancel': idOnly,
  release: { required: { ref: isRefId }, optional: { n: isPositive } },
};

/** A shape as parallel lists (index loops: no iterator or tuple per field). */
interface CompiledShape { required: string[]; requiredChecks: Check[]; optional: string[]; optionalChecks: Check[] }
type Checks = Map<string, CompiledShape>;

/** Shapes as lists, built once: validating a header allocates nothing. */
function compile(shapes: Record<string, Shape>): Checks {
  return new Map(Object.entries(shapes).map(([t, s]) => [t, {
    required: Object.keys(s.required ?? {}), requiredChecks: Object.values(s.required ?? {}),
    optional: Object.keys(s.optional ?? {}), optionalChecks: Object.values(s.optional ?? {}),
  }]));
}
const clientChecks = compile(CLIENT_SHAPES);
const serverChecks = compile(SERVER_SHAPES);

function checkShape(header: unknown, checks: Checks): Dict {
  if (!isDict(header)) throw badFrame('frame header must be a JSON object');
  const shape = typeof header.t === 'string' ? checks.get(header.t) : undefined;
  if (!shape) throw badFrame('unknown frame type');
  const { required, requiredChecks, optional, optionalChecks } = shape;
  const refuse = (message: string) => new HeaderError(message, header.t as string, isFrameId(header.id) ? header.id : undefined);
  for (let i = 0; i < required.length; i++) {
    if (!requiredChecks[i]!(header[required[i]!])) throw refuse(`missing or invalid field '${required[i]}'`);
  }
  for (let i = 0; i < optional.length; i++) {
    const value = header[optional[i]!];
    if (value !== undefined && !optionalChecks[i]!(value)) throw refuse(`invalid field '${optional[i]}'`);
  }
  return header;
}

/** Validates a header sent by a client. Throws BAD_FRAME; never trusts a field it has not checked. */
export function parseClientHeader(header: unknown): ClientFrame {
  return checkShape(header, clientChecks) as unknown as ClientFrame;
}

/** Validates a header sent by a gateway. */
export function parseServerHeader(header: unknown): ServerFrame {
  return checkShape(header, serverChecks) as unknown as ServerFrame;
}

/** Picks the highest version both sides speak, or undefined. */
export function negotiateVersion(offered: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const v of offered) if (SUPPORTED_VERSIONS.includes(v) && (best === undefined || v > best)) best = v;
  return best;
}
