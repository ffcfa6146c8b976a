/** What the outside sees of a stream: the admin view's snapshot, and the hooks metrics count with. */

export interface StreamSnapshot {
  object: string; member: string; subject: string | undefined;
  state: string;
  /** Items pulled, sent, acknowledged; the consumer's grant (items with seq < upTo may be sent). */
  produced: number; sent: number; acked: number; upTo: number;
  replayBytes: number;
}

/** Told when a stream stops pulling for want of credit, or because the socket is full. */
export interface StreamObserver {
  creditStall(): void;
  socketPaused(): void;
}
