/**
 * How a call and its answer travel on NATS (docs/scale-out.md): the encoded arguments or result as
 * the message payload, packed with their attachments in the binary layout of protocol/binary.ts (the
 * gateway never decodes them), and the call's context in headers the gateway sets. A client never
 * sets a header; hosts believe them because only gateways may publish calls (NATS permissions).
 */
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Identity } from '../core/context.js';
import type { ErrorBody } from '../errors.js';
import { packBinary, unpackBinary } from '../protocol/binary.js';
import type { EncodedPayload } from '../protocol/codec.js';
import type { Annotations } from '../protocol/frames.js';

export const Header = {
  member: 'Uplink-Member',
  kind: 'Uplink-Kind',
  /** Milliseconds the caller still waits, from receipt (relative: immune to clock skew). */
  timeout: 'Uplink-Timeout',
  identity: 'Uplink-Identity',
  context: 'Uplink-Context',
  /** On answers: 'ok', or 'error' with the error body as the payload. */
  status: 'Uplink-Status',
} as const;

export const CALL_SUBJECT_PREFIX = 'uplink.call.';
/** Object ids that are valid NATS subject tokens (dots separate tokens). */
const SUBJECT_ID = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function callSubject(object: string): string | undefined {
  return SUBJECT_ID.test(object) && object.length <= 128 ? CALL_SUBJECT_PREFIX + object : undefined;
}

export interface CallContextFields {
  connection: string;
  remoteAddress: string;
  correlationId: string;
  annotations?: Annotations | undefined;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const unb64 = <T>(text: string): T => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as T;

export function callHeaders(member: string, kind: string, timeoutMs: number | undefined, identity: Identity | undefined, context: CallContextFields): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.member, member);
  h.set(Header.kind, kind);
  if (timeoutMs !== undefined) h.set(Header.timeout, String(Math.max(0, Math.floor(timeoutMs))));
  if (identity) h.set(Header.identity, b64(identity));
  h.set(Header.context, b64(context));
  return h;
}

export interface ReceivedCall {
  member: string;
  kind: string;
  timeoutMs: number | undefined;
  identity: Identity | undefined;
  context: CallContextFields;
}

export function readCallHeaders(h: MsgHdrs | undefined): ReceivedCall {
  if (!h) throw new Error('a call without headers');
  const timeout = h.get(Header.timeout);
  const identity = h.get(Header.identity);
  return {
    member: h.get(Header.member),
    kind: h.get(Header.kind),
    timeoutMs: timeout ? Number(timeout) : undefined,
    identity: identity ? unb64<Identity>(identity) : undefined,
    context: unb64<CallContextFields>(h.get(Header.context)),
  };
}

export function packPayload(payload: EncodedPayload): Uint8Array {
  return packBinary(payload.text, payload.attachments ?? []);
}

export function unpackPayload(data: Uint8Array, maxAttachments: number): EncodedPayload {
  const { text, attachments } = unpackBinary(data, maxAttachments);
  return { text, attachments: attachments.length > 0 ? attachments : undefined };
}

export function answerHeaders(error: ErrorBody | undefined): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.status, error ? 'error' : 'ok');
  return h;
}

export function errorPayload(error: ErrorBody): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(error));
}
