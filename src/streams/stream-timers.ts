/**
 * A stream's three clocks: its lifetime, its idle limit (no item and no credit for idleMs, checked
 * every idleMs, so it fires between idleMs and twice that), and its linger window after the
 * connection drops. Activity is a counter bumped per item and grant (cheap on the hot path); the
 * idle timer checks whether it moved.
 */
import type { Clock, Timer } from '../clock.js';

export interface StreamTimerLimits {
  lifetimeMs: number;
  idleMs: number;
  lingerMs: number;
}

export interface StreamTimerEvents {
  lifetimeOver(): void;
  idle(): void;
  lingerOver(): void;
}

export class StreamTimers {
  private lifetime: Timer | undefined;
  private idle: Timer | undefined;
  private linger: Timer | undefined;
  private activity = 0;
  private seen = 0;

  constructor(private readonly clock: Clock, private readonly limits: StreamTimerLimits, private readonly events: StreamTimerEvents) {
    if (limits.lifetimeMs > 0) this.lifetime = clock.setTimeout(() => events.lifetimeOver(), limits.lifetimeMs);
    if (limits.idleMs > 0) this.armIdle();
  }

  /** Something happened (an item, a grant): the idle clock starts over. */
  touch(): void {
    this.activity++;
  }

  /** The lifetime no longer matters (the end was sent). */
  stopLifetime(): void {
    this.clock.clearTimeout(this.lifetime);
  }

  /** The connection dropped: lingerOver() fires unless stopLinger() comes first. */
  startLinger(): void {
    this.clock.clearTimeout(this.linger);
    this.linger = this.clock.setTimeout(() => this.events.lingerOver(), this.limits.lingerMs);
  }

  stopLinger(): void {
    this.clock.clearTimeout(this.linger);
  }

  stopAll(): void {
    this.clock.clearTimeout(this.lifetime);
    this.clock.clearTimeout(this.idle);
    this.clock.clearTimeout(this.linger);
    this.idle = undefined;
  }

  private armIdle(): void {
    this.seen = this.activity;
    this.idle = this.clock.setTimeout(() => {
      if (this.activity === this.seen) return this.events.idle();
      this.armIdle();
    }, this.limits.idleMs);
  }
}
