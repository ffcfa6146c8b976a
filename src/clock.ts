/**
 * Time, injected: everything that waits (deadlines, expiry, credits, linger, keepalive, backoff,
 * rate limits) reads it from a Clock, so unit tests move time by hand on a fake clock instead of
 * sleeping. The system clock is the default everywhere.
 */

/** A timer as the clock that armed it knows it (only that clock can clear it). */
export type Timer = unknown;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `callback` once, `ms` from now. */
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
  /**
   * Runs `callback` once the current macrotask's work is done (after its promise callbacks), before
   * any timer: a batch closes at the end of the turn that filled it. Optional, so a clock written
   * before it existed still fits: `soon(clock, fn)` falls back to the system's.
   */
  soon?(callback: () => void): void;
}

/** Node and browsers cap timers at 2^31-1 ms (longer ones fire at once): callers re-arm past it. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The platform's own functions, bound (browsers refuse a timer call whose `this` is not the global),
 * not wrapped: a deadline is armed per call, so the hop counts.
 */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout: globalThis.setTimeout.bind(globalThis) as Clock['setTimeout'],
  clearTimeout: globalThis.clearTimeout.bind(globalThis) as Clock['clearTimeout'],
  // setImmediate in Node (the check phase, after I/O); browsers have none: a 0 ms timer.
  soon: typeof globalThis.setImmediate === 'function'
    ? (callback) => { globalThis.setImmediate(callback); }
    : (callback) => { globalThis.setTimeout(callback, 0); },
};

/** Runs `callback` at the end of this turn on `clock` (its own `soon`, or the system's). */
export function soon(clock: Clock, callback: () => void): void {
  if (clock.soon) clock.soon(callback);
  else systemClock.soon!(callback);
}

/** Lets the process exit while the timer is armed (Node); no-op elsewhere and on fake timers. */
export function unrefTimer(timer: Timer): void {
  (timer as { unref?: () => void } | undefined)?.unref?.();
}

/**
 * Runs `tick` every `ms` on `clock` (re-armed after each run, unref'd) until the returned stop is
 * called. One timer however many things the tick looks after.
 */
export function repeat(clock: Clock, ms: number, tick: () => void): () => void {
  let timer: Timer | undefined;
  let stopped = false;
  const arm = () => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      tick();
      if (!stopped) arm();
    }, ms);
    unrefTimer(timer);
  };
  arm();
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}
