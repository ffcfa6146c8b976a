/**
 * References: values that travel by identity instead of by copy (docs/protocol.md section 12).
 *
 * Two kinds, named by the side where the value lives:
 * - `cref`, a client reference: a function or object of the client that the server may call back
 *   (`callback` frames). Ids are chosen by the client and start with `c`.
 * - `sref`, a server reference: an object on the server that the client calls like a registered one,
 *   with `o: "~<id>"`. Ids are chosen by the server, start with `s` and carry at least 96 random bits.
 *
 * Both kinds are a codec type (`["custom","cref"]` / `["custom","sref"]` in a payload's meta) whose
 * JSON value is `{"id": ...}`, plus `"m": [names]` for a client object exposing named members. An id
 * means something only on the connection it was created on. The disjoint prefixes let one `release`
 * frame name either kind.
 */
import { ErrorCode, PayloadError } from './errors.js';

const badFrame = (message: string): PayloadError => new PayloadError(ErrorCode.BAD_FRAME, message);

export type RefKind = 'cref' | 'sref';

/**
 * A reference on a transport with no way back to the client (calls and streams over HTTP): refused as
 * a type the transport does not carry, never INTERNAL, and not a failure of user code.
 */
export class ReferencesUnavailableError extends PayloadError {
  constructor() {
    super(ErrorCode.TYPE_NOT_ALLOWED, 'references and callbacks travel over WebSocket only');
  }
}

/** A reference as it is written in a payload. `m`: the exposed members of a client object (absent for a function). */
export type RefNode = { id: string; m?: string[] };

/** The target (`o`) of a call to a server reference. */
export const REF_TARGET_PREFIX = '~';
export const MAX_REF_MEMBERS = 64;

const CLIENT_REF_ID = /^c[A-Za-z0-9_-]{1,63}$/;
const SERVER_REF_ID = /^s[A-Za-z0-9_-]{16,127}$/;

export const isClientRefId = (v: unknown): v is string => typeof v === 'string' && CLIENT_REF_ID.test(v);
export const isServerRefId = (v: unknown): v is string => typeof v === 'string' && SERVER_REF_ID.test(v);
export const isRefId = (v: unknown): boolean => isClientRefId(v) || isServerRefId(v);

/** `o` for calls to the server reference `id`. */
export function refTarget(id: string): string {
  return REF_TARGET_PREFIX + id;
}

/** The server reference a call's `o` names, or undefined when it names a registered object. */
export function refOfTarget(object: string): string | undefined {
  return object.startsWith(REF_TARGET_PREFIX) ? object.slice(1) : undefined;
}

/**
 * How one side writes and reads references in the payloads of one connection. The codec asks it
 * during encode and decode; without a scope, references are refused (TYPE_NOT_ALLOWED).
 */
export interface RefScope {
  /** The kind a value travels as by reference, or undefined when it travels by value. */
  kindOf(value: unknown): RefKind | undefined;
  /** The wire node of a value kindOf() named. */
  write(value: unknown): RefNode;
  /** The value for a node from the peer; throws a typed error (REF_RELEASED, LIMIT_EXCEEDED) to refuse it. */
  read(kind: RefKind, node: RefNode): unknown;
}

const MEMBER_NAME = /^[A-Za-z$][A-Za-z0-9_$]{0,255}$/;
/** A member name a client object may list in a `cref`. */
export const isRefMemberName = (v: unknown): v is string => typeof v === 'string' && MEMBER_NAME.test(v);

/** Checks a reference node from a peer before anything reads it. */
export function checkRefNode(kind: RefKind, node: unknown): RefNode {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw badFrame('a reference must be an object');
  const { id, m } = node as Record<string, unknown>;
  for (const key of Object.keys(node)) if (key !== 'id' && key !== 'm') throw badFrame(`unknown reference field '${key}'`);
  if (kind === 'cref' ? !isClientRefId(id) : !isServerRefId(id)) throw badFrame(`malformed ${kind} id`);
  if (m !== undefined) {
    if (kind !== 'cref' || !Array.isArray(m) || m.length === 0 || m.length > MAX_REF_MEMBERS) throw badFrame('malformed reference members');
    for (const name of m) if (!isRefMemberName(name)) throw badFrame('malformed reference member name');
  }
  return node as RefNode;
}
