/**
 * One worker thread of `uplink serve --workers N` (serve-workers.ts): a whole gateway (its own uWS
 * app, NATS connection, connections and limits) on the port the main thread gives it, shared with the
 * other workers. It tells the main thread once it listens, and closes gracefully when asked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startGateway } from './serve.js';

interface WorkerInput { modulePath: string; index: number; drainMs: number }
export type WorkerMessage = 'ready' | { failed: string };

const { modulePath, index, drainMs } = workerData as WorkerInput;
try {
  const gateway = await startGateway(modulePath, process.env, `uplink-gateway-${process.pid}-w${index}`);
  gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, module: modulePath, worker: index }, 'serving');
  parentPort!.on('message', (message: unknown) => {
    if (message === 'stop') void gateway.close({ drainMs }).then(() => process.exit(0));
  });
  parentPort!.postMessage('ready' satisfies WorkerMessage);
} catch (error) {
  parentPort!.postMessage({ failed: (error as Error).message } satisfies WorkerMessage);
  process.exit(1);
}
