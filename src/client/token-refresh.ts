/**
 * Refreshes the token in-band ahead of expiry: when 30 % of its lifetime is left, at most 30 s
 * before it. A failed refresh is reported and retried (three tries, a second apart); the gateway's
 * grace period covers the retries.
 */
import { unrefTimer, type Clock, type Timer } from '../clock.js';

const MAX_LEAD_MS = 30_000;
const LEAD_FRACTION = 0.3;
const RETRIES = 3;
const RETRY_MS = 1_000;

export class TokenRefresher {
  private timer: Timer | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    /** Sends a fresh token; resolves with the new token's time left (ms), if it expires. */
    private readonly refresh: () => Promise<number | undefined>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Plans the next refresh for a token that expires in `expIn` ms (undefined: never). */
  schedule(expIn: number | undefined): void {
    this.clock.clearTimeout(this.timer);
    if (expIn === undefined || this.stopped) return;
    const lead = Math.min(MAX_LEAD_MS, expIn * LEAD_FRACTION);
    this.arm(Math.max(0, expIn - lead));
  }

  /** A refresh succeeded (by this class or by the user): plan the next one. */
  refreshed(expIn: number | undefined): void {
    this.failures = 0;
    this.schedule(expIn);
  }

  /** No refresh until the next schedule() (the connection dropped; the next welcome schedules again). */
  pause(): void {
    this.clock.clearTimeout(this.timer);
  }

  /** For good (the client closed). */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => void this.attempt(), ms);
    unrefTimer(this.timer);
  }

  private async attempt(): Promise<void> {
    try {
      this.refreshed(await this.refresh());
    } catch (error) {
      this.onError(error as Error);
      if (++this.failures < RETRIES && !this.stopped) this.arm(RETRY_MS);
    }
  }
}
