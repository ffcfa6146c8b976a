/**
 * The object-host interface: the only way the gateway reaches objects. The local registry implements
 * it; a host in another process implements RemoteObjectHost (remote-object-host.ts), which extends
 * it. Arguments and results cross it encoded, so the transport and the protocol never change for it.
 */
import type { ErrorBody } from '../protocol/errors.js';
import type { EncodedPayload } from '../protocol/codec.js';
import type { CallContext, ConnectionInfo, Identity } from '../core/context.js';
import type { StreamControl, StreamSink } from '../streams/stream-sink.js';

export type { StreamControl, StreamSink } from '../streams/stream-sink.js';

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
  /** Starts a stream; a refusal goes to sink.fail (and the result is undefined). */
  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined;
  /** Reattaches a lingering stream to a new connection; undefined when there is none for this key and identity. */
  resumeStream(key: string, identity: Identity | undefined, ack: number, upTo: number, sink: StreamSink): StreamControl | undefined;
  /** The connection is gone: release whatever the host keeps for it (session instances, references). */
  releaseConnection(connection: ConnectionInfo): void;
  /**
   * The client let go of a reference (`release` frame): a server object it held (`received`: how many
   * times it got the id), or a callback of its own that it withdraws (no count).
   */
  releaseReference(connection: ConnectionInfo, ref: string, received?: number): void;
  /** Ends every stream whose owner matches, lingering ones too (revocation); returns how many. */
  endStreams(matches: (owner: Identity | undefined) => boolean, reason: string): number;
  /** Streams this host keeps: live ones (open, lingering or awaiting their final ack) and the lingering among them. */
  streamStats(): { live: number; lingering: number };
  /** The gateway has closed: end every stream, lingering ones too (their generators' finally blocks run). */
  shutdown(): void;
  /** Whether the object is served (metrics name only known objects, so labels stay bounded). */
  knowsObject?(id: string): boolean;
  /** Whether the object declares this member (metrics name only declared members). */
  knowsMember?(id: string, member: string): boolean;
}
