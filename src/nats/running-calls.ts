/**
 * Unary calls running on a host, by the reply subject they came with. One tick (every acceptMs)
 * does what would otherwise take timers per call: it tells the gateway `accepted` for calls still
 * running after a tick (so a cancel can reach them and a dead host is noticed), and aborts calls
 * whose deadline passed (the gateway has already answered DEADLINE_EXCEEDED; the method's signal
 * tells it to stop). Fast calls cost a map entry and nothing else.
 */
import { repeat, type Clock } from '../clock.js';
import { ErrorCode } from '../protocol/errors.js';
import type { CallContext } from '../core/context.js';

interface Running {
  context: CallContext;
  deadline: number | undefined;
  /** The tick it started in: announced from the next one on. */
  tick: number;
  announced: boolean;
  /** With cluster keys: the assertion the call came with; a cancel must carry the same one. */
  assertion: string | undefined;
}

export class RunningCalls {
  private readonly calls = new Map<string, Running>();
  private ticks = 0;
  private readonly stopTicking: () => void;

  constructor(private readonly clock: Clock, acceptMs: number, private readonly announce: (reply: string) => void) {
    this.stopTicking = repeat(clock, acceptMs, () => this.tick());
  }

  get size(): number {
    return this.calls.size;
  }

  add(reply: string, context: CallContext, assertion?: string): void {
    this.calls.set(reply, { context, deadline: context.deadline, tick: this.ticks, announced: false, assertion });
  }

  /** The call answered: forget it. */
  finish(reply: string): void {
    this.calls.delete(reply);
  }

  /**
   * The caller gave up: the method's signal aborts (its answer, if any, is dropped by the gateway).
   * A call that came with an assertion is cancelled only by a message carrying the same assertion:
   * only its own gateway has it (reply subjects can be guessed).
   */
  cancel(reply: string, assertion?: string): void {
    const call = this.calls.get(reply);
    if (call && (call.assertion === undefined || call.assertion === assertion)) call.context.abort(ErrorCode.CANCELLED, 'cancelled by the caller');
  }

  /** The host stops the call itself (draining ran out of time). */
  end(reply: string): void {
    this.calls.get(reply)?.context.abort(ErrorCode.CANCELLED, 'the object host is shutting down');
  }

  /** Calls still running: their reply subjects. */
  replies(): string[] {
    return [...this.calls.keys()];
  }

  stop(): void {
    this.stopTicking();
  }

  private tick(): void {
    const now = this.clock.now();
    for (const [reply, call] of this.calls) {
      if (call.deadline !== undefined && now >= call.deadline) call.context.abort(ErrorCode.DEADLINE_EXCEEDED, 'deadline exceeded');
      if (!call.announced && call.tick < this.ticks) {
        call.announced = true;
        this.announce(reply);
      }
    }
    this.ticks++;
  }
}
