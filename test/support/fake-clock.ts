/**
 * A Clock whose time moves only when a test says so. Timers fire in due order (ties in the order
 * they were armed), each at its own time, so a callback sees `now()` equal to its due time.
 * `soon` callbacks queue and run, in order, when the test calls runSoon(), settle() or tick(), and
 * before each timer that advance() fires (as on the event loop: a turn's soon work before the next timer).
 */
import type { Clock, Timer } from '../../src/clock.js';

interface Armed { at: number; order: number; callback: () => void }

export class FakeClock implements Clock {
  private time: number;
  private nextOrder = 0;
  private readonly timers = new Map<number, Armed>();
  private soonQueue: Array<() => void> = [];

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

  soon(callback: () => void): void {
    this.soonQueue.push(callback);
  }

  /** `soon` callbacks waiting. */
  get pendingSoon(): number {
    return this.soonQueue.length;
  }

  /** Runs the queued `soon` callbacks, and those they queue, until none is left. */
  runSoon(): void {
    for (let guard = 0; this.soonQueue.length > 0; guard++) {
      if (guard > 10_000) throw new Error('soon callbacks keep queueing more: a loop?');
      const batch = this.soonQueue;
      this.soonQueue = [];
      for (const callback of batch) callback();
    }
  }

  /**
   * Runs queued `soon` work and the promise callbacks it starts until both are quiet: no real
   * event-loop turns (no setImmediate), only microtask drains.
   */
  async settle(rounds = 20): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      this.runSoon();
      await drainMicrotasks();
      if (this.soonQueue.length === 0) { await drainMicrotasks(); if (this.soonQueue.length === 0) return; }
    }
  }

  /** Timers still armed. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms;
    this.runSoon();
    for (let next = this.due(target); next; next = this.due(target)) {
      this.timers.delete(next.order);
      this.time = next.at;
      next.callback();
      this.runSoon();
    }
    this.time = target;
  }

  /** advance(), then lets the `soon` work and promise callbacks that the timers started run. */
  async tick(ms: number): Promise<void> {
    this.advance(ms);
    await this.settle();
  }

  private due(target: number): Armed | undefined {
    let first: Armed | undefined;
    for (const t of this.timers.values()) {
      if (t.at <= target && (!first || t.at < first.at || (t.at === first.at && t.order < first.order))) first = t;
    }
    return first;
  }
}

/** Lets queued promise callbacks run: a chain of awaits `depth` deep, without leaving the microtask queue. */
async function drainMicrotasks(depth = 50): Promise<void> {
  for (let i = 0; i < depth; i++) await Promise.resolve();
}
