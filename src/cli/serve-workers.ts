/**
 * `uplink serve <module> --workers N`: N gateways in one process, one per worker thread, listening on
 * one port. uWS opens its listening sockets with SO_REUSEPORT on Linux, so the kernel spreads new
 * connections over the threads; every call of a connection stays on the thread that accepted it.
 * Objects are meant to live on hosts behind NATS (UPLINK_NATS_URL): an object the module registers
 * is registered once per worker, as separate instances that share no state.
 *
 * Per worker: its own NATS connection (a gateway of the cluster, with its own id), limits
 * (maxConnections, per-address rates), and with UPLINK_METRICS_PORT its metrics on that port plus its
 * index (node:http cannot share a port between threads). A worker that fails to start, or dies, ends
 * the process with status 1 (a supervisor restarts it); SIGINT or SIGTERM closes every worker
 * gracefully, then 0.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { gatewayDefaults, optionsFromEnv } from '../server/config.js';
import type { WorkerMessage } from './serve-worker.js';

/** Each worker needs a core; more than the machine has only adds switching. */
export const MAX_WORKERS = 64;

/** Starts the workers; resolves with the port they share once all listen. */
export async function serveWithWorkers(count: number, modulePath: string, env: NodeJS.ProcessEnv, drainMs: number): Promise<number> {
  const workers: Worker[] = [];
  let stopping = false;
  const stop = (status: number) => {
    if (stopping) return;
    stopping = true;
    void stopAll(workers).then(() => process.exit(status));
  };
  // From the start: a signal during startup stops what has started (a later worker is stopped as it comes up).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop(0));
  const port = await sharedPort(env);
  for (let i = 0; i < count && !stopping; i++) {
    // The process may not end while a worker still listens (Node aborts on uWS's live handles): those started stop first.
    const worker = await startWorker(modulePath, i, { ...env, UPLINK_PORT: String(port) }, drainMs).catch(async (error: unknown) => {
      stopping = true;
      await stopAll(workers);
      throw error;
    });
    workers.push(worker);
    worker.on('exit', (code) => {
      if (stopping) return;
      process.stderr.write(`uplink: worker ${i} stopped (status ${code}): stopping every worker\n`);
      stop(1);
    });
    if (stopping) void stopAll([worker]);
  }
  return port;
}

/**
 * The port every worker listens on. uWS sets SO_REUSEPORT only on a port it is given: workers told
 * port 0 would each get a port of their own. So port 0 (any free port) is chosen here, once, by
 * binding and releasing it (another process could take it in between: set UPLINK_PORT in production).
 */
async function sharedPort(env: NodeJS.ProcessEnv): Promise<number> {
  const configured = optionsFromEnv(env).port ?? gatewayDefaults.port;
  if (configured !== 0) return configured;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, optionsFromEnv(env).host ?? gatewayDefaults.host, () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function startWorker(modulePath: string, index: number, env: NodeJS.ProcessEnv, drainMs: number): Promise<Worker> {
  const metricsPort = env.UPLINK_METRICS_PORT ? Number(env.UPLINK_METRICS_PORT) : undefined;
  const workerEnv = { ...env, ...(metricsPort ? { UPLINK_METRICS_PORT: String(metricsPort + index) } : {}) };
  const [entry, how] = workerEntry();
  const worker = new Worker(entry, { ...how, workerData: { modulePath, index, drainMs }, env: workerEnv });
  return new Promise((resolve, reject) => {
    const failed = (why: string) => reject(new Error(`worker ${index} did not start: ${why}`));
    worker.once('error', (error) => failed(error.message));
    worker.once('exit', (code) => failed(`it exited with status ${code}`));
    worker.once('message', (message: WorkerMessage) => {
      if (message !== 'ready') return failed(message.failed);
      worker.removeAllListeners('exit');
      worker.removeAllListeners('error');
      resolve(worker);
    });
  });
}

/**
 * The worker runs as this file does: compiled JavaScript from the package, or TypeScript from a
 * checkout under tsx (`node --import tsx`), whose loader Node 20 does not carry into worker threads:
 * the worker registers it first.
 */
function workerEntry(): [string | URL, { eval?: boolean }] {
  if (!import.meta.url.endsWith('.ts')) return [new URL('./serve-worker.js', import.meta.url), {}];
  const entry = new URL('./serve-worker.ts', import.meta.url).href;
  return [`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, { eval: true }];
}

async function stopAll(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((worker) => new Promise<void>((resolve) => {
    if (worker.threadId === -1) return resolve(); // already gone
    worker.once('exit', () => resolve());
    worker.postMessage('stop');
  })));
}
