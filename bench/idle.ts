/**
 * Idle authenticated connections: the server's RSS per connection at a small and a large count, for
 * Uplink and for raw uWS (raw-echo: what uWS itself keeps per socket). Connections open 50 at a time
 * from several 127.0.0.x source addresses (so ports in TIME_WAIT from an earlier run never collide);
 * Uplink's send a hello with a JWT and wait for the welcome, so each one is authenticated.
 *
 * Each figure is (RSS with N open - RSS before the first) / N, both read after a full garbage
 * collection (SIGUSR2: the bench servers run with --expose-gc and collect on it): everything the
 * connections cost, heap growth included, not only the marginal cost of one more. Two readings per
 * count: just after the last connection opened, and settled: the lowest of readings every 5 s
 * while the server stays idle for `settleMs`. V8's memory reducer gives back the young generation
 * that a burst of connections grew (megabytes, whatever the count) some time after a full
 * collection, or not within one wait: a single reading after 15 s was 0.3 KiB per connection at
 * 2,000 in some runs and 3.6 KiB in others, the same server holding the same 1 KiB of JS heap per
 * connection. The baseline is a settled reading too, taken after a warm-up of a few hundred
 * connections opened and closed.
 */
import { execSync } from 'node:child_process';
import WebSocket from 'ws';
import type { Measurement } from './measurement.js';
import { serverRssBytes, type ServerProcess } from './servers/processes.js';

const BATCH = 50;
const WARM_UP = 300;

/** RSS after `idleMs` of quiet and a full collection. */
async function rssAfter(server: ServerProcess, idleMs: number): Promise<number> {
  await new Promise((r) => setTimeout(r, idleMs));
  process.kill(server.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 700));
  return serverRssBytes(server.pid);
}

/** A settled reading: the lowest RSS of readings every 5 s over `settleMs`, each after a full collection. */
async function settledRss(server: ServerProcess, settleMs: number): Promise<number> {
  const step = Math.min(5_000, settleMs);
  let lowest = Infinity;
  for (let waited = 0; waited < settleMs; waited += step) lowest = Math.min(lowest, await rssAfter(server, step));
  return lowest;
}

export async function idleConnections(server: ServerProcess, counts: number[], token: string, settleMs: number): Promise<Measurement[]> {
  const fdLimit = Number(execSync('bash -c "ulimit -n"').toString().trim()) || 1024;
  const authenticated = server.name.startsWith('uplink');
  const hello = JSON.stringify({ t: 'hello', v: [1], token });
  const sockets: WebSocket[] = [];
  const openOne = (index: number) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(server.url, { perMessageDeflate: false, localAddress: `127.0.0.${2 + (index % 8)}` });
    if (authenticated) {
      ws.once('open', () => ws.send(hello));
      ws.once('message', () => resolve());
    } else ws.once('open', () => resolve());
    ws.once('error', reject);
    sockets.push(ws);
  });
  const results: Measurement[] = [];
  // Warm-up: a few hundred connections opened and closed first, so that one-time costs (the
  // connection path's compiled code, first allocator arenas) are not counted per connection.
  while (sockets.length < WARM_UP) await Promise.all(Array.from({ length: BATCH }, () => openOne(sockets.length)));
  for (const ws of sockets.splice(0)) ws.terminate();
  const before = await settledRss(server, settleMs);
  let opened = 0;
  for (const wanted of counts) {
    const count = Math.min(wanted, fdLimit - 1_000);
    if (count < wanted) console.error(`  idle connections: ${wanted} wanted, ${count} possible under the open-file limit (${fdLimit})`);
    const started = performance.now();
    while (sockets.length < count) {
      const n = Math.min(BATCH, count - sockets.length);
      await Promise.all(Array.from({ length: n }, (_, i) => openOne(sockets.length + i)));
    }
    const seconds = (performance.now() - started) / 1000;
    const opsPerSec = Math.round((count - opened) / seconds);
    opened = count;
    for (const [when, read] of [['just opened', () => rssAfter(server, 300)], [`idle ${settleMs / 1000} s`, () => settledRss(server, settleMs)]] as const) {
      const perConnection = Math.round(((await read()) - before) / count);
      const scenario = `idle connections x${count}, ${when}`;
      results.push({ scenario, server: server.name, ops: count, opsPerSec, p50us: 0, p99us: 0, p999us: 0, serverCpuUsPerOp: 0, clientCpuUsPerOp: 0, rssBytesPerConnection: perConnection });
      console.error(`  ${scenario.padEnd(22)} ${server.name.padEnd(9)} ${perConnection} B of server RSS per connection`);
    }
  }
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => setTimeout(r, 500));
  return results;
}
