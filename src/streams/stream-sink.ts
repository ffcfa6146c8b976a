/**
 * The two sides of one stream between its producer and the connection it feeds: the sink receives
 * frames, the control carries the consumer's credits back. streams/ owns them (ServerStream writes to
 * a sink); the object-host interface names them for hosts in other processes.
 */
import type { ErrorBody } from '../protocol/errors.js';
import type { EncodedPayload } from '../protocol/codec.js';

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
  /**
   * Runs `task` at the start of the connection's next write pass, so frames it sends leave in that
   * pass (a stream batches what its generator yielded this turn there). Without it: setImmediate.
   */
  beforeWrites?(task: () => void): void;
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
