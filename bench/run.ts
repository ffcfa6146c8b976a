/**
 * `npm run bench`: Uplink against raw uWS references, each server in its own process, the load from
 * this one. Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                    # 5 s per measurement
 *   npm run bench -- --duration 2    # seconds per measurement
 *   npm run bench -- --smoke         # a fraction of a second each: checks the script, not the speed
 *   npm run bench -- --only connect  # only the scenarios whose name contains the word
 *   UPLINK_RUNTIME=node npm run bench   # every row on the node runtime, against node:http + ws references (latest-node.json)
 *
 * It compiles the bench with tsc first (bench/tsconfig.json) and runs that JavaScript: the code users
 * run from the package, not tsx's transform (whose keepNames adds work and memory per closure).
 *
 * The reference of a row is raw-json in the same scenario, or raw-echo where raw-json has no row
 * (for connect: a bare WebSocket open and close).
 *
 * Server CPU per call comes from /proc/<pid>/stat (utime + stime) deltas of the server process, the
 * figure that matters on a 2-core machine where the load generator competes for the CPU.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import type { UplinkClient } from '../src/client/index.js';
import { CALL_RELATIVE, callbackRoundTrip, laneBuilders, refCall } from './lanes.js';
import { BENCH_SECRET } from './servers/bench-secret.js';
import { makeCertificates } from '../test/support/certificates.js';
import { NATS_SERVER, startNatsServer } from '../test/support/nats-server.js';
import { driveAtRate, driveAtRateTimed, driveClosed, type Driven } from './drive.js';
import { clientRows } from './client-rows.js';
import { idleConnections } from './idle.js';
import { medianRows, round, type Measurement } from './measurement.js';
import { connectRows } from './connect.js';
import { natsRows } from './nats-rows.js';
import { httpLanes } from './http-lanes.js';
import { benchRuntime, placement, referenceName, serverCpuMicros, startServer, type ServerProcess } from './servers/processes.js';

/** bench/results of the repository, also when this runs compiled from .bench-build/bench. */
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), ...(import.meta.url.includes('/.bench-build/') ? ['..', '..', 'bench'] : []), 'results');
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const durationIndex = args.indexOf('--duration');
const durationMs = smoke ? 300 : (durationIndex >= 0 ? Number(args[durationIndex + 1]) : 5) * 1000;
const warmupMs = smoke ? 100 : 1000;
const onlyIndex = args.indexOf('--only');
/** `--only connect` runs just the scenarios whose name contains the word. */
const wanted = (scenario: string) => onlyIndex < 0 || scenario.includes(args[onlyIndex + 1] ?? '');
/** The open-loop call rate (calls per second over all connections). */
const RATE = smoke ? 2_000 : 15_000;
const idleIndex = args.indexOf('--idle');
/** Idle connections to hold open, a small and a large count; capped by the open-file limit this machine allows. */
const idleCounts = smoke ? [100, 300] : idleIndex >= 0 ? [2_000, Number(args[idleIndex + 1])] : [2_000, 50_000];
const token = await new SignJWT({ scope: 'bench' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('2h').sign(new TextEncoder().encode(BENCH_SECRET));
/** The Node client's default stream window (src/client/options.ts). */
const DEFAULT_WINDOW = 256;
const { rawLanes, wireLanes, uplinkLanes, streamLanes } = laneBuilders(token);
/** The Uplink frame of a call (written by hand for the same-client rows) and the hello that opens its socket. */
const uplinkCall = (object: string, method: string, body: string) => (id: number) => `{"t":"call","id":${id},"o":"${object}","m":"${method}"}\n${body}`;
const hello = JSON.stringify({ t: 'hello', v: [1], token });
const text1k = 'x'.repeat(1024);
const body1k = JSON.stringify([text1k]);
const conns = 8;


/** The other processes of the uplink-nats rows, whose CPU is measured alongside the gateway's. */
let clusterPids: { host: number; nats: number } | undefined;

/** `load`: in flight per lane (closed loop), or `{ perSecond }` (open loop; `timer`: from a 1 ms timer, see bench/drive.ts). */
type Load = number | { perSecond: number; timer?: true };

function drive(lanes: Array<() => Promise<void>>, load: Load, ms: number): Promise<Driven> {
  if (typeof load === 'number') return driveClosed(lanes, load, ms);
  return load.timer ? driveAtRateTimed(lanes, load.perSecond, ms) : driveAtRate(lanes, load.perSecond, ms);
}

async function measure(scenario: string, server: ServerProcess, lanes: Array<() => Promise<void>>, load: Load): Promise<Measurement> {
  await drive(lanes, load, warmupMs);
  const cluster = server.name === 'uplink-nats' ? clusterPids : undefined;
  const others0 = cluster && { host: serverCpuMicros(cluster.host), nats: serverCpuMicros(cluster.nats) };
  const cpu0 = serverCpuMicros(server.pid);
  const client0 = process.cpuUsage();
  const { ops, latencies } = await drive(lanes, load, durationMs);
  const serverCpu = serverCpuMicros(server.pid) - cpu0;
  const others = cluster && others0 && {
    hostCpuUsPerOp: round((serverCpuMicros(cluster.host) - others0.host) / ops), natsCpuUsPerOp: round((serverCpuMicros(cluster.nats) - others0.nats) / ops),
  };
  const clientCpu = process.cpuUsage(client0);
  latencies.sort();
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000);
  return {
    scenario, server: server.name, ops, opsPerSec: Math.round(ops / (durationMs / 1000)),
    p50us: pct(0.5), p99us: pct(0.99), p999us: pct(0.999),
    serverCpuUsPerOp: round(serverCpu / ops), clientCpuUsPerOp: round((clientCpu.user + clientCpu.system) / ops), ...others,
  };
}

/** Restates a measurement whose operations carry several items as per-item figures (latency stays per operation). */
function perItem(m: Measurement, itemsPerOp: number): Measurement {
  if (itemsPerOp === 1) return m;
  const per = (v: number | undefined) => (v === undefined ? undefined : round(v / itemsPerOp));
  return {
    ...m, ops: m.ops * itemsPerOp, opsPerSec: m.opsPerSec * itemsPerOp, serverCpuUsPerOp: per(m.serverCpuUsPerOp)!, clientCpuUsPerOp: per(m.clientCpuUsPerOp)!,
    ...(m.hostCpuUsPerOp === undefined ? {} : { hostCpuUsPerOp: per(m.hostCpuUsPerOp), natsCpuUsPerOp: per(m.natsCpuUsPerOp) }),
  };
}

/**
 * Measures the servers in turns, `rounds` times each, and returns each one's median run (by server
 * CPU per op). The second server's ratio to the first is the median of the per-round ratios: each
 * pair ran back to back, so drift of the shared machine cancels out better than in a ratio of medians.
 */
async function alternate(scenario: string, subjects: Array<[ServerProcess, Array<() => Promise<void>>]>, load: Load, rounds = 3): Promise<Measurement[]> {
  const runs: Measurement[][] = subjects.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, [server, lanes]] of subjects.entries()) runs[i]!.push(await measure(scenario, server, lanes, load));
  }
  return medianRows(runs);
}

/**
 * At a fixed, moderate rate (open loop) the server wakes up for about one call at a time, so per-call
 * fixed costs show, and both servers see the same arrivals; raw-json and Uplink in turns, five times
 * each, the median of the pairs' ratios. Each row twice: Uplink driven by its client (what users run),
 * and by the same bare socket as raw-json ("same client": the servers compared alone).
 */
async function fixedRateRows(json: ServerProcess, uplink: ServerProcess): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  const scenarios: Array<[string, (id: number) => string, (id: number) => string, (c: UplinkClient) => Promise<unknown>]> = [
    [`add(1,2) 8 conns at ${RATE}/s`, (id) => `{"id":${id},"m":"add","a":[1,2]}`, uplinkCall('calc', 'add', '[1,2]'), (c) => c.call('calc', 'add', [1, 2])],
    [`echo 1 KiB 8 conns at ${RATE}/s`, (id) => `{"id":${id},"m":"echo","a":${body1k}}`, uplinkCall('echo', 'echo', body1k), (c) => c.call('echo', 'echo', [text1k])],
  ];
  for (const [scenario, jsonMessage, uplinkMessage, op] of scenarios) {
    for (const sameClient of [false, true]) {
      const name = sameClient ? `${scenario} same client` : scenario;
      if (!wanted(name)) continue;
      const [reference, subject] = await Promise.all([
        wireLanes(json.url, conns, jsonMessage),
        sameClient ? wireLanes(uplink.url, conns, uplinkMessage, hello) : uplinkLanes(uplink.url, conns, op),
      ]);
      rows.push(...await alternate(name, [[json, reference.lanes], [uplink, subject.lanes]], { perSecond: RATE }, smoke ? 1 : 5));
      reference.close();
      subject.close();
    }
  }
  return rows;
}

/** echo 1 KiB closed loop with the same bare socket for raw-json and Uplink, in turns, five times each. */
async function sameClientEcho(json: ServerProcess, uplink: ServerProcess): Promise<Measurement[]> {
  const [reference, subject] = await Promise.all([
    wireLanes(json.url, conns, (id) => `{"id":${id},"m":"echo","a":${body1k}}`),
    wireLanes(uplink.url, conns, uplinkCall('echo', 'echo', body1k), hello),
  ]);
  const rows = await alternate('echo 1 KiB 8x8 same client', [[json, reference.lanes], [uplink, subject.lanes]], 8, smoke ? 1 : 5);
  reference.close();
  subject.close();
  return rows;
}

/** The rows in the order of the table (about 100 lines: one or two per group of rows, kept in one place to read the table's order). */
async function main(): Promise<void> {
  console.error(`processes: ${placement}; runtime: ${benchRuntime}${benchRuntime === 'node' ? ' (references: node:http + ws)' : ''}`);
  const servers = { echo: await startServer('raw-echo'), json: await startServer('raw-json'), uplink: await startServer('uplink') };
  // The same Uplink server on wss://, with a certificate made now (test/support/certificates.ts).
  const certs = makeCertificates();
  const wss = await startServer('uplink-wss', { script: 'uplink', scheme: 'wss', env: { BENCH_TLS_CERT: certs.certFile, BENCH_TLS_KEY: certs.keyFile } });
  const withMetrics = await startServer('uplink-metrics', { script: 'uplink', env: { BENCH_METRICS: '1' } });
  const results: Measurement[] = [];
  const run = async (scenario: string, server: ServerProcess, setup: Promise<{ lanes: Array<() => Promise<void>>; close(): void; itemsPerOp?: number }>, load: Load) => {
    const { lanes, close, itemsPerOp = 1 } = await setup;
    if (!wanted(scenario)) return close();
    const m = perItem(await measure(scenario, server, lanes, load), itemsPerOp);
    close();
    results.push(m);
    console.error(`  ${scenario.padEnd(22)} ${server.name.padEnd(9)} ${String(m.opsPerSec).padStart(8)}/s  server ${m.serverCpuUsPerOp} us/op`);
  };

  const inflight = 32;
  const callFrame = '{"t":"call","id":1234,"o":"calc","m":"add"}\n[1,2]';
  await run('add(1,2) 8x32', servers.echo, rawLanes(servers.echo.url, conns, callFrame), inflight);
  await run('add(1,2) 8x32', servers.json, rawLanes(servers.json.url, conns, '{"id":1234,"m":"add","a":[1,2]}'), inflight);
  await run('add(1,2) 8x32', servers.uplink, uplinkLanes(servers.uplink.url, conns, (c) => c.call('calc', 'add', [1, 2])), inflight);
  await run('add(1,2) 8x32', wss, uplinkLanes(wss.url, conns, (c) => c.call('calc', 'add', [1, 2]), certs.ca), inflight);
  // Metrics on against metrics off: the two gateways in turn, three times each, medians compared (one
  // pair of runs differs by more than the 5 % this is about).
  if (wanted('metrics A/B')) {
    const add = (c: UplinkClient) => c.call('calc', 'add', [1, 2]);
    const [off, on] = await Promise.all([uplinkLanes(servers.uplink.url, conns, add), uplinkLanes(withMetrics.url, conns, add)]);
    results.push(...await alternate('add(1,2) 8x32 metrics A/B', [[servers.uplink, off.lanes], [withMetrics, on.lanes]], inflight));
    off.close();
    on.close();
  }
  results.push(...await fixedRateRows(servers.json, servers.uplink));
  // Each system driven by its own client: the Uplink Node client against a hand-written JSON client (#30).
  results.push(...await clientRows({ measure, json: servers.json, uplink: servers.uplink, token, smoke, wanted }));
  // Calls over HTTP (one keep-alive connection per lane, one request in flight on each): raw uWS HTTP + JSON, then Uplink.
  if (wanted('http add(1,2) 64x1')) {
    const rawHttp = await startServer('raw-http');
    await run('http add(1,2) 64x1', rawHttp, httpLanes(rawHttp.url, 64, '/rpc/calc/add', '[1,2]'), 1);
    await run('http add(1,2) 64x1', servers.uplink, httpLanes(servers.uplink.url, 64, '/rpc/calc/add', '[1,2]', token), 1);
    rawHttp.child.kill();
  }
  // Callbacks and references, next to the plain call above (their reference row is uplink's add(1,2)).
  await run('callback 8x32', servers.uplink, uplinkLanes(servers.uplink.url, conns, callbackRoundTrip()), inflight);
  await run('ref call 8x32', servers.uplink, uplinkLanes(servers.uplink.url, conns, refCall()), inflight);

  for (const size of [1024, 64 * 1024]) {
    const text = 'x'.repeat(size);
    const name = `echo ${size / 1024} KiB 8x8`;
    await run(name, servers.echo, rawLanes(servers.echo.url, conns, `{"t":"call","id":1,"o":"echo","m":"echo"}\n${JSON.stringify([text])}`), 8);
    await run(name, servers.json, rawLanes(servers.json.url, conns, JSON.stringify({ id: 1, m: 'echo', a: [text] })), 8);
    await run(name, servers.uplink, uplinkLanes(servers.uplink.url, conns, (c) => c.call('echo', 'echo', [text])), 8);
  }

  if (wanted('echo 1 KiB 8x8 same client')) results.push(...await sameClientEcho(servers.json, servers.uplink));

  const mib = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
  await run('binary 1 MiB 1x4', servers.echo, rawLanes(servers.echo.url, 1, mib), 4);
  await run('binary 1 MiB 1x4', servers.uplink, uplinkLanes(servers.uplink.url, 1, (c) => c.call('echo', 'echo', [mib])), 4);
  // What the same bytes cost as a JSON array of numbers, the encoding Uplink avoids.
  const asJsonArray = JSON.stringify({ id: 1, m: 'echo', a: [Array.from(mib)] });
  await run('binary 1 MiB 1x4', servers.json, rawLanes(servers.json.url, 1, asJsonArray), 4);

  await run('stream 1x1M items', servers.uplink, streamLanes(servers.uplink.url, 1, 1, smoke ? 20_000 : 1_000_000), 1);
  await run('stream 100x10k items', servers.uplink, streamLanes(servers.uplink.url, 4, 25, smoke ? 200 : 10_000), 1);
  // The client's default credit window (256), as most users run it; the rows above use 8,192.
  await run('stream 1x1M items default window', servers.uplink, streamLanes(servers.uplink.url, 1, 1, smoke ? 20_000 : 1_000_000, 'count', DEFAULT_WINDOW), 1);
  // What users write: `async *count(n)` (their generators await I/O), on one stream and on 100.
  await run('async stream 1x1M items', servers.uplink, streamLanes(servers.uplink.url, 1, 1, smoke ? 20_000 : 1_000_000, 'countAsync'), 1);
  await run('async stream 1x1M items default window', servers.uplink, streamLanes(servers.uplink.url, 1, 1, smoke ? 20_000 : 1_000_000, 'countAsync', DEFAULT_WINDOW), 1);
  await run('async stream 100x10k items', servers.uplink, streamLanes(servers.uplink.url, 4, 25, smoke ? 200 : 10_000, 'countAsync'), 1);

  // The same calls and streams through a gateway whose objects are on a host behind NATS (three processes).
  const cluster = await startNatsCluster();
  if (cluster) {
    const { gateway } = cluster;
    await run('add(1,2) 8x32', gateway, uplinkLanes(gateway.url, conns, (c) => c.call('calc', 'add', [1, 2])), inflight);
    await run('callback 8x32', gateway, uplinkLanes(gateway.url, conns, callbackRoundTrip()), inflight);
    await run('ref call 8x32', gateway, uplinkLanes(gateway.url, conns, refCall()), inflight);
    await run('stream 1x1M items', gateway, streamLanes(gateway.url, 1, 1, smoke ? 20_000 : 1_000_000), 1);
    await run('stream 100x10k items', gateway, streamLanes(gateway.url, 4, 25, smoke ? 200 : 10_000), 1);
    await run('stream 1x1M items default window', gateway, streamLanes(gateway.url, 1, 1, smoke ? 20_000 : 1_000_000, 'count', DEFAULT_WINDOW), 1);
    await run('async stream 1x1M items default window', gateway, streamLanes(gateway.url, 1, 1, smoke ? 20_000 : 1_000_000, 'countAsync', DEFAULT_WINDOW), 1);
    if (wanted('nats add')) {
      const addLanes = (url: string, n: number) => uplinkLanes(url, n, (c) => c.call('calc', 'add', [1, 2]));
      results.push(...await natsRows({ ...cluster, oneProcess: servers.uplink, uplinkLanes: addLanes, durationMs, warmupMs: smoke ? 100 : 2_000, rounds: smoke ? 1 : 5 }));
    }
    await cluster.stop();
  }
  if (wanted('connect')) results.push(...await connectRows(servers.echo, servers.uplink, token, smoke));
  if (wanted('idle')) {
    // Fresh servers: the earlier rows grew the heaps of the others.
    for (const name of ['raw-echo', 'uplink']) {
      const server = await startServer(name);
      results.push(...await idleConnections(server, idleCounts, token, smoke ? 500 : 15_000));
      server.child.kill();
    }
  }

  for (const m of results) {
    // Metrics on are measured against the same gateway with metrics off.
    const sameWithout = m.server === 'uplink-metrics' ? results.find((r) => r.scenario === m.scenario && r.server === 'uplink') : undefined;
    const reference = sameWithout ?? results.find((r) => r.scenario === m.scenario && (r.server === referenceName('raw-json') || r.server === referenceName('raw-http'))) ?? results.find((r) => r.scenario === m.scenario && r.server === referenceName('raw-echo'))
      ?? (CALL_RELATIVE.has(m.scenario) ? results.find((r) => r.scenario === 'add(1,2) 8x32' && r.server === m.server) : undefined);
    if (reference && m !== reference && reference.serverCpuUsPerOp > 0 && m.ratioToReference === undefined) m.ratioToReference = round(m.serverCpuUsPerOp / reference.serverCpuUsPerOp);
  }
  printTable(results);
  mkdirSync(resultsDir, { recursive: true });
  const out = join(resultsDir, smoke ? 'smoke.tmp.json' : benchRuntime === 'node' ? 'latest-node.json' : 'latest.json');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, runtime: benchRuntime, cpu: cpus()[0]?.model, cores: cpus().length, placement, durationMs, results }, null, 2) + '\n');
  console.log(`\nwritten to ${out}`);
  for (const s of [...Object.values(servers), wss, withMetrics]) s.child.kill();
  rmSync(certs.dir, { recursive: true, force: true });
  process.exit(0);
}

/** nats-server, an object host and a gateway routing to it (the uplink-nats rows); undefined without nats-server. */
async function startNatsCluster(): Promise<{ gateway: ServerProcess; natsUrl: string; natsPid: number; hostPid: number; stop(): Promise<void> } | undefined> {
  if (!['add(1,2) 8x32', 'stream 1x1M items', 'stream 100x10k items', 'stream 1x1M items default window', 'async stream 1x1M items default window', 'callback 8x32', 'ref call 8x32', 'nats add(1,2) 1x32'].some(wanted)) return undefined;
  if (!existsSync(NATS_SERVER)) {
    console.error(`  uplink-nats rows SKIPPED: no nats-server at ${NATS_SERVER} (apt-get install -y nats-server)`);
    return undefined;
  }
  const nats = await startNatsServer();
  const env = { BENCH_NATS_URL: nats.url };
  const host = await startServer('uplink-nats-host', { env });
  const gateway = await startServer('uplink-nats', { script: 'uplink', env });
  clusterPids = { host: host.pid, nats: nats.process.pid! };
  // The gateway picks hosts from their heartbeats: wait for the first one.
  await new Promise((r) => setTimeout(r, 1_500));
  return {
    gateway, natsUrl: nats.url, natsPid: nats.process.pid!, hostPid: host.pid,
    stop: async () => {
      gateway.child.kill();
      host.child.kill();
      await nats.stop();
    },
  };
}

/** The ratio column: to the row's reference; on the nats rows also calls/s, nats-server CPU and p50 against raw nats.js. */
function ratioText(m: Measurement): string {
  if (m.callsRatio !== undefined) return `client CPU ${m.ratioToReference}x, calls/s ${m.callsRatio}x, server CPU ${m.serverRatio}x`;
  const own = m.ratioToReference === undefined ? '' : `${m.ratioToReference}x`;
  if (!m.vsRawNats) return own;
  const { calls, natsCpu, p50 } = m.vsRawNats;
  return `${own ? `${own} one process; ` : ''}vs raw nats.js: calls/s ${calls}x, nats-server CPU ${natsCpu}x, p50 ${p50}x`;
}

function printTable(results: Measurement[]): void {
  const header = ['scenario', 'server', 'ops/s', 'p50 us', 'p99 us', 'p99.9 us', 'server us/op', 'client us/op', 'server CPU vs reference', 'server RSS/conn', 'host + nats-server us/op'];
  const rows = results.map((m) => [m.scenario, m.server, m.opsPerSec, m.p50us, m.p99us, m.p999us, m.serverCpuUsPerOp, m.clientCpuUsPerOp,
    ratioText(m), m.rssBytesPerConnection === undefined ? '' : `${m.rssBytesPerConnection} B`,
    m.hostCpuUsPerOp === undefined ? (m.natsCpuUsPerOp === undefined ? '' : `nats-server ${m.natsCpuUsPerOp}`) : `${m.hostCpuUsPerOp} + ${m.natsCpuUsPerOp}`].map(String));
  console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

await main();
