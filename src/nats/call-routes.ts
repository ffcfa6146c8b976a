/**
 * Where a call from a gateway goes on NATS, worked out once per call: the host its session is pinned
 * to, a server reference's host, else a live host the gateway picks in turn, else the object's queue
 * group; or why it goes nowhere (no such object, not allowed, NATS down, arguments larger than one
 * message). The headers are built here too, so the size check counts what is really sent.
 *
 * Invariant: a call a host declared it would refuse (its scopes and roles, as that host beat them) is
 * refused here with the answer a missing object or member gets, and nothing is sent.
 */
import { accessAllows } from '../auth/access.js';
import { ErrorCode, errorBody, type ErrorBody } from '../protocol/errors.js';
import type { HostCall } from '../host/object-host.js';
import { isServerRefId, refOfTarget } from '../protocol/refs.js';
import { NODE_ID_LENGTH, packedSize, Subject } from './envelope.js';
import type { HostTable } from './host-table.js';
import type { Sent } from './publish.js';
import type { SessionPins } from './session-pins.js';

/** A call's way to its host. */
export interface Route {
  /** The object's queue-group subject (for a reference: its host's subject). */
  queue: string;
  /** Where it is sent first. */
  subject: string;
  /** The arguments' packed size (call-envelope.ts packs them once, into the call's message). */
  argsBytes: number;
  pinned: string | undefined;
  /** The host the gateway picked (not pinned). */
  direct: string | undefined;
}

export interface RouteContext {
  hosts: HostTable;
  pins: SessionPins;
  connected: boolean;
  /** The server's max_payload less room for headers. */
  budget: number;
}

/** A lone UTF-16 surrogate: such a name cannot be percent-encoded into a header (and names no member). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function routeCall(call: HostCall, at: RouteContext): Route | ErrorBody {
  if (LONE_SURROGATE.test(call.member)) return errorBody(ErrorCode.UNKNOWN_MEMBER, `'${call.object}' has no such member`);
  const ref = refOfTarget(call.object);
  if (ref !== undefined) return refRoute(call, ref, at);
  const queue = Subject.call(call.object);
  if (!queue || !at.hosts.mayServe(call.object)) return errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`);
  const pinned = at.pins.get(call.context.connection.id, call.object);
  const direct = pinned ? undefined : at.hosts.pick(call.object);
  const refused = refusal(call, at.hosts, pinned ?? direct);
  if (refused) return refused;
  if (!at.connected) return unavailable(call.object);
  const argsBytes = packedSize(call.args);
  if (argsBytes > at.budget) return argumentsTooLarge(at.budget);
  const host = pinned ?? direct;
  return { queue, subject: host ? Subject.pinnedCall(host, call.object) : queue, argsBytes, pinned, direct };
}

/** A server reference's id names the host that holds it: the call goes there, or nowhere if it is gone. */
function refRoute(call: HostCall, ref: string, at: RouteContext): Route | ErrorBody {
  const host = isServerRefId(ref) ? ref.slice(1, 1 + NODE_ID_LENGTH) : undefined;
  if (!host || !at.hosts.alive(host)) return errorBody(ErrorCode.REF_RELEASED, 'no such reference on this connection (released, dropped, or never handed out)');
  if (!at.connected) return unavailable(call.object);
  const argsBytes = packedSize(call.args);
  if (argsBytes > at.budget) return argumentsTooLarge(at.budget);
  const subject = Subject.pinnedCall(host, call.object);
  return { queue: subject, subject, argsBytes, pinned: host, direct: undefined };
}

/**
 * The declared access rule of the host the call goes to (of any live host for the queue group),
 * checked before anything is sent; the host checks the whole rule again, check functions included.
 */
function refusal(call: HostCall, hosts: HostTable, host: string | undefined): ErrorBody | undefined {
  const declared = hosts.accessOf(call.object, host);
  if (!declared) return undefined;
  const identity = call.context.identity;
  if (!accessAllows(declared.rule, identity, declared.claimNames, call.object, undefined)) return errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`);
  if (!accessAllows(declared.rule, identity, declared.claimNames, call.object, call.member)) return errorBody(ErrorCode.UNKNOWN_MEMBER, `'${call.object}' has no member '${call.member}'`);
  return undefined;
}

export function unavailable(object: string): ErrorBody {
  return errorBody(ErrorCode.OBJECT_UNAVAILABLE, `no object host serves '${object}' now; retry`);
}

function argumentsTooLarge(budget: number): ErrorBody {
  return errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `the arguments are larger than one NATS message (${budget} bytes)`);
}

/**
 * Why a send that nats.js refused failed, for the call's caller: larger than one message with its
 * headers (the client's own annotations, correlation id and member name count), or NATS not there.
 */
export function refusedSend(sent: Exclude<Sent, 'sent'>, object: string): ErrorBody {
  return sent === 'too-large'
    ? errorBody(ErrorCode.PAYLOAD_TOO_LARGE, 'the call with its headers (arguments, annotations, correlation id, member name) is larger than one NATS message')
    : unavailable(object);
}
