/**
 * `uplink serve --workers N` as the CLI runs it (src/cli/serve-workers.ts), for the workers rows of
 * bench/nats-rows.ts: BENCH_WORKERS gateways in worker threads on one port, objects on the bench's
 * host behind NATS (BENCH_NATS_URL), the bench's JWT secret. Prints `ready <port>`.
 */
import { fileURLToPath } from 'node:url';
import { serveWithWorkers } from '../../src/cli/serve-workers.js';
import { tuneV8ForServing } from '../../src/cli/v8-tuning.js';
import { BENCH_SECRET } from './bench-secret.js';

tuneV8ForServing();
const env = {
  ...process.env, UPLINK_NATS_URL: process.env.BENCH_NATS_URL, UPLINK_JWT_SECRET: BENCH_SECRET, UPLINK_PORT: '0', UPLINK_LOG_LEVEL: 'warn',
  UPLINK_MAX_INFLIGHT: '256', UPLINK_MAX_CONNECTIONS: '1000000',
};
const module = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './no-objects.ts' : './no-objects.js', import.meta.url));
const port = await serveWithWorkers(Number(process.env.BENCH_WORKERS ?? 1), module, env, 1_000);
console.log(`ready ${port}`);
