/**
 * The object-host interface: the only way the gateway reaches objects. The local registry implements
 * it today; a host in another process (reached over a message bus) can implement it without any
 * change to transport or protocol code, because everything that crosses it is already encoded.
 */
import type { ErrorBody } from '../errors.js';
import type { EncodedPayload } from '../protocol/codec.js';
import type { CallContext, ConnectionInfo } from './context.js';

export type CallKind = 'call' | 'get' | 'set';

export interface HostCall {
  object: string;
  member: string;
  kind: CallKind;
  /** The caller wants no reply; the host still reports failures to its error hook. */
  oneway: boolean;
  /** Arguments as the client encoded them (an array); decoded only by the host. */
  args: EncodedPayload;
  context: CallContext;
}

/** Receives exactly one outcome per call. */
export interface ReplySink {
  resolve(value: EncodedPayload): void;
  reject(error: ErrorBody): void;
}

export interface ObjectHost {
  invoke(call: HostCall, reply: ReplySink): void;
  /** The connection is gone: release whatever the host keeps for it (session instances). */
  releaseConnection(connection: ConnectionInfo): void;
}
