/**
 * Application-level keepalive: a ping every `everyMs`; a pong that does not come within `timeoutMs`
 * means the connection is dead even if TCP has not noticed (a half-open socket), and `onDead` runs
 * so that pending calls fail now instead of when the OS gives up.
 */
import { unrefTimer, type Clock, type Timer } from '../clock.js';

export class Keepalive {
  private interval: Timer | undefined;
  private deadline: Timer | undefined;
  private nextPingId = 0;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly timeoutMs: number,
    /** Sends a ping with this id; false when the socket cannot send now (the round is skipped). */
    private readonly sendPing: (id: number) => boolean,
    private readonly onDead: () => void,
  ) {}

  start(): void {
    if (this.everyMs <= 0) return;
    this.running = true;
    this.schedule();
  }

  /** A pong arrived: the connection is alive. */
  pong(): void {
    this.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.interval);
    this.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  private schedule(): void {
    this.interval = this.clock.setTimeout(() => this.round(), this.everyMs);
    unrefTimer(this.interval);
  }

  /** One ping, unless the last one is still waiting for its pong. */
  private round(): void {
    if (!this.running) return;
    this.schedule();
    if (this.deadline !== undefined || !this.sendPing(this.nextPingId++)) return;
    this.deadline = this.clock.setTimeout(() => {
      this.deadline = undefined;
      this.stop();
      this.onDead();
    }, this.timeoutMs);
  }
}
