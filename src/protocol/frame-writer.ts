/**
 * One writer per frame type: the only place a frame header is built. Both peers send what these
 * return (a text message, or a binary one when the payload has attachments; binary.ts).
 *
 * Invariants kept here: numbers templated into a header are safe non-negative integers (checked,
 * so a bug upstream becomes an exception, never a malformed frame); a resume key is base64url, so it
 * needs no JSON escaping; optional fields that are undefined are left out; `t` comes first.
 */
import type { EncodedPayload } from './codec.js';
import { packBinary } from './binary.js';
import {
  isFrameId, type Annotations, type BatchCall, type BatchOutcome, type MemberKind, type WelcomeFrame,
} from './frames.js';
import type { ErrorBody } from './errors.js';
import { isRefId } from './refs.js';

/** What goes on the socket: a text message, or a binary one carrying attachments. */
export type WireMessage = string | Uint8Array;

/** The tags a request may carry: a deadline in ms from receipt, a correlation id, annotations. */
export interface RequestTags { dl?: number | undefined; cid?: string | undefined; ann?: Annotations | undefined }

const RESUME_KEY = /^[A-Za-z0-9_-]{1,256}$/;

/** A number that goes into a header unquoted: ids, sequence numbers, credits. */
function int(n: number): number {
  if (!isFrameId(n)) throw new TypeError(`frame field must be a safe non-negative integer, got ${n}`);
  return n;
}

/**
 * The text of a checked header number, for the templated headers below. Not `${n}`: V8 keeps the
 * strings it makes that way in a cache that lives in the old generation, so with ever-growing ids
 * (one per call, a sequence number per batch) every scavenge finds thousands of fresh strings held
 * by that cache and promotes them: about 4x the time in scavenges (`npm run bench:number-strings`,
 * docs/performance.md). JSON.stringify writes the digits without that cache.
 */
function num(n: number): string {
  return JSON.stringify(int(n));
}

/** The header, then `\n` and the payload text when there is a payload; binary when it has attachments. */
function message(header: string, payload?: EncodedPayload): WireMessage {
  if (payload === undefined) return header;
  const text = header + '\n' + payload.text;
  return payload.attachments ? packBinary(text, payload.attachments) : text;
}

/** JSON header with undefined fields dropped (JSON.stringify leaves them out). */
function json(header: { t: string } & Record<string, unknown>): string {
  return JSON.stringify(header);
}

/**
 * Whether a message is larger than `limit` bytes on the wire (UTF-8 for text). Exact, but cheap for
 * the common case: a string of n UTF-16 units takes between n and 3n bytes.
 */
export function exceedsBytes(message: WireMessage, limit: number): boolean {
  if (typeof message !== 'string') return message.byteLength > limit;
  if (message.length > limit) return true;
  if (message.length * 3 <= limit) return false;
  let bytes = 0;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    // A surrogate pair (4 bytes) counts 2 + 2 over its two units (a lone surrogate, invalid text, counts 2).
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return bytes > limit;
}

// ---- client to gateway ----

export function writeHello(versions: readonly number[], client: string, token: string | undefined): WireMessage {
  return json({ t: 'hello', v: versions, client, token });
}

/**
 * Templated rather than JSON.stringify of an object (the client's most frequent header: the object
 * spread and the generic stringify were its largest own cost per call); the text is the same, key for
 * key: t, id, o, m, k, dl, cid, ann, undefined ones left out (test/unit/frame-writer.test.ts).
 */
export function writeCall(id: number, o: string, m: string, k: MemberKind | undefined, tags: RequestTags, args?: EncodedPayload): WireMessage {
  let header = '{"t":"call","id":' + num(id) + ',"o":' + JSON.stringify(o) + ',"m":' + JSON.stringify(m);
  if (k !== undefined) header += ',"k":' + JSON.stringify(k);
  if (tags.dl !== undefined) header += ',"dl":' + JSON.stringify(tags.dl);
  if (tags.cid !== undefined) header += ',"cid":' + JSON.stringify(tags.cid);
  if (tags.ann !== undefined) header += ',"ann":' + JSON.stringify(tags.ann);
  return message(header + '}', args);
}

export function writeOneway(o: string, m: string, args: EncodedPayload, tags: Omit<RequestTags, 'dl'> = {}): WireMessage {
  return message(json({ t: 'oneway', o, m, ...tags }), args);
}

/** The body is every call's arguments back to back; `calls[i].n` and `.a` say how to split it. */
export function writeBatch(id: number, stop: boolean, calls: BatchCall[], tags: RequestTags, args: EncodedPayload): WireMessage {
  return message(json({ t: 'batch', id: int(id), stop, calls, ...tags }), args);
}

export function writeStream(id: number, o: string, m: string, upTo: number, tags: Omit<RequestTags, 'dl'>, args: EncodedPayload): WireMessage {
  return message(json({ t: 'stream', id: int(id), o, m, upTo: int(upTo), ...tags }), args);
}

export function writeCredit(id: number, upTo: number, ack: number): WireMessage {
  return `{"t":"credit","id":${num(id)},"upTo":${num(upTo)},"ack":${num(ack)}}`;
}

export function writeResume(id: number, key: string, ack: number, upTo: number): WireMessage {
  return json({ t: 'resume', id: int(id), key, ack: int(ack), upTo: int(upTo) });
}

export function writeCancel(id: number): WireMessage {
  return `{"t":"cancel","id":${num(id)}}`;
}

export function writeRefresh(id: number, token: string): WireMessage {
  return json({ t: 'refresh', id: int(id), token });
}

/** The answer to a `callback` frame: its value. */
export function writeCallbackResult(id: number, value: EncodedPayload): WireMessage {
  return message(`{"t":"callback-result","id":${num(id)}}`, value);
}

/** A callback failed: the error without its data, the data as the body (as for `error`). */
export function writeCallbackError(id: number, error: ErrorBody, encode: (data: unknown) => EncodedPayload): WireMessage {
  const { data, ...rest } = error;
  return message(json({ t: 'callback-error', id: int(id), ...rest }), dataBody(data, encode));
}

/** An error's data as a frame body; data that cannot be encoded is dropped, never the error itself. */
function dataBody(data: unknown, encode: (data: unknown) => EncodedPayload): EncodedPayload | undefined {
  try {
    return data === undefined ? undefined : encode(data);
  } catch {
    return undefined;
  }
}

// ---- either side ----

/**
 * Lets go of a reference (refs.ts: the id's first letter says whose it is). A holder passes `received`,
 * how many times the id reached it; the owner withdrawing its own reference passes nothing.
 */
export function writeRelease(ref: string, received?: number): WireMessage {
  if (!isRefId(ref)) throw new TypeError('not a reference id');
  // Reference ids are [A-Za-z0-9_-]: safe in JSON as they are.
  return received === undefined ? `{"t":"release","ref":"${ref}"}` : `{"t":"release","ref":"${ref}","n":${num(received)}}`;
}

export function writePing(id: number): WireMessage {
  return `{"t":"ping","id":${num(id)}}`;
}

export function writePong(id: number): WireMessage {
  return `{"t":"pong","id":${num(id)}}`;
}

// ---- gateway to client ----

export function writeWelcome(welcome: Omit<WelcomeFrame, 't'>): WireMessage {
  return json({ t: 'welcome', ...welcome });
}

export function writeRefreshed(id: number, expiry: { exp?: number; expIn?: number }): WireMessage {
  return json({ t: 'refreshed', id: int(id), ...expiry });
}

export function writeResult(id: number, cid: string | undefined, ann: Annotations | undefined, value: EncodedPayload): WireMessage {
  // The hot path (no tags) is a template: id is checked by num().
  const header = cid === undefined && ann === undefined ? `{"t":"result","id":${num(id)}}` : json({ t: 'result', id: int(id), cid, ann });
  return message(header, value);
}

/** `results[i]` is `{ n, a? }` for a result whose body is the next n characters, an error, or null (not run). */
export function writeBatchResult(id: number, cid: string | undefined, results: BatchOutcome[], values: EncodedPayload): WireMessage {
  return message(json({ t: 'batch-result', id: int(id), results, cid }), values);
}

/**
 * An error frame: the header fields, the error without its data, and the data as the body. Data
 * that cannot be encoded is dropped, never the error itself.
 */
export function writeError(fields: { id?: number | undefined; cid?: string | undefined; seq?: number | undefined }, error: ErrorBody, encode: (data: unknown) => EncodedPayload): WireMessage {
  const { id, cid, seq } = fields;
  const { data, ...rest } = error;
  return message(json({ t: 'error', id: id === undefined ? undefined : int(id), cid, seq: seq === undefined ? undefined : int(seq), ...rest }), dataBody(data, encode));
}

export function writeStreamOpen(id: number, key: string): WireMessage {
  if (!RESUME_KEY.test(key)) throw new TypeError('a resume key must be base64url');
  return `{"t":"stream-open","id":${num(id)},"key":"${key}"}`; // base64url: safe in JSON as is
}

/** Items seq, seq+1, ...: the payload is their array. */
export function writeItems(id: number, seq: number, items: EncodedPayload): WireMessage {
  return message(`{"t":"items","id":${num(id)},"seq":${num(seq)}}`, items);
}

export function writeEnd(id: number, total: number): WireMessage {
  return `{"t":"end","id":${num(id)},"seq":${num(total)}}`;
}

/** Calls the client's reference `ref` (member `member` of an exposed object), answered by callback-result or callback-error. */
export function writeCallback(id: number, ref: string, member: string | undefined, dl: number | undefined, args: EncodedPayload): WireMessage {
  return message(json({ t: 'callback', id: int(id), ref, m: member, dl }), args);
}

export function writeCallbackCancel(id: number): WireMessage {
  return `{"t":"callback-cancel","id":${num(id)}}`;
}

export function writeGoodbye(reason: string, reconnectMs?: number): WireMessage {
  return json({ t: 'goodbye', reason, reconnectMs });
}
