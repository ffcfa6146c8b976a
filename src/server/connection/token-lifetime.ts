/**
 * The lifetime of a connection's token. At expiry (plus the verifier's clock tolerance) new calls
 * start failing with TOKEN_EXPIRED; if no refresh arrives within the grace period the connection
 * closes. A refresh re-arms it with the new expiry.
 *
 * Its clocks are entries in the gateway's deadline heap (one timer for every connection), not a
 * platform timer each: an idle connection keeps one small entry instead of a Timeout object.
 */
import type { Clock } from '../../clock.js';
import type { Deadline, Deadlines } from '../deadlines.js';

export interface TokenLifetimeOwner {
  /** The grace period passed without a refresh. */
  tokenGraceOver(): void;
}

export class TokenLifetime {
  private deadline: Deadline | undefined;
  private expiresAt: number | undefined;
  /**
   * Set when the expiry deadline ran (it starts the grace period). Not derived from the clock alone:
   * a wall clock stepped back must not make an expired token valid again during its grace period.
   */
  private expiryFired = false;

  constructor(
    private readonly deadlines: Deadlines,
    private readonly clock: Clock,
    private readonly toleranceMs: number,
    private readonly graceMs: number,
    private readonly owner: TokenLifetimeOwner,
  ) {}

  /** Starts counting down to `expiresAt` (epoch ms; undefined: the token never expires). */
  arm(expiresAt: number | undefined): void {
    this.stop();
    this.expiryFired = false;
    this.expiresAt = expiresAt;
    if (expiresAt !== undefined) this.deadline = this.deadlines.add(Math.max(0, expiresAt + this.toleranceMs - this.clock.now()), () => this.expire());
  }

  /**
   * The token has expired: nothing new may start until a refresh. Read from the clock, not only from
   * the deadline: a busy event loop runs the deadline late, and a call admitted in between would run
   * on an expired token.
   */
  get expired(): boolean {
    if (this.expiryFired) return true;
    const exp = this.expiresAt;
    return exp !== undefined && this.clock.now() >= exp + this.toleranceMs;
  }

  /** What the welcome and refreshed frames say about expiry: the instant, and the time left (immune to clock skew). */
  fields(): { exp?: number; expIn?: number } {
    const exp = this.expiresAt;
    return exp === undefined ? {} : { exp, expIn: exp - this.clock.now() };
  }

  stop(): void {
    if (this.deadline) this.deadlines.cancel(this.deadline);
    this.deadline = undefined;
  }

  private expire(): void {
    this.expiryFired = true;
    // The grace period counts from the expiry, not from a late-running deadline.
    const graceEnds = this.expiresAt! + this.toleranceMs + this.graceMs;
    this.deadline = this.deadlines.add(Math.max(0, graceEnds - this.clock.now()), () => this.owner.tokenGraceOver());
  }
}
