/**
 * The connect rows of `npm run bench`: WebSocket connections per second and the server's CPU for each,
 * against raw uWS (a bare open and close) and raw-hello (one hello answered).
 */
import WebSocket from 'ws';
import { connect } from '../src/client/index.js';
import { medianRows, round, type Measurement } from './measurement.js';
import { referenceName, serverCpuMicros, startServer, type ServerProcess } from './servers/processes.js';

let rawConnects = 0;

/** Open and close; with `hello`, that message is sent and its answer awaited in between. */
async function rawConnect(url: string, hello?: string): Promise<void> {
  // Source addresses in turn: tens of thousands of connects never reuse a 4-tuple still in TIME_WAIT.
  const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: `127.0.0.${2 + (rawConnects++ % 8)}` });
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  if (hello !== undefined) {
    ws.send(hello);
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  }
  ws.close();
  await new Promise<void>((resolve) => ws.once('close', () => resolve()));
}

/**
 * Connections per second: for Uplink, open, hello with a JWT (HS256), welcome, close (with the Uplink
 * client, or with `sameClient` the bare socket the references use); for raw uWS, open and close.
 */
async function connectRate(server: ServerProcess, count: number, token: string, sameClient = false): Promise<Measurement> {
  const hello = JSON.stringify({ t: 'hello', v: [1], token });
  const connectOnce = server.name === 'uplink' && !sameClient
    ? async () => (await connect(server.url, { token, keepaliveMs: 0, reconnect: false })).close()
    : () => rawConnect(server.url, server.name === referenceName('raw-echo') ? undefined : hello);
  for (let i = 0; i < Math.min(200, count); i++) await connectOnce();
  const cpu0 = serverCpuMicros(server.pid);
  const client0 = process.cpuUsage();
  const started = performance.now();
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next++ < count) {
      const t0 = performance.now();
      await connectOnce();
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((latencies[Math.floor(latencies.length * p)] ?? 0) * 1000);
  const clientCpu = process.cpuUsage(client0);
  const m: Measurement = {
    scenario: sameClient ? 'connect (+ HS256 auth) same client' : 'connect (+ HS256 auth)', server: server.name, ops: count, opsPerSec: Math.round(count / seconds),
    p50us: pct(0.5), p99us: pct(0.99), p999us: pct(0.999),
    serverCpuUsPerOp: round((serverCpuMicros(server.pid) - cpu0) / count), clientCpuUsPerOp: round((clientCpu.user + clientCpu.system) / count),
  };
  console.error(`  ${m.scenario.padEnd(22)} ${server.name.padEnd(9)} ${String(m.opsPerSec).padStart(8)}/s  server ${m.serverCpuUsPerOp} us/op`);
  return m;
}

/**
 * The connect rows: raw-echo, raw-hello and Uplink with its client; then raw-echo and Uplink driven by
 * the same bare socket (Uplink's hello sent by hand), in turns, three times each: the servers compared
 * without the Uplink client's own cost.
 */
export async function connectRows(echo: ServerProcess, uplink: ServerProcess, token: string, smoke: boolean): Promise<Measurement[]> {
  const rawHello = await startServer('raw-hello');
  const rows = [await connectRate(echo, smoke ? 200 : 5_000, token), await connectRate(rawHello, smoke ? 200 : 5_000, token)];
  rawHello.child.kill();
  rows.push(await connectRate(uplink, smoke ? 200 : 5_000, token));
  const runs: Measurement[][] = [[], []];
  for (let round = 0; round < (smoke ? 1 : 3); round++) {
    runs[0]!.push(await connectRate(echo, smoke ? 200 : 3_000, token, true));
    runs[1]!.push(await connectRate(uplink, smoke ? 200 : 3_000, token, true));
  }
  return [...rows, ...medianRows(runs)];
}
