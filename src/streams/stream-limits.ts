/** The limits of a server-side stream (the gateway sets them from its options). */
export interface StreamLimits {
  /** A stream may live this long in all (0: unlimited). */
  lifetimeMs: number;
  /** With no item and no credit for this long, the stream ends. */
  idleMs: number;
  /** After its connection drops, a stream waits this long to be resumed (0: closed at once). */
  lingerMs: number;
  /** Items sent but not yet acknowledged, at most. */
  maxUnacked: number;
  /** Items per frame, at most. */
  maxBatch: number;
  /** Target size of one frame of items, in bytes (it bounds coalescing for large items). */
  frameBytes: number;
  /** Largest encoded frame of items (maxResultBytes); a larger item ends the stream with LIMIT_EXCEEDED. */
  maxFrameBytes: number;
  /** Bytes of unacknowledged items kept for replay; the stream stops pulling above it (so a stream holds at most this plus one frame). */
  maxReplayBytes: number;
}
