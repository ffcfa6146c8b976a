/**
 * One worker thread of `uplink serve --workers N` (serve-workers.ts): a whole gateway (its own uWS
 * app, NATS connection, connections and limits) on the port the main thread gives it, shared with the
 * other workers. It tells the main thread once it listens, and closes gracefully when asked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Gateway } from '../server/gateway.js';
import { startServing } from './serve.js';

interface WorkerInput { modulePath: string; index: number; drainMs: number }
export type WorkerMessage = 'ready' | { failed: string };

const { modulePath, index, drainMs } = workerData as WorkerInput;
/** How long a closed worker waits for its last sockets to finish closing before it ends regardless. */
const IDLE_EXIT_BOUND_MS = 10_000;
/** How long sockets get to finish their close handshake before they are ended without one. */
const CLOSE_GRACE_MS = 1_000;
try {
  const { gateway, nats } = await startServing(modulePath, process.env, `uplink-gateway-${process.pid}-w${index}`);
  gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, module: modulePath, worker: index }, 'serving');
  parentPort!.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    parentPort!.removeAllListeners('message');
    void gateway.close({ drainMs }).then(() => nats?.close()).then(() => endWhenIdle(gateway));
  });
  parentPort!.postMessage('ready' satisfies WorkerMessage);
} catch (error) {
  parentPort!.postMessage({ failed: (error as Error).message } satisfies WorkerMessage);
  process.exit(1);
}

/**
 * The thread ends when its event loop is empty, not by process.exit: sockets that said goodbye may
 * still wait for the client's FIN, and a worker torn down with a live uWS socket aborts the whole
 * process (Node's "uv_loop_close() while having open handles"). Sockets whose client never finishes
 * its close are ended without a handshake after CLOSE_GRACE_MS; a thread still busy after
 * IDLE_EXIT_BOUND_MS (a timer of user code) is ended anyway.
 */
function endWhenIdle(gateway: Gateway): void {
  parentPort!.unref();
  setTimeout(() => gateway.terminate(), CLOSE_GRACE_MS).unref();
  setTimeout(() => process.exit(0), IDLE_EXIT_BOUND_MS).unref();
}
