/**
 * `npm run fuzz:long` (and `npm run fuzz:smoke`, the same at CI size): structured fuzzing of the
 * gateway over WebSocket and of the cluster over NATS, plus random payloads through the decoder.
 *
 * 1. WebSocket lane (ws-run.ts): well-formed frames with mutated bodies, metas, ids, references,
 *    sizes and stream controls, plus a mutated and random minority, against an in-process gateway
 *    and against gateway A of a real cluster (nats-server on docs/nats-server.conf, `uplink host` and
 *    two `uplink serve` processes: fuzz-cluster.ts). It counts how many frames reach dispatch.
 * 2. NATS lane (nats-run.ts): connections as uplink-gateway, uplink-host and uplink-ops publishing
 *    mutated messages each role may publish.
 * 3. The decoder alone (decoder-run.ts).
 *
 * Honest clients (honest.ts) check correct answers throughout; every fault (a dead process, stray
 * output, an uncaught exception here, a wrong honest answer) is recorded with the smallest input that
 * reproduces it. Exits 1 on any fault. Writes bench/results/fuzz-long.json (full size;
 * fuzz-long-skip-known.json with --skip-known) or bench/results/fuzz-smoke.tmp.json / fuzz-short.tmp.json.
 *
 *   npm run fuzz:long -- --frames 100000 --nats-messages 20000 --seed 7
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintDevToken } from '../../src/auth/dev-tokens.js';
import { JwtAuthenticator } from '../../src/index.js';
import { startGateway } from '../support/gateway.js';
import { assertPrototypesClean } from '../support/prototypes.js';
import { runDecoder } from './decoder-run.js';
import { FaultLog } from './faults.js';
import { FuzzCluster } from './fuzz-cluster.js';
import { fuzzOptions } from './fuzz-options.js';
import { HonestClient } from './honest.js';
import { runNatsLane } from './nats-run.js';
import { runWsLane, type WsTarget } from './ws-run.js';

const options = fuzzOptions(process.argv.slice(2));
console.log(`fuzz: ${JSON.stringify(options)}`);
const uncaught: string[] = [];
process.on('uncaughtException', (e) => uncaught.push(`uncaught exception: ${(e as Error).stack ?? String(e)}`));
process.on('unhandledRejection', (e) => uncaught.push(`unhandled rejection: ${(e as Error).stack ?? String(e)}`));

const SECRET = 'fuzz-secret-fuzz-secret-fuzz-secret-0123';
const token = (sub: string, ttlSec = 3_600, scope = '') => mintDevToken(SECRET, { sub, ttlSec, scope });
const laneToken = await token('fuzz', 3_600, 'admin');
const shared = { keys: [], srefs: [], tokens: [await token('fuzz', 7_200), await token('someone-else'), await token('fuzz', 1), 'not.a.jwt', '', 'x'.repeat(9_000)] };
const faults = new FaultLog();
const started = performance.now();

const { gateway, url } = await startGateway({
  logLevel: 'silent', maxOnewayInflight: 4, maxInflight: 256, callbackTimeoutMs: 1_000, streamLingerMs: 3_000,
  authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
});
const localHonest = await HonestClient.connect('in-process gateway', url, await token('honest'));
let reported = 0;
const local: WsTarget = {
  name: 'in-process gateway', lanes: 3, url: () => url, honest: () => localHonest,
  faults: () => uncaught.slice(reported),
  recover: async () => { reported = uncaught.length; await localHonest.reconnect(); },
};

const cluster = options.frames + options.natsMessages > 0 ? await FuzzCluster.start(SECRET) : undefined;
const clusterHonest = cluster && await HonestClient.connect('gateway B (honest, NATS)', cluster.urlB, await token('honest'));
const nats: WsTarget | undefined = cluster && clusterHonest && {
  name: 'gateway A (NATS-routed)', lanes: 1, url: () => cluster.urlA, honest: () => clusterHonest,
  faults: () => cluster.faults(),
  recover: async () => { await cluster.restart(); await clusterHonest.reconnect(cluster.urlB); },
};

const ws = options.frames === 0 ? undefined : await runWsLane({
  frames: options.frames, seed: options.seed, chunk: options.smoke ? 500 : 10_000,
  targets: nats ? [local, nats] : [local], shared, token: laneToken, faults, minimizeBudget: options.minimize, skipKnown: options.skipKnown,
});
if (ws) console.log(`ws lane: ${ws.framesSent} frames, ${ws.reachedDispatchPct}% reached dispatch, ${ws.answeredWithValuePct}% answered with a value`);

const natsLane = cluster && nats && options.natsMessages > 0
  ? await runNatsLane({ cluster, messages: options.natsMessages, seed: options.seed, target: nats, faults, minimizeBudget: options.minimize, round: options.smoke ? 250 : 1_000, phase: options.phase, skipKnown: options.skipKnown, token: (sub) => token(sub) })
  : undefined;

const decoder = runDecoder(options.decodes, options.seed + 7_000);
assertPrototypesClean();

// At the end: every process alive and silent, both honest clients answered correctly once more.
const atEnd = [...(cluster?.faults() ?? []), ...uncaught.slice(reported)];
for (const honest of [localHonest, clusterHonest]) {
  const wrong = await honest?.check(0, 1);
  if (wrong) atEnd.push(`honest client: ${wrong}`);
}
if (atEnd.length > 0) faults.add('end', 'end of run', atEnd);

const result = {
  command: `npm run fuzz:${options.smoke ? 'smoke' : 'long'}`, options,
  faultCount: faults.count, faults: faults.faults, processesAliveAndHonestCorrectAtEnd: atEnd.length === 0,
  websocket: ws, nats: natsLane, ...decoder,
  clusterRestarts: cluster?.restarts ?? 0,
  processWarningsAndErrorLogs: cluster?.logReport(),
  prototypesClean: true, seconds: +((performance.now() - started) / 1000).toFixed(1), node: process.version, date: new Date().toISOString(),
};
for (const f of faults.faults) console.log(`FAULT (${f.lane}, ${f.target}, seen ${f.seen}): ${f.what.map((w) => w.split('\n').slice(0, 3).join(' | ')).join(' ; ')}\n  repro${f.reproConfirmed ? ' (minimized, confirmed)' : ''}: ${JSON.stringify(f.repro?.slice(0, 3)).slice(0, 1_500)}`);
console.log(`faults: ${result.faultCount}; processes alive and honest answers correct at the end: ${result.processesAliveAndHonestCorrectAtEnd}`);
const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
mkdirSync(out, { recursive: true });
const file = options.smoke ? 'fuzz-smoke.tmp.json' : options.frames < 1_000_000 ? 'fuzz-short.tmp.json' : options.skipKnown ? 'fuzz-long-skip-known.json' : 'fuzz-long.json';
writeFileSync(join(out, file), JSON.stringify(result, null, 2) + '\n');
console.log(`written to bench/results/${file}`);

await localHonest.close();
await clusterHonest?.close();
await cluster?.stop();
await gateway.close({ drainMs: 0 });
process.exit(result.faultCount === 0 ? 0 : 1);
