/**
 * Call deadlines and token expiries on one timer. A call with a deadline (every call from the Uplink
 * clients has one) would otherwise arm and clear a platform timer each, and every connection would
 * hold a Timeout for its token; here each costs a heap entry and a flag.
 *
 * Invariants: `fire` runs at most once, at or after `at`, and never after cancel(); entries cancelled
 * early stay in the heap until it is compacted (when they outnumber the live ones), so the heap holds
 * at most about twice the deadlines pending; exactly one timer is armed while any entry is live.
 */
import { MAX_TIMER_MS, unrefTimer, type Clock, type Timer } from '../clock.js';

export interface Deadline {
  readonly at: number;
  cancelled: boolean;
  readonly fire: () => void;
}

export class Deadlines {
  private heap: Deadline[] = [];
  private cancelledCount = 0;
  private timer: Timer | undefined;
  private armedFor = Infinity;

  constructor(private readonly clock: Clock) {}

  /** Runs `fire` `ms` from now unless cancel() comes first. */
  add(ms: number, fire: () => void): Deadline {
    const deadline: Deadline = { at: this.clock.now() + ms, cancelled: false, fire };
    this.push(deadline);
    if (deadline.at < this.armedFor) this.arm(deadline.at);
    return deadline;
  }

  cancel(deadline: Deadline): void {
    if (deadline.cancelled) return;
    deadline.cancelled = true;
    this.cancelledCount++;
    // Nothing left: drop the heap and the timer (an idle gateway arms nothing, and exits when asked).
    if (this.cancelledCount === this.heap.length || (this.cancelledCount > 64 && this.cancelledCount * 2 > this.heap.length)) this.compact();
  }

  /** Deadlines pending (not fired, not cancelled). */
  get size(): number {
    return this.heap.length - this.cancelledCount;
  }

  private arm(at: number): void {
    this.clock.clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => this.expire(), Math.min(MAX_TIMER_MS, Math.max(0, at - this.clock.now())));
    unrefTimer(this.timer); // the sockets keep the process alive, not the deadlines of their calls
  }

  /** Fires every deadline that has passed, then re-arms for the next live one. */
  private expire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const next = this.pop();
      if (next.cancelled) this.cancelledCount--;
      else {
        next.cancelled = true; // fired: a later cancel() is a no-op
        next.fire();
      }
    }
    if (this.heap.length > 0) this.arm(this.heap[0]!.at);
  }

  /** Drops cancelled entries and rebuilds the heap (O(n), amortized over the cancels that caused it). */
  private compact(): void {
    this.heap = this.heap.filter((d) => !d.cancelled);
    this.cancelledCount = 0;
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
    if (this.heap.length === 0) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
    }
  }

  private push(deadline: Deadline): void {
    const heap = this.heap;
    let i = heap.push(deadline) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= deadline.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = deadline;
  }

  private pop(): Deadline {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]!.at < heap[child]!.at) child++;
      if (heap[child]!.at >= item.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}
