/**
 * `npm run soak`: mixed calls, streams and reconnects against a gateway in its own process, for 10
 * minutes by default (not in CI). Every outcome is checked: a call must return its exact answer (or
 * the application error it is meant to raise), every stream must deliver 0..n-1 in order, exactly
 * once, across socket cuts. Reports the error count (must be 0) and the server's heap and RSS trend
 * (must be flat), and writes bench/results/soak.json.
 *
 *   npm run soak                   # 10 minutes
 *   npm run soak -- --minutes 1
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { connect, type UplinkClient } from '../../src/client/index.js';
import { BENCH_SECRET } from '../../bench/servers/bench-secret.js';
import { serverRssBytes, startServer } from '../../bench/servers/processes.js';
import { DemoError } from '../../src/demo/objects.js';
import { TcpRelay } from '../support/gateway.js';

const args = process.argv.slice(2);
const minutesIndex = args.indexOf('--minutes');
const minutes = minutesIndex >= 0 ? Number(args[minutesIndex + 1]) : 10;
const CLIENTS = 8;
const SAMPLE_EVERY_MS = Math.min(30_000, minutes * 6_000);
const CUT_EVERY_MS = 5_000;

const sign = (sub: string, scope = '') => new SignJWT({ scope }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('2h')
  .sign(new TextEncoder().encode(BENCH_SECRET));

type Calc = { add(a: number, b: number): number; divide(a: number, b: number): number };
interface Payload { round: number; bytes: Uint8Array; at: Date; big: bigint }
type Echo = { echo(v: Payload): Payload };
type Bench = { count(n: number): AsyncIterable<number> };

const counts = { calls: 0, streams: 0, items: 0, cuts: 0, expectedFailures: 0, errors: 0 };
const errors: string[] = [];
function fail(what: string): void {
  counts.errors++;
  if (errors.length < 20) errors.push(what);
}

/** One client's loop: calls with checked answers, an expected application error, and a stream, until `until`. */
async function work(c: UplinkClient, worker: number, until: number): Promise<void> {
  const calc = c.proxy<Calc>('calc').$with({ idempotent: true });
  const echo = c.proxy<Echo>('echo').$with({ idempotent: true });
  const bench = c.proxy<Bench>('bench').$with({ idempotent: true });
  const bytes = Uint8Array.from({ length: 1024 }, (_, i) => (i * worker) % 256);
  for (let round = 0; Date.now() < until; round++) {
    let step = 'add';
    try {
      const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => calc.add(round, i)));
      sums.forEach((s, i) => { if (s !== round + i) fail(`add(${round}, ${i}) = ${s}`); });
      step = 'echo';
      const back = await echo.echo({ round, bytes, at: new Date(round), big: BigInt(round) ** 3n });
      if (back.round !== round || back.bytes.length !== 1024 || back.bytes[7] !== bytes[7] || back.big !== BigInt(round) ** 3n) fail(`echo round ${round}`);
      counts.calls += 21;
      step = 'divide';
      try {
        await calc.divide(1, 0);
        fail('divide(1, 0) did not fail');
      } catch (error) {
        if (error instanceof DemoError) counts.expectedFailures++;
        else throw error;
      }
      step = 'stream';
      const n = 500 + (round % 7) * 100;
      let next = 0;
      for await (const item of bench.count(n)) {
        if (item !== next) fail(`stream item ${item}, expected ${next}`);
        next = item + 1;
      }
      if (next !== n) fail(`stream ended at ${next} of ${n}`);
      counts.streams++;
      counts.items += n;
    } catch (error) {
      fail(`worker ${worker}, ${step}: ${(error as Error).message}`);
    }
  }
}

const server = await startServer('uplink');
const relay = await TcpRelay.start(Number(new URL(server.url).port));
const clients = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
  const c = await connect(relay.url, { token: () => sign(`soak-${i}`), reconnect: { initialDelayMs: 50, maxDelayMs: 500 } });
  c.codec.registerError(DemoError, 'DemoError');
  return c;
}));
const admin = await connect(server.url, { token: await sign('soak-admin', 'admin') });
const stats = () => admin.proxy<{ stats(): { rssBytes: number; heapUsedBytes: number } }>('admin').stats();

const started = Date.now();
const until = started + minutes * 60_000;
const samples: Array<{ atSec: number; rssMiB: number; heapMiB: number }> = [];
const sample = async () => {
  const s = await stats();
  samples.push({ atSec: Math.round((Date.now() - started) / 1000), rssMiB: +(serverRssBytes(server.pid) / 2 ** 20).toFixed(1), heapMiB: +(s.heapUsedBytes / 2 ** 20).toFixed(1) });
  const last = samples.at(-1)!;
  console.log(`${last.atSec}s  rss ${last.rssMiB} MiB  heap ${last.heapMiB} MiB  calls ${counts.calls}  streams ${counts.streams}  cuts ${counts.cuts}  errors ${counts.errors}`);
};
await sample();
const sampler = setInterval(() => void sample(), SAMPLE_EVERY_MS);
const cutter = setInterval(() => { relay.cut(); counts.cuts++; }, CUT_EVERY_MS);
await Promise.all(clients.map((c, i) => work(c, i, until)));
clearInterval(sampler);
clearInterval(cutter);
await sample();

/** Least-squares slope in MiB per minute over the samples after the first third (the warm-up). */
function slope(key: 'rssMiB' | 'heapMiB'): number {
  const points = samples.slice(Math.floor(samples.length / 3));
  const xs = points.map((p) => p.atSec / 60);
  const ys = points.map((p) => p[key]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : +(num / den).toFixed(3);
}
const result = {
  minutes, clients: CLIENTS, cutEveryMs: CUT_EVERY_MS, ...counts,
  rssSlopeMiBPerMin: slope('rssMiB'), heapSlopeMiBPerMin: slope('heapMiB'),
  samples, errorSamples: errors, node: process.version, date: new Date().toISOString(),
};
console.log(JSON.stringify({ ...result, samples: undefined }, null, 2));
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, minutes >= 10 ? 'soak.json' : 'soak-short.tmp.json'), JSON.stringify(result, null, 2));
for (const c of [...clients, admin]) await c.close();
await relay.close();
server.child.kill();
process.exit(counts.errors === 0 ? 0 : 1);
