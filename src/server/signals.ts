/** Graceful stop on SIGINT / SIGTERM: goodbye to every client, drainMs for calls in flight, then exit 0. */
import type { Gateway } from './gateway.js';

export function stopOnSignals(gateway: Gateway, drainMs: number): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      void gateway.close({ drainMs }).then(() => process.exit(0));
    });
  }
}
