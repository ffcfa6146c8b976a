/**
 * Reconnect delays: exponential from initialDelayMs, capped at maxDelayMs, with "equal jitter" (half
 * fixed, half random) so that clients dropped together do not come back together. The first attempt
 * after a goodbye waits at least what the gateway advised.
 */
import type { Clock } from '../clock.js';
import { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
import { CloseCode, isTransientClose } from '../protocol/close-codes.js';

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** Milliseconds to wait before attempt `attempt` (0-based); `random` in [0, 1). */
export function reconnectDelay(attempt: number, options: BackoffOptions, advisedMs: number | undefined, random: number): number {
  const backoff = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** attempt);
  const jittered = backoff * (0.5 + random * 0.5);
  return Math.max(attempt === 0 ? (advisedMs ?? 0) : 0, jittered);
}

/** How a reconnect ended: connected, refused for good (with the close to report), or stopped by the client. */
export type ReconnectOutcome = { connected: true } | { connected: false; code: number; reason: string } | { connected: false; stopped: true };

export interface ReconnectPlan extends BackoffOptions {
  maxAttempts: number;
  /** The first attempt waits at least this long (the gateway's goodbye advice). */
  advisedMs: number | undefined;
  clock: Clock;
  /** One connection attempt. */
  connect(): Promise<void>;
  /** The client closed meanwhile: give up quietly. */
  stopped(): boolean;
  /** Whether a failed attempt is worth another (network loss, timeout) or final (a refusal); with the close to report. */
  classify(error: unknown): ReturnType<typeof classifyConnectFailure>;
}

/** Attempts to connect with backoff until one succeeds, one is refused, the attempts run out, or the client stops. */
export async function reconnect(plan: ReconnectPlan): Promise<ReconnectOutcome | undefined> {
  for (let attempt = 0; attempt < plan.maxAttempts && !plan.stopped(); attempt++) {
    const delay = reconnectDelay(attempt, plan, plan.advisedMs, Math.random());
    await new Promise((resolve) => plan.clock.setTimeout(() => resolve(undefined), delay));
    if (plan.stopped()) return { connected: false, stopped: true };
    try {
      await plan.connect();
      return { connected: true };
    } catch (error) {
      const verdict = plan.classify(error);
      if (!verdict.transient) return { connected: false, code: verdict.code, reason: verdict.reason };
    }
  }
  return plan.stopped() ? { connected: false, stopped: true } : undefined; // attempts exhausted
}

/** Network failures and timeouts are worth another try; a refusal (bad token, version) is not. */
export function classifyConnectFailure(error: unknown): { transient: true } | { transient: false; code: number; reason: string } {
  const transient = error instanceof ConnectionClosedError ? isTransientClose(error.closeCode)
    : error instanceof UplinkError ? error.code === ErrorCode.DEADLINE_EXCEEDED : false;
  if (transient) return { transient };
  return { transient, code: error instanceof ConnectionClosedError ? error.closeCode : CloseCode.UNAUTHENTICATED, reason: (error as Error).message };
}
