/**
 * Token buckets for the gateway's rate limits: messages per connection, new connections per source
 * address, client-caused log lines. A bucket holds at most `burst` tokens and refills at
 * `ratePerSec`; taking from an empty bucket fails. Time is read once per take (no timers per
 * bucket), from an injectable clock so that tests can move time by hand.
 */

import type { Clock as FullClock } from '../../clock.js';

/** Buckets only read the time: milliseconds from any origin (monotonic by default, immune to wall-clock steps). */
export type Clock = Pick<FullClock, 'now'>;

export const monotonicClock: Clock = { now: () => performance.now() };

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, private readonly clock: Clock = monotonicClock) {
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    this.tokens = this.levelAt(now);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Full again: nothing is lost by forgetting this bucket. */
  get idle(): boolean {
    return this.levelAt(this.clock.now()) >= this.burst;
  }

  private levelAt(now: number): number {
    return Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSec) / 1000);
  }
}

/**
 * Frames per second on one connection. A refused frame counts toward a flood: a client that goes on
 * sending a whole second's worth while refused is `flooded` (the connection closes it).
 */
export class MessageRate {
  private readonly bucket: TokenBucket;
  private refusedInARow = 0;

  constructor(private readonly perSec: number, clock: Clock = monotonicClock) {
    this.bucket = new TokenBucket(perSec, perSec, clock);
  }

  /** Takes a token for one frame; false: refuse it. */
  take(): boolean {
    if (this.bucket.take()) {
      this.refusedInARow = 0;
      return true;
    }
    this.refusedInARow++;
    return false;
  }

  get flooded(): boolean {
    return this.refusedInARow > this.perSec;
  }
}

/** One bucket per key (a source address), forgotten once full again, so the map cannot grow without bound. */
export class KeyedRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  private lastSweep: number;

  constructor(private readonly ratePerSec: number, private readonly burst: number, private readonly clock: Clock = monotonicClock) {
    this.lastSweep = clock.now();
  }

  take(key: string): boolean {
    this.sweep();
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.ratePerSec, this.burst, this.clock)));
    return bucket.take();
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweep < 10_000) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (bucket.idle) this.buckets.delete(key);
  }
}
