/**
 * `npm run fuzz:long`: at least 1,000,000 fuzzed frames through a live gateway (random frames and
 * mutated valid ones, from test/fuzz-arbitraries.ts), plus 1,000,000 random payloads through the
 * decoder alone. Fails on any uncaught exception or unhandled rejection, any decoder error that is not
 * a typed PayloadError, a polluted prototype, a wrong answer to the honest client that runs alongside,
 * or a gateway that stops answering. Writes bench/results/fuzz-long.json.
 *
 *   npm run fuzz:long                      # 1,000,000 frames and 1,000,000 decodes
 *   npm run fuzz:long -- --frames 100000
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import WebSocket from 'ws';
import { Codec } from '../../src/index.js';
import { decodesSafely, fuzzedFrame, meta } from '../fuzz-arbitraries.js';
import { client, startGateway } from '../helpers.js';
import { assertPrototypesClean } from '../prototypes.js';

const args = process.argv.slice(2);
const framesIndex = args.indexOf('--frames');
const FRAMES = framesIndex >= 0 ? Number(args[framesIndex + 1]) : 1_000_000;
const CHUNK = 10_000;
const LANES = 4;

const faults: unknown[] = [];
process.on('uncaughtException', (e) => faults.push(e));
process.on('unhandledRejection', (e) => faults.push(e));

const started = performance.now();
const { gateway, url } = await startGateway({ logLevel: 'silent', maxOnewayInflight: 4, maxInflight: 256 });
const honest = await client(url);
const calc = honest.proxy<{ add(a: number, b: number): number }>('calc');

/** A fuzzing lane: one raw connection, reopened whenever the gateway closes it (some frames must close it). */
class Lane {
  ws!: WebSocket;
  reopened = -1;
  answers = new Map<string, number>();
  private pongs = 0;
  async open(): Promise<void> {
    this.reopened++;
    this.ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      let key = 'binary';
      if (!isBinary) {
        const text = String(data);
        const nl = text.indexOf('\n');
        const head = JSON.parse(nl < 0 ? text : text.slice(0, nl)) as { t: string; code?: string };
        key = head.t === 'error' ? `error ${head.code}` : head.t;
      }
      this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
      if (key === 'pong') this.pongs++;
    });
    await new Promise<void>((resolve, reject) => { this.ws.once('open', () => resolve()); this.ws.once('error', reject); });
    this.ws.send('{"t":"hello","v":[1]}');
  }
  /** Sends frames, then waits for a pong so that the gateway has handled them (flow control). */
  async send(frames: string[]): Promise<void> {
    for (const f of frames) {
      if (this.ws.readyState !== WebSocket.OPEN) await this.open();
      this.ws.send(f);
    }
    if (this.ws.readyState !== WebSocket.OPEN) return this.open();
    const before = this.pongs;
    this.ws.send('{"t":"ping","id":424242}');
    const deadline = Date.now() + 10_000;
    while (this.pongs === before && this.ws.readyState === WebSocket.OPEN) {
      if (Date.now() > deadline) throw new Error('the gateway stopped answering');
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

const lanes = await Promise.all(Array.from({ length: LANES }, async () => { const l = new Lane(); await l.open(); return l; }));
let sent = 0;
for (let chunk = 0; sent < FRAMES; chunk++) {
  const frames = fc.sample(fuzzedFrame, { numRuns: Math.min(CHUNK, FRAMES - sent), seed: 1_000 + chunk });
  const per = Math.ceil(frames.length / LANES);
  await Promise.all(lanes.map((lane, i) => lane.send(frames.slice(i * per, (i + 1) * per))));
  sent += frames.length;
  assert.equal(await calc.add(chunk, 1), chunk + 1, 'the honest client gets correct answers');
  assertPrototypesClean();
  if (chunk % 10 === 0) console.log(`${sent} frames, ${(sent / ((performance.now() - started) / 1000)).toFixed(0)}/s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, faults ${faults.length}`);
}
const gatewaySeconds = (performance.now() - started) / 1000;

const codec = new Codec({ limits: { maxDepth: 16 } });
const decodeStarted = performance.now();
const payload = fc.oneof(
  fc.tuple(fc.jsonValue({ maxDepth: 4 }), meta).map(([json, m]) => `${JSON.stringify(json) ?? 'null'}\n${JSON.stringify(m)}`),
  fc.string({ maxLength: 64 }),
  fc.json({ maxDepth: 5 }).map((j) => j + '\n' + j),
);
let decoded = 0;
for (let chunk = 0; decoded < FRAMES; chunk++) {
  for (const text of fc.sample(payload, { numRuns: Math.min(CHUNK * 5, FRAMES - decoded), seed: 7_000 + chunk })) {
    decodesSafely(codec, text);
    decoded++;
  }
  assertPrototypesClean();
}
const decodeSeconds = (performance.now() - decodeStarted) / 1000;

const answers: Record<string, number> = {};
for (const lane of lanes) for (const [k, v] of lane.answers) answers[k] = (answers[k] ?? 0) + v;
const result = {
  frames: sent, lanes: LANES, gatewaySeconds: +gatewaySeconds.toFixed(1), framesPerSec: Math.round(sent / gatewaySeconds),
  connectionsClosedByGateway: lanes.reduce((n, l) => n + l.reopened, 0), answers,
  decoded, decodeSeconds: +decodeSeconds.toFixed(1),
  faults: faults.map(String), prototypesClean: true, honestClientCorrect: true,
  node: process.version, date: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, FRAMES >= 1_000_000 ? 'fuzz-long.json' : 'fuzz-short.tmp.json'), JSON.stringify(result, null, 2));
for (const lane of lanes) lane.ws.close();
await honest.close();
await gateway.close({ drainMs: 0 });
process.exit(faults.length === 0 ? 0 : 1);
