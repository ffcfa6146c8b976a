/**
 * The object-host interface: the only way the gateway reaches objects. The local registry implements
 * it today; a host in another process (reached over a message bus) can implement it without any
 * change to transport or protocol code, because everything that crosses it is already encoded.
 */
import type { ErrorBody } from '../protocol/errors.js';
import type { EncodedPayload } from '../protocol/codec.js';
import type { CallContext, ConnectionInfo, Identity } from '../core/context.js';
import type { ObjectMetadata } from './members.js';

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

/** Where a stream's frames go: the connection it is attached to. */
export interface StreamSink {
  /** False while the socket's outbound buffer is above the threshold; the stream waits for drained(). */
  readonly writable: boolean;
  opened(key: string): void;
  /** `count` items numbered from `seq`, encoded as one array. */
  items(seq: number, payload: EncodedPayload, count: number): void;
  end(total: number): void;
  fail(error: ErrorBody, delivered: number): void;
  /** The stream is closed for good: its id is free on this connection. */
  released(): void;
}

/** Controls one stream; its state (iterator, credits, replay buffer) stays in the host. */
export interface StreamControl {
  /** False once the stream closed for good (it never becomes live again). */
  readonly live: boolean;
  /** The consumer may receive items with seq < upTo and has every item with seq < ack. */
  grant(upTo: number, ack: number): void;
  cancel(): void;
  /** The connection dropped: linger for a resume, or close. */
  detach(): void;
  /** The connection can take bytes again. */
  drained(): void;
}

/** Objects served elsewhere (hosts in other processes), as `$uplink` lists and describes them. */
export interface ObjectCatalog {
  /** Ids `identity` may see, optionally matching a prefix or `*` pattern. */
  listObjects(identity: Identity | undefined, pattern: string | undefined): Promise<string[]>;
  /** What `identity` may use of the object, or undefined when it is unknown or hidden. */
  describeObject(identity: Identity | undefined, id: string): Promise<ObjectMetadata | undefined>;
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
