/**
 * Which items an SSE response keeps unacknowledged after writing them, so that a client whose
 * connection was cut can resume from what it really read (the socket's buffers may hold more than
 * it got). The last `maxItems` items written are kept, fewer when they are over `maxBytes` (the
 * stream stops pulling while its replay buffer is full, so retention stays under that budget).
 *
 * Invariant: `ack` only grows, and every written item at or above it is still kept.
 */
export class SseRetention {
  private readonly seqs: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  /** The ack when nothing is kept: one past the last item written. */
  private floor: number;

  constructor(start: number, private readonly maxItems: number, private readonly maxBytes: number) {
    this.floor = start;
  }

  /** Item `seq` of `size` bytes was written to the response. */
  written(seq: number, size: number): void {
    this.seqs.push(seq);
    this.sizes.push(size);
    this.bytes += size;
    this.floor = seq + 1;
    while (this.seqs.length - this.head > this.maxItems || (this.bytes > this.maxBytes && this.seqs.length > this.head)) {
      this.bytes -= this.sizes[this.head++] as number;
    }
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Every item below this one may leave the replay buffer. */
  get ack(): number {
    return this.head < this.seqs.length ? (this.seqs[this.head] as number) : this.floor;
  }
}
