/**
 * `npm run bench:nats-breakdown`: where a call through NATS goes (issue #27, step 1). A nats-server
 * with monitoring, the bench's object host and gateway as processes, one Uplink client:
 *
 * - messages and bytes through nats-server per call and per stream item (its /varz counters), and
 *   which subjects carry them (a sample seen by a wildcard subscriber, counted apart);
 * - CPU per call of the gateway, the host and nats-server (/proc), calls/s with 32 in flight;
 * - p50 of a single call at light load (one in flight).
 *
 * `--cpu-prof DIR` starts the gateway and the host with --cpu-prof (profiles written on exit).
 * Figures go to bench/results/nats-breakdown.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect as natsConnect } from '@nats-io/transport-node';
import { SignJWT } from 'jose';
import { connect, type UplinkClient } from '../../src/client/index.js';
import { startNatsServer } from '../../test/support/nats-server.js';
import { BENCH_SECRET } from '../servers/bench-secret.js';
import { serverCpuMicros, startServer, type ServerProcess } from '../servers/processes.js';

const args = process.argv.slice(2);
const profDir = args.includes('--cpu-prof') ? args[args.indexOf('--cpu-prof') + 1] : undefined;
const CALLS = Number(process.env.BREAKDOWN_CALLS ?? 20_000);
const ITEMS = Number(process.env.BREAKDOWN_ITEMS ?? 200_000);

const freePort = () => new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});

interface Varz { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }
const monitor = await freePort();
const varz = async (): Promise<Varz> => (await (await fetch(`http://127.0.0.1:${monitor}/varz`)).json()) as Varz;

const nats = await startNatsServer({ extraArgs: ['-m', String(monitor)] });
const env = { BENCH_NATS_URL: nats.url };
// BREAKDOWN_NODE_ARGS: more Node flags for the gateway and the host (say --trace-gc).
const nodeArgs = [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...(process.env.BREAKDOWN_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
if (profDir) mkdirSync(profDir, { recursive: true });
const host = await startServer('uplink-nats-host', { env, nodeArgs });
const gateway = await startServer('uplink-nats', { script: 'uplink', env, nodeArgs });
await new Promise((r) => setTimeout(r, 1_500)); // the gateway picks hosts from their beats
// BREAKDOWN_ALONE=gateway|host: that process gets CPU 0 to itself, everything else shares CPU 1, so
// that its profile shows its own work and not the time it spent preempted (V8 samples wall time).
const alone = process.env.BREAKDOWN_ALONE;
if (alone) {
  const pin = (pid: number, cpu: number) => execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  for (const [name, p] of [['gateway', gateway], ['host', host], ['nats-server', { pid: nats.process.pid! }], ['bench', { pid: process.pid }]] as const) pin(p.pid, name === alone ? 0 : 1);
}
const token = await new SignJWT({ scope: 'bench' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('2h').sign(new TextEncoder().encode(BENCH_SECRET));
const client = await connect(gateway.url, { token, timeoutMs: 0, keepaliveMs: 0, reconnect: false });

/** Runs `total` calls with `inflight` in flight; per-call latencies in microseconds. */
async function calls(c: UplinkClient, total: number, inflight: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (next++ < total) {
      const started = performance.now();
      await c.call('calc', 'add', [1, 2]);
      latencies.push((performance.now() - started) * 1000);
    }
  }));
  return latencies;
}

const cpu = (p: { pid: number }) => serverCpuMicros(p.pid);
/** Write system calls a process made so far (/proc/<pid>/io): how well it coalesces messages per flush. */
const writes = (p: { pid: number }) => Number(/syscw:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/io`, 'utf8'))?.[1] ?? 0);
/** Times a process gave up the CPU (it waited for input): its wake-ups, each of which costs a system call or more. */
const wakeups = (p: { pid: number }) => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0);
const processes: Array<[string, { pid: number }]> = [['gateway', gateway], ['host', host], ['nats-server', { pid: nats.process.pid! }]];

async function measured<T>(ops: number, run: () => Promise<T>): Promise<{ result: T; perOp: Record<string, number> }> {
  const cpu0 = processes.map(([, p]) => cpu(p));
  const writes0 = processes.map(([, p]) => writes(p));
  const client0 = process.cpuUsage();
  const wakeups0 = processes.map(([, p]) => wakeups(p));
  const v0 = await varz();
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const v1 = await varz();
  const perOp: Record<string, number> = {
    opsPerSec: Math.round(ops / seconds),
    natsMsgsIn: (v1.in_msgs - v0.in_msgs) / ops, natsMsgsOut: (v1.out_msgs - v0.out_msgs) / ops,
    natsBytesIn: Math.round((v1.in_bytes - v0.in_bytes) / ops), natsBytesOut: Math.round((v1.out_bytes - v0.out_bytes) / ops),
  };
  processes.forEach(([name, p], i) => (perOp[`cpuUs_${name}`] = Math.round(((cpu(p) - cpu0[i]!) / ops) * 100) / 100));
  const client = process.cpuUsage(client0);
  perOp.cpuUs_client = Math.round(((client.user + client.system) / ops) * 100) / 100;
  processes.forEach(([name, p], i) => (perOp[`writes_${name}`] = Math.round(((writes(p) - writes0[i]!) / ops) * 1000) / 1000));
  processes.forEach(([name, p], i) => (perOp[`wakeups_${name}`] = Math.round(((wakeups(p) - wakeups0[i]!) / ops) * 1000) / 1000));
  return { result, perOp };
}

/** Which subjects carry a call: a wildcard subscriber watches a small sample (its own cost is not in the figures above). */
async function subjectsPerCall(sample: number): Promise<Record<string, number>> {
  const spy = await natsConnect({ servers: nats.url });
  const counts: Record<string, number> = {};
  spy.subscribe('>', { callback: (_e, msg) => {
    const kind = msg.subject.replace(/^_U\.[^.]+\.[0-9a-z]+$/, '_U.<gw>.<id>').replace(/^_U\.[^.]+\._cb$/, '_U.<gw>._cb').replace(/uplink\.host\.[^.]+\./, 'uplink.host.<host>.')
      .replace(/^uplink\.evt\.(host|gw)\.[^.]+/, 'uplink.evt.$1.<id>');
    const event = msg.headers?.get('Uplink-Event') || msg.headers?.get('Uplink-Op');
    const key = event ? `${kind} (${event})` : kind;
    counts[key] = (counts[key] ?? 0) + 1;
  } });
  await spy.flush();
  await calls(client, sample, 32);
  await spy.flush();
  await new Promise((r) => setTimeout(r, 200));
  await spy.close();
  return Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, Math.round((n / sample) * 1000) / 1000]));
}

// Warm-up long enough for the JIT to settle (with 2,000 calls, TurboFan still compiled during the measured run).
const WARM_UP = Number(process.env.BREAKDOWN_WARM_UP ?? 10_000);
await calls(client, WARM_UP, 32);
const loaded = await measured(CALLS, () => calls(client, CALLS, 32));
const light = await measured(2_000, () => calls(client, 2_000, 1));
const sorted = light.result.sort((a, b) => a - b);
const p50 = Math.round(sorted[Math.floor(sorted.length / 2)]!);
const stream = await measured(ITEMS, async () => {
  let n = 0;
  for await (const _ of client.stream('bench', 'countAsync', [ITEMS])) n++;
  return n;
});
const subjects = await subjectsPerCall(1_000);
const inProcess = await oneProcess();
const raw = await rawNats();

/** The same calls and stream against one gateway process with the objects in it (no NATS): the reference for the gateway's CPU. */
async function oneProcess(): Promise<Record<string, number>> {
  const single = await startServer('uplink', { nodeArgs });
  const c = await connect(single.url, { token, timeoutMs: 0, keepaliveMs: 0, reconnect: false });
  await calls(c, WARM_UP, 32);
  const t0 = performance.now();
  const cpu0 = cpu(single);
  await calls(c, CALLS, 32);
  const callCpu = (cpu(single) - cpu0) / CALLS;
  const callRate = CALLS / ((performance.now() - t0) / 1000);
  const light = (await calls(c, 2_000, 1)).sort((a, b) => a - b);
  const t1 = performance.now();
  let n = 0;
  for await (const _ of c.stream('bench', 'countAsync', [ITEMS])) n++;
  const itemRate = n / ((performance.now() - t1) / 1000);
  await c.close();
  single.child.kill('SIGINT');
  return { callsPerSec: Math.round(callRate), cpuUsPerCall: Math.round(callCpu * 100) / 100, p50Us: Math.round(light[light.length >> 1]!), streamItemsPerSec: Math.round(itemRate) };
}

/**
 * The floor: raw nats.js request/reply of the same shape (add(1,2) as JSON, 32 in flight from one
 * connection, a responder process), with the CPU of the responder, nats-server and this client.
 */
async function rawNats(): Promise<Record<string, number>> {
  const responder = await startServer('raw-nats-responder', { env });
  const nc = await natsConnect({ servers: nats.url, noAsyncTraces: true });
  const payload = new TextEncoder().encode('[1,2]');
  const requests = async (total: number, inflight: number): Promise<number[]> => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (next++ < total) {
        const started = performance.now();
        await nc.request('bench.raw.add', payload, { timeout: 10_000 });
        latencies.push((performance.now() - started) * 1000);
      }
    }));
    return latencies;
  };
  await requests(WARM_UP, 32);
  const cpu0 = [cpu(responder), cpu({ pid: nats.process.pid! }), process.cpuUsage()];
  const t0 = performance.now();
  await requests(CALLS, 32);
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(cpu0[2] as NodeJS.CpuUsage);
  const perCall = (us: number) => Math.round((us / CALLS) * 100) / 100;
  const row = {
    callsPerSec: Math.round(CALLS / seconds), cpuUs_responder: perCall(cpu(responder) - (cpu0[0] as number)),
    'cpuUs_nats-server': perCall(cpu({ pid: nats.process.pid! }) - (cpu0[1] as number)), cpuUs_client: perCall(client.user + client.system),
  };
  const light = (await requests(2_000, 1)).sort((a, b) => a - b);
  await nc.close();
  responder.child.kill('SIGINT');
  return { ...row, p50Us: Math.round(light[light.length >> 1]!) };
}

const report = { date: new Date().toISOString(), node: process.version, calls: { inflight: 32, ...loaded.perOp }, singleCall: { p50Us: p50, ...light.perOp }, streamDefaultWindow: stream.perOp, subjectsPerCall: subjects, oneProcess: inProcess, rawNats: raw };
console.log(JSON.stringify(report, null, 2));
// bench/results of the repository, from bench/experiments or from .bench-build/bench/experiments.
const results = join(dirname(fileURLToPath(import.meta.url)), ...(import.meta.url.includes('/.bench-build/') ? ['..', '..', '..', 'bench'] : ['..']), 'results');
writeFileSync(join(results, 'nats-breakdown.json'), JSON.stringify(report, null, 2) + '\n');
await client.close();
for (const p of [gateway, host] as ServerProcess[]) p.child.kill('SIGINT');
await new Promise((r) => setTimeout(r, 500));
await nats.stop();
process.exit(0);
