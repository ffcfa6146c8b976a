/**
 * A stream's credit window that grows with the path's round trip, as TCP's receive window does. A
 * fixed window of W items caps a stream at W / round trip: 256 items are plenty on one machine and
 * a quarter of the rate through a gateway and NATS. The consumer grants again when half the window is
 * consumed; when it then finds nothing to take while the producer has used every credit it had, the
 * producer waited for credit, not for its generator: the window doubles.
 *
 * Invariants: the window only grows, and never past `max` items nor past BYTE_BUDGET of items at the
 * average size seen so far (a stream of large items stays small); a fixed window never grows.
 */

/** Items in flight to one stream at most, in bytes, at the average item size seen so far. */
export const BYTE_BUDGET = 8 * 1024 * 1024;

export class StreamWindow {
  private items = 0;
  private bytes = 0;

  constructor(public size: number, private readonly max: number) {}

  /** Items arrived, `bytes` long in all (their encoded size on the wire). */
  received(items: number, bytes: number): void {
    this.items += items;
    this.bytes += bytes;
  }

  /** The consumer found nothing to take and the producer had used its credit: doubles the window; whether it grew. */
  grow(): boolean {
    if (this.size >= this.max) return false;
    const average = this.items === 0 ? 1 : Math.max(1, this.bytes / this.items);
    const next = Math.min(this.size * 2, this.max, Math.max(this.size, Math.floor(BYTE_BUDGET / average)));
    if (next <= this.size) return false;
    this.size = next;
    return true;
  }
}
