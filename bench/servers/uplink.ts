/**
 * The Uplink gateway under test: demo objects plus a bench object, HS256 authentication, a free
 * loopback port. With BENCH_NATS_URL it registers nothing: every object is on a host behind NATS
 * (uplink-nats-host.ts), for the uplink-nats rows.
 */
import { connect } from '@nats-io/transport-node';
import { Gateway, JwtAuthenticator } from '../../src/index.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { NatsObjectHost } from '../../src/nats/index.js';
import { tuneV8ForServing } from '../../src/cli/v8-tuning.js';
import { BENCH_SECRET } from './bench-secret.js';
import { sampleHeapUntilExit, snapshotHeapAt } from './heap-sampling.js';
import { Bench } from './bench-objects.js';


// BENCH_TLS_CERT / BENCH_TLS_KEY: the same gateway on wss:// (the uplink-wss rows).
const tls = process.env.BENCH_TLS_CERT && process.env.BENCH_TLS_KEY ? { certFile: process.env.BENCH_TLS_CERT, keyFile: process.env.BENCH_TLS_KEY } : undefined;
// As `uplink serve` runs (src/cli/v8-tuning.ts).
tuneV8ForServing();
const remote = process.env.BENCH_NATS_URL ? new NatsObjectHost(await connect({ servers: process.env.BENCH_NATS_URL, noAsyncTraces: true })) : undefined;
// BENCH_METRICS=1: the same gateway with Prometheus metrics on (the uplink-metrics rows: their cost).
const metrics = process.env.BENCH_METRICS === '1' ? { metrics: { port: 0 } } : {};
// UPLINK_RUNTIME=node: the same gateway on the node runtime (node:http + ws) instead of uWS.
const runtime = process.env.UPLINK_RUNTIME === 'node' || process.env.UPLINK_RUNTIME === 'uws' ? { runtime: process.env.UPLINK_RUNTIME as 'node' | 'uws' } : {};
const gateway = new Gateway({
  ...(remote ? { remoteObjects: remote } : {}), ...metrics, ...runtime,
  port: 0, logLevel: 'warn', maxPayloadLength: 16 * 1024 * 1024, maxInflight: 256, maxConnections: 1_000_000, ...(tls ? { tls } : {}),
  authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: BENCH_SECRET }),
});
if (!remote) {
  registerDemoObjects(gateway);
  gateway.register(new Bench(), 'bench');
}
// The idle-connection bench reads RSS after a full collection (the bench starts servers with --expose-gc).
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
await gateway.listen();
console.log(`ready ${gateway.port}`);
// SIGINT exits normally, so that --cpu-prof writes its profile (bench:nats-breakdown --cpu-prof).
await snapshotHeapAt(process.env.BENCH_HEAP_SNAPSHOT_AT_MS);
if (process.env.BENCH_HEAP_SAMPLE) sampleHeapUntilExit(process.env.BENCH_HEAP_SAMPLE);
else process.on('SIGINT', () => process.exit(0));
