/**
 * Waits for something that happens on its own in real time (a socket closing, a stream's finally
 * block running on the gateway): polls `condition` every `everyMs` and fails with `what` after
 * `timeoutMs`. Logic with timers is tested on the fake clock instead; this is for the wire.
 */
export interface EventuallyOptions {
  timeoutMs?: number;
  /** What was awaited, for the failure message. */
  what?: string;
  everyMs?: number;
}

export async function eventually(condition: () => boolean | Promise<boolean>, options: EventuallyOptions = {}): Promise<void> {
  const { timeoutMs = 3_000, what = 'condition', everyMs = 10 } = options;
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * `promise`, or a failure naming `what` if it has not settled after `ms`: an upper bound, not a
 * wait (the timer is cleared as soon as the promise settles).
 */
export async function within<T>(promise: Promise<T>, ms: number, what = 'the promise'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `read` every `everyMs` until two readings in a row are equal (and `ready` holds for it): for
 * a counter that should stop moving (a producer paused by backpressure). Returns the steady value.
 */
export async function steady<T>(read: () => T, options: EventuallyOptions & { ready?: (value: T) => boolean } = {}): Promise<T> {
  const { everyMs = 100, ready = () => true, ...rest } = options;
  let last = read();
  let value = last;
  await eventually(() => {
    value = read();
    const same = value === last && ready(value);
    last = value;
    return same;
  }, { timeoutMs: 5_000, what: 'a steady value', ...rest, everyMs });
  return value;
}
