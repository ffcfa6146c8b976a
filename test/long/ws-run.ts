/**
 * The WebSocket lane of `npm run fuzz:long`: structured frames (ws-frames.ts) in chunks over several
 * connections to each target gateway (the in-process one, whose objects are local, and gateway A of
 * the NATS cluster, whose objects are on the host process). After every chunk each target is checked:
 * its faults (an exited process, stray output, an uncaught exception) and its honest client. A fault
 * is recorded, reduced to the fewest frames that still reproduce it, and the target is restored.
 */
import fc from 'fast-check';
import { AnswerTally } from './answer-tally.js';
import { describe, sameFault, type FaultLog } from './faults.js';
import type { HonestClient } from './honest.js';
import { minimize } from './minimize.js';
import { structuredFrame, type FrameSpec } from './ws-frames.js';
import { WsLane, type LaneShared } from './ws-lane.js';

export interface WsTarget {
  name: string;
  /** Connections fuzzing it: frames are shared equally among all lanes of all targets. */
  lanes: number;
  url(): string;
  honest(): HonestClient;
  /** What is wrong now (process exits and output, uncaught exceptions); empty when healthy. */
  faults(): string[];
  /** Forgets the faults reported so far; restarts what died. */
  recover(): Promise<void>;
}

export interface WsRunOptions {
  frames: number;
  seed: number;
  chunk: number;
  targets: WsTarget[];
  shared: LaneShared;
  token: string;
  faults: FaultLog;
  /** Faults to reduce to a minimal reproduction (each costs restarts). */
  minimizeBudget: number;
}

export async function runWsLane(o: WsRunOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const lanes = new Map(o.targets.map((t, n) => [t, Array.from({ length: t.lanes }, (_, i) => new WsLane(() => t.url(), o.token, o.shared, o.seed * 31 + n * 7 + i))]));
  const all = [...lanes.values()].flat();
  let sent = 0;
  let minimizations = o.minimizeBudget;
  for (let chunk = 0; sent < o.frames; chunk++) {
    const specs = fc.sample(structuredFrame, { numRuns: Math.min(o.chunk, o.frames - sent), seed: o.seed + chunk });
    const per = Math.ceil(specs.length / all.length);
    const errors = new Map<WsLane, string>();
    await Promise.all(all.map((lane, i) => lane.send(specs.slice(i * per, (i + 1) * per)).catch((e: Error) => void errors.set(lane, e.message))));
    sent += specs.length;
    for (const target of o.targets) {
      const own = lanes.get(target)!;
      const honest = await target.honest().check(chunk);
      const what = [...target.faults(), ...own.flatMap((l) => (errors.has(l) ? [`lane: ${errors.get(l)}`] : [])), ...(honest ? [`honest client: ${honest}`] : [])];
      if (what.length === 0) continue;
      const fault = o.faults.add('ws', target.name, what);
      const sent = own.flatMap((l) => l.sentNow);
      await target.recover();
      if (fault && minimizations-- > 0) {
        let last: Array<string | Uint8Array> = [];
        const found = await minimize(sent.map((s) => s.spec), async (subset) => {
          const run = await reproduces(target, subset, o, what);
          if (run.broken) last = run.frames;
          return run.broken;
        });
        fault.reproConfirmed = found.confirmed;
        fault.repro = (found.confirmed ? last : sent.slice(-20).map((s) => s.frame)).map(show);
      } else if (fault) fault.repro = sent.slice(-20).map((s) => s.frame).map(show);
    }
    if (chunk % 10 === 0) progress(sent, started, all, o.faults.count);
  }
  await Promise.all(all.map((l) => l.settle(5_000)));
  const seconds = (performance.now() - started) / 1000;
  const byTarget = Object.fromEntries([...lanes].map(([t, ls]) => [t.name, merged(ls).summary()]));
  const total = merged(all);
  const own: Record<string, number> = {};
  for (const l of all) for (const [k, n] of l.own) own[k] = (own[k] ?? 0) + n;
  for (const l of all) l.close();
  return { ...total.summary(), seconds: +seconds.toFixed(1), framesPerSec: Math.round(sent / seconds), lanes: all.length, byTarget, laneOwnFrames: own };
}

function merged(lanes: WsLane[]): AnswerTally {
  const t = new AnswerTally();
  for (const l of lanes) t.merge(l.tally);
  return t;
}

/**
 * Sends frames through a fresh lane to a healthy target: slots are filled from what that connection
 * learns (a `~sref` call names a reference an earlier frame of the replay obtained). Broken (and the
 * target restored) when the original fault shows again.
 */
async function reproduces(target: WsTarget, specs: readonly FrameSpec[], o: WsRunOptions, original: string[]): Promise<{ broken: boolean; frames: Array<string | Uint8Array> }> {
  const lane = new WsLane(() => target.url(), o.token, { keys: [], srefs: [], tokens: o.shared.tokens }, o.seed);
  await lane.send(specs).catch(() => {}); // a target that cannot be reached shows in its faults
  await new Promise((r) => setTimeout(r, 1_500));
  lane.close();
  const honest = await target.honest().check(0);
  const what = [...target.faults(), ...(honest ? [`honest client: ${honest}`] : [])];
  if (what.length > 0) await target.recover();
  return { broken: sameFault(original, what), frames: lane.sentNow.map((s) => s.frame) };
}

function show(frame: string | Uint8Array): string {
  return typeof frame === 'string' ? describe(frame) : `binary ${frame.byteLength} bytes: ${describe(Buffer.from(frame).toString('latin1'))}`;
}

function progress(sent: number, started: number, lanes: WsLane[], faults: number): void {
  const t = merged(lanes).totals();
  const rate = sent / ((performance.now() - started) / 1000);
  console.log(`ws: ${sent} frames, ${rate.toFixed(0)}/s, dispatch ${((100 * t.dispatched) / Math.max(1, t.sent)).toFixed(1)}%, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, faults ${faults}`);
}
