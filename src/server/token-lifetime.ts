/**
 * The lifetime of a connection's token. At expiry (plus the verifier's clock tolerance) new calls
 * start failing with TOKEN_EXPIRED; if no refresh arrives within the grace period the connection
 * closes. A refresh re-arms it with the new expiry.
 */
import { MAX_TIMER_MS, type Clock, type Timer } from '../clock.js';

export class TokenLifetime {
  private timer: Timer | undefined;
  private expiresAt: number | undefined;
  /** The token has expired: nothing new may start until a refresh. */
  expired = false;

  constructor(
    private readonly clock: Clock,
    private readonly toleranceMs: number,
    private readonly graceMs: number,
    /** The grace period passed without a refresh. */
    private readonly onGraceOver: () => void,
  ) {}

  /** Starts counting down to `expiresAt` (epoch ms; undefined: the token never expires). */
  arm(expiresAt: number | undefined): void {
    this.stop();
    this.expired = false;
    this.expiresAt = expiresAt;
    if (expiresAt !== undefined) this.wait(expiresAt + this.toleranceMs);
  }

  /** What the welcome and refreshed frames say about expiry: the instant, and the time left (immune to clock skew). */
  fields(): { exp?: number; expIn?: number } {
    const exp = this.expiresAt;
    return exp === undefined ? {} : { exp, expIn: exp - this.clock.now() };
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private wait(until: number): void {
    const delay = Math.min(Math.max(0, until - this.clock.now()), MAX_TIMER_MS);
    this.timer = this.clock.setTimeout(() => {
      if (this.clock.now() < until) return this.wait(until); // timers cap at ~24.8 days
      this.expired = true;
      this.timer = this.clock.setTimeout(this.onGraceOver, this.graceMs);
    }, delay);
  }
}
