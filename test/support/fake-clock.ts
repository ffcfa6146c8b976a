/**
 * A Clock whose time moves only when a test says so. Timers fire in due order (ties in the order
 * they were armed), each at its own time, so a callback sees `now()` equal to its due time.
 */
import type { Clock, Timer } from '../../src/clock.js';

interface Armed { at: number; order: number; callback: () => void }

export class FakeClock implements Clock {
  private time: number;
  private nextOrder = 0;
  private readonly timers = new Map<number, Armed>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const order = this.nextOrder++;
    this.timers.set(order, { at: this.time + Math.max(0, ms), order, callback });
    return order;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (typeof timer === 'number') this.timers.delete(timer);
  }

  /** Timers still armed. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let next = this.due(target); next; next = this.due(target)) {
      this.timers.delete(next.order);
      this.time = next.at;
      next.callback();
    }
    this.time = target;
  }

  /** advance(), then lets promise callbacks and immediates that the timers started run. */
  async tick(ms: number): Promise<void> {
    this.advance(ms);
    await settle();
  }

  private due(target: number): Armed | undefined {
    let first: Armed | undefined;
    for (const t of this.timers.values()) {
      if (t.at <= target && (!first || t.at < first.at || (t.at === first.at && t.order < first.order))) first = t;
    }
    return first;
  }
}

/** Runs queued microtasks and immediates (a few rounds: an await chain may need several). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
