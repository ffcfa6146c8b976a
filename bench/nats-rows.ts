/**
 * The `nats` rows of `npm run bench` (issue #27): a call through the cluster side by side with raw
 * nats.js request/reply of the same shape (add(1,2) as JSON from one connection, 32 in flight, a
 * responder process), and with the same calls to one gateway process. The three take turns, five
 * rounds each (one in --smoke); each row is its median round, and each ratio the median of the
 * per-round ratios (pairs ran back to back, so drift of the shared machine cancels out better).
 *
 * Rows: `raw-nats` (server = the responder), `uplink` (one process), `uplink-nats` (server = the
 * gateway; host and nats-server CPU beside it). The uplink-nats row carries its calls/s and its
 * nats-server CPU as ratios to raw-nats, and its gateway CPU as a ratio to the one-process gateway:
 * the targets of #27 (at least 0.6x, at most 1.5x, at most 2x). A second scenario, one call in
 * flight, gives p50 at light load (target: 1 ms at most).
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { driveClosed } from './drive.js';
import { median, round, type Measurement } from './measurement.js';
import { benchRuntime, serverCpuMicros, startServer, type ServerProcess } from './servers/processes.js';
import { REUSE_PORT_SUPPORTED } from '../src/server/runtime/node-runtime.js';

export interface NatsRowsSetup {
  natsUrl: string;
  natsPid: number;
  hostPid: number;
  gateway: ServerProcess;
  oneProcess: ServerProcess;
  /** Lanes of `conns` Uplink client connections to a gateway, each calling add(1,2). */
  uplinkLanes(url: string, conns: number): Promise<{ lanes: Array<() => Promise<void>>; close(): void }>;
  durationMs: number;
  warmupMs: number;
  rounds: number;
}

interface Subject { server: ServerProcess; lanes: Array<() => Promise<void>>; others: { host?: number; nats?: number } }

const RAW_SUBJECT = 'bench.raw.add';

export async function natsRows(setup: NatsRowsSetup): Promise<Measurement[]> {
  const responder = await startServer('raw-nats', { script: 'raw-nats-responder', env: { BENCH_NATS_URL: setup.natsUrl } });
  const nc = await natsConnect({ servers: setup.natsUrl, noAsyncTraces: true });
  const payload = new TextEncoder().encode('[1,2]');
  const raw: Subject = { server: responder, lanes: [async () => void (await nc.request(RAW_SUBJECT, payload, { timeout: 10_000 }))], others: { nats: setup.natsPid } };
  const single = await setup.uplinkLanes(setup.oneProcess.url, 1);
  const cluster = await setup.uplinkLanes(setup.gateway.url, 1);
  const subjects: Subject[] = [
    raw,
    { server: setup.oneProcess, lanes: single.lanes, others: {} },
    { server: setup.gateway, lanes: cluster.lanes, others: { host: setup.hostPid, nats: setup.natsPid } },
  ];
  const rows = [
    ...summarise(await rounds('nats add(1,2) 1x32', subjects, 32, setup)),
    ...summarise(await rounds('nats add(1,2) 1x1', [raw, subjects[2]!], 1, setup)),
  ];
  single.close();
  cluster.close();
  await close(nc);
  responder.child.kill('SIGINT');
  return [...rows, ...await workerRows(setup)];
}

/**
 * `uplink serve --workers 1` and `--workers 2` (bench/servers/uplink-workers.ts), 8 connections of 32
 * calls in flight each, in turns: what a second gateway thread buys on this machine. Server CPU is
 * the gateway process's (every thread); host and nats-server beside it.
 */
async function workerRows(setup: NatsRowsSetup): Promise<Measurement[]> {
  if (benchRuntime === 'node' && !REUSE_PORT_SUPPORTED) {
    console.error(`  workers rows SKIPPED: the node runtime shares a port between workers only on Node.js 22.12+ (this is ${process.versions.node})`);
    return [];
  }
  const subjects: Subject[] = [];
  const closers: Array<() => void> = [];
  for (const workers of [1, 2]) {
    const server = await startServer(`uplink-nats-w${workers}`, { script: 'uplink-workers', env: { BENCH_NATS_URL: setup.natsUrl, BENCH_WORKERS: String(workers) } });
    await new Promise((r) => setTimeout(r, 1_500)); // each worker picks hosts from their beats
    const { lanes, close: closeLanes } = await setup.uplinkLanes(server.url, 8);
    subjects.push({ server, lanes, others: { host: setup.hostPid, nats: setup.natsPid } });
    closers.push(() => {
      closeLanes();
      server.child.kill('SIGTERM');
    });
  }
  const runs = await rounds('nats add(1,2) 8x32 workers', subjects, 32, setup);
  closers.forEach((close) => close());
  return runs.map((series) => {
    const cpu = median(series.map((m) => m.serverCpuUsPerOp));
    const row = { ...series.find((m) => m.serverCpuUsPerOp === cpu)! };
    console.error(`  ${row.scenario.padEnd(22)} ${row.server.padEnd(14)} ${String(row.opsPerSec).padStart(8)}/s  gateway ${row.serverCpuUsPerOp} us/op`);
    return row;
  });
}

async function close(nc: NatsConnection): Promise<void> {
  await nc.close().catch(() => {});
}

async function rounds(scenario: string, subjects: Subject[], inflight: number, setup: NatsRowsSetup): Promise<Measurement[][]> {
  const runs: Measurement[][] = subjects.map(() => []);
  for (let r = 0; r < setup.rounds; r++) {
    for (const [i, subject] of subjects.entries()) runs[i]!.push(await measure(scenario, subject, inflight, setup));
  }
  return runs;
}

async function measure(scenario: string, { server, lanes, others }: Subject, inflight: number, setup: NatsRowsSetup): Promise<Measurement> {
  await driveClosed(lanes, inflight, setup.warmupMs);
  const cpu = (pid: number | undefined) => (pid === undefined ? 0 : serverCpuMicros(pid));
  const before = { server: cpu(server.pid), host: cpu(others.host), nats: cpu(others.nats), client: process.cpuUsage() };
  const { ops, latencies } = await driveClosed(lanes, inflight, setup.durationMs);
  const client = process.cpuUsage(before.client);
  latencies.sort();
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000);
  return {
    scenario, server: server.name, ops, opsPerSec: Math.round(ops / (setup.durationMs / 1000)), p50us: pct(0.5), p99us: pct(0.99), p999us: pct(0.999),
    serverCpuUsPerOp: round((cpu(server.pid) - before.server) / ops), clientCpuUsPerOp: round((client.user + client.system) / ops),
    ...(others.nats === undefined ? {} : { natsCpuUsPerOp: round((cpu(others.nats) - before.nats) / ops) }),
    ...(others.host === undefined ? {} : { hostCpuUsPerOp: round((cpu(others.host) - before.host) / ops) }),
  };
}

/** The median round of each subject, the cluster's ratios to raw nats.js and to one process (medians of per-round ratios). */
function summarise(runs: Measurement[][]): Measurement[] {
  const rows = runs.map((series) => {
    const cpu = median(series.map((m) => m.serverCpuUsPerOp));
    return { ...series.find((m) => m.serverCpuUsPerOp === cpu)! };
  });
  const rawRuns = runs[0]!;
  const clusterRuns = runs[runs.length - 1]!;
  const clusterRow = rows[rows.length - 1]!;
  const ratio = (pick: (m: Measurement, r: number) => number) => round(median(clusterRuns.map(pick)));
  clusterRow.vsRawNats = {
    calls: ratio((m, r) => m.opsPerSec / rawRuns[r]!.opsPerSec),
    natsCpu: ratio((m, r) => (m.natsCpuUsPerOp ?? 0) / Math.max(0.01, rawRuns[r]!.natsCpuUsPerOp ?? 0)),
    p50: ratio((m, r) => m.p50us / Math.max(1, rawRuns[r]!.p50us)),
  };
  if (runs.length === 3) clusterRow.ratioToReference = ratio((m, r) => m.serverCpuUsPerOp / runs[1]![r]!.serverCpuUsPerOp);
  for (const row of rows) console.error(`  ${row.scenario.padEnd(22)} ${row.server.padEnd(11)} ${String(row.opsPerSec).padStart(8)}/s  server ${row.serverCpuUsPerOp} us/op  p50 ${row.p50us} us`);
  const v = clusterRow.vsRawNats;
  console.error(`  ${clusterRow.scenario}: calls/s ${v.calls}x raw nats.js, nats-server CPU ${v.natsCpu}x raw, p50 ${v.p50}x raw${clusterRow.ratioToReference === undefined ? '' : `, gateway CPU ${clusterRow.ratioToReference}x one process`}`);
  return rows;
}
