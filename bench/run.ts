/**
 * `npm run bench`: Uplink against raw uWS references, each server in its own process, the load from
 * this one. Prints a table and writes bench/results/latest.json.
 *
 *   npm run bench                    # 5 s per measurement
 *   npm run bench -- --duration 2    # seconds per measurement
 *   npm run bench -- --smoke         # a fraction of a second each: checks the script, not the speed
 *
 * Server CPU per call comes from /proc/<pid>/stat (utime + stime) deltas of the server process, the
 * figure that matters on a 2-core machine where the load generator competes for the CPU.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { connect, type UplinkClient } from '../src/client/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const durationIndex = args.indexOf('--duration');
const durationMs = smoke ? 300 : (durationIndex >= 0 ? Number(args[durationIndex + 1]) : 5) * 1000;
const warmupMs = smoke ? 100 : 1000;
const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim()) || 100;

interface Server { name: string; pid: number; url: string; child: ChildProcess }

async function startServer(name: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'servers', `${name}.ts`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`${name} server exited with ${code}`)));
  });
  return { name, pid: child.pid!, url: `ws://127.0.0.1:${port}`, child };
}

function serverCpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e6; // utime, stime (fields 14, 15)
}

interface Measurement {
  scenario: string; server: string; ops: number; opsPerSec: number;
  p50us: number; p99us: number; p999us: number;
  serverCpuUsPerOp: number; clientCpuUsPerOp: number; ratioToReference?: number;
}

/** Keeps `inflight` operations going on each of `conns` lanes; records one latency per operation. */
async function drive(lanes: Array<() => Promise<void>>, inflight: number, ms: number): Promise<{ ops: number; latencies: Float64Array }> {
  const latencies = new Float64Array(4_000_000);
  let ops = 0;
  const end = performance.now() + ms;
  await Promise.all(lanes.flatMap((op) => Array.from({ length: inflight }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op();
      if (ops < latencies.length) latencies[ops] = performance.now() - t0;
      ops++;
    }
  })));
  return { ops, latencies: latencies.subarray(0, Math.min(ops, latencies.length)) };
}

async function measure(scenario: string, server: Server, lanes: Array<() => Promise<void>>, inflight: number): Promise<Measurement> {
  await drive(lanes, inflight, warmupMs);
  const cpu0 = serverCpuMicros(server.pid);
  const client0 = process.cpuUsage();
  const { ops, latencies } = await drive(lanes, inflight, durationMs);
  const serverCpu = serverCpuMicros(server.pid) - cpu0;
  const clientCpu = process.cpuUsage(client0);
  latencies.sort();
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 1000);
  return {
    scenario, server: server.name, ops, opsPerSec: Math.round(ops / (durationMs / 1000)),
    p50us: pct(0.5), p99us: pct(0.99), p999us: pct(0.999),
    serverCpuUsPerOp: round(serverCpu / ops), clientCpuUsPerOp: round((clientCpu.user + clientCpu.system) / ops),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

/** Lanes over plain `ws` sockets: each reply answers the oldest request on that socket (both reference servers reply in order). */
async function rawLanes(url: string, conns: number, message: string | Uint8Array): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
  const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.once('open', () => resolve(ws)).once('error', reject);
  })));
  const lanes = sockets.map((ws) => {
    const waiting: Array<() => void> = [];
    ws.on('message', () => waiting.shift()?.());
    return () => new Promise<void>((resolve) => {
      waiting.push(resolve);
      ws.send(message);
    });
  });
  return { lanes, close: () => sockets.forEach((s) => s.close()) };
}

async function uplinkLanes(url: string, conns: number, op: (c: UplinkClient) => Promise<unknown>): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
  const clients = await Promise.all(Array.from({ length: conns }, () => connect(url, { timeoutMs: 0, keepaliveMs: 0 })));
  return { lanes: clients.map((c) => async () => void (await op(c))), close: () => clients.forEach((c) => void c.close()) };
}

async function main(): Promise<void> {
  const servers = { echo: await startServer('raw-echo'), json: await startServer('raw-json'), uplink: await startServer('uplink') };
  const results: Measurement[] = [];
  const run = async (scenario: string, server: Server, setup: Promise<{ lanes: Array<() => Promise<void>>; close(): void }>, inflight: number) => {
    const { lanes, close } = await setup;
    const m = await measure(scenario, server, lanes, inflight);
    close();
    results.push(m);
    console.error(`  ${scenario.padEnd(22)} ${server.name.padEnd(9)} ${String(m.opsPerSec).padStart(8)}/s  server ${m.serverCpuUsPerOp} us/op`);
  };

  const [conns, inflight] = [8, 32];
  const callFrame = '{"t":"call","id":1234,"o":"calc","m":"add"}\n[1,2]';
  await run('add(1,2) 8x32', servers.echo, rawLanes(servers.echo.url, conns, callFrame), inflight);
  await run('add(1,2) 8x32', servers.json, rawLanes(servers.json.url, conns, '{"id":1234,"m":"add","a":[1,2]}'), inflight);
  await run('add(1,2) 8x32', servers.uplink, uplinkLanes(servers.uplink.url, conns, (c) => c.call('calc', 'add', [1, 2])), inflight);

  for (const size of [1024, 64 * 1024]) {
    const text = 'x'.repeat(size);
    const name = `echo ${size / 1024} KiB 8x8`;
    await run(name, servers.echo, rawLanes(servers.echo.url, conns, `{"t":"call","id":1,"o":"echo","m":"echo"}\n${JSON.stringify([text])}`), 8);
    await run(name, servers.json, rawLanes(servers.json.url, conns, JSON.stringify({ id: 1, m: 'echo', a: [text] })), 8);
    await run(name, servers.uplink, uplinkLanes(servers.uplink.url, conns, (c) => c.call('echo', 'echo', [text])), 8);
  }

  const mib = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff);
  await run('binary 1 MiB 1x4', servers.echo, rawLanes(servers.echo.url, 1, mib), 4);
  await run('binary 1 MiB 1x4', servers.uplink, uplinkLanes(servers.uplink.url, 1, (c) => c.call('echo', 'echo', [mib])), 4);
  // What the same bytes cost as a JSON array of numbers, the encoding Uplink avoids.
  const asJsonArray = JSON.stringify({ id: 1, m: 'echo', a: [Array.from(mib)] });
  await run('binary 1 MiB 1x4', servers.json, rawLanes(servers.json.url, 1, asJsonArray), 4);

  for (const m of results) {
    const reference = results.find((r) => r.scenario === m.scenario && r.server === 'raw-json');
    if (reference && m !== reference) m.ratioToReference = round(m.serverCpuUsPerOp / reference.serverCpuUsPerOp);
  }
  printTable(results);
  mkdirSync(join(here, 'results'), { recursive: true });
  const out = join(here, 'results', smoke ? 'smoke.tmp.json' : 'latest.json');
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, durationMs, results }, null, 2) + '\n');
  console.log(`\nwritten to ${out}`);
  for (const s of Object.values(servers)) s.child.kill();
  process.exit(0);
}

function printTable(results: Measurement[]): void {
  const header = ['scenario', 'server', 'ops/s', 'p50 us', 'p99 us', 'p99.9 us', 'server us/op', 'client us/op', 'server CPU vs raw-json'];
  const rows = results.map((m) => [m.scenario, m.server, m.opsPerSec, m.p50us, m.p99us, m.p999us, m.serverCpuUsPerOp, m.clientCpuUsPerOp, m.ratioToReference === undefined ? '' : `${m.ratioToReference}x`].map(String));
  console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

await main();
