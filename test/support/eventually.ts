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
