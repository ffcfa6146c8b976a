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
  skipKnown: boolean;
}

/** A target that keeps faulting (a bug hit every chunk) is dropped after this many faulty chunks; the others go on. */
const MAX_TARGET_FAULTS = 6;

export async function runWsLane(o: WsRunOptions): Promise<Record<string, unknown>> {
  return new WsRun(o).run();
}

class WsRun {
  private readonly started = performance.now();
  private readonly lanes: Map<WsTarget, WsLane[]>;
  /** The lanes still fuzzing (a dropped target's are out). */
  private active: WsLane[];
  private minimizations: number;
  private readonly faulty = new Map<WsTarget, number>();
  private readonly dropped: string[] = [];

  constructor(private readonly o: WsRunOptions) {
    this.lanes = new Map(o.targets.map((t, n) => [t, Array.from({ length: t.lanes }, (_, i) => new WsLane(() => t.url(), o.token, o.shared, o.seed * 31 + n * 7 + i, o.skipKnown))]));
    this.active = [...this.lanes.values()].flat();
    this.minimizations = o.minimizeBudget;
  }

  async run(): Promise<Record<string, unknown>> {
    let sent = 0;
    for (let chunk = 0; sent < this.o.frames; chunk++) {
      const specs = fc.sample(structuredFrame, { numRuns: Math.min(this.o.chunk, this.o.frames - sent), seed: this.o.seed + chunk });
      const per = Math.ceil(specs.length / this.active.length);
      const errors = new Map<WsLane, string>();
      await Promise.all(this.active.map((lane, i) => lane.send(specs.slice(i * per, (i + 1) * per)).catch((e: Error) => void errors.set(lane, e.message))));
      sent += specs.length;
      for (const target of this.o.targets) await this.check(target, chunk, sent, errors);
      if (chunk % 10 === 0) progress(sent, this.started, this.active, this.o.faults.count);
    }
    return this.report(sent);
  }

  /** After a chunk: the target's faults, its lanes' errors, its honest client; a fault is recorded, minimized, the target restored. */
  private async check(target: WsTarget, chunk: number, sent: number, errors: Map<WsLane, string>): Promise<void> {
    const own = this.lanes.get(target)!;
    const honest = await target.honest().check(chunk);
    const what = [...target.faults(), ...own.flatMap((l) => (errors.has(l) ? [`lane: ${errors.get(l)}`] : [])), ...(honest ? [`honest client: ${honest}`] : [])];
    if (what.length === 0) return;
    const fault = this.o.faults.add('ws', target.name, what);
    const frames = own.flatMap((l) => l.sentNow);
    await target.recover();
    this.faulty.set(target, (this.faulty.get(target) ?? 0) + 1);
    if (this.faulty.get(target)! >= MAX_TARGET_FAULTS && this.active.some((l) => !own.includes(l)) && this.active.some((l) => own.includes(l))) {
      this.dropped.push(`${target.name}: after ${MAX_TARGET_FAULTS} faulty chunks, at frame ${sent}`);
      this.active = this.active.filter((l) => !own.includes(l)); // its frames go to the other targets from now on
    }
    if (!fault) return;
    const recent = frames.slice(-20).map((s) => s.frame);
    if (this.minimizations-- <= 0) return void (fault.repro = recent.map(show));
    let last: Array<string | Uint8Array> = [];
    const found = await minimize(frames.map((s) => s.spec), async (subset) => {
      const run = await reproduces(target, subset, this.o, what);
      if (run.broken) last = run.frames;
      return run.broken;
    });
    fault.reproConfirmed = found.confirmed;
    fault.repro = (found.confirmed ? last : recent).map(show);
  }

  private async report(sent: number): Promise<Record<string, unknown>> {
    const every = [...this.lanes.values()].flat();
    await Promise.all(this.active.map((l) => l.settle(5_000)));
    for (const l of every) l.close();
    const seconds = (performance.now() - this.started) / 1000;
    const count = (pick: (l: WsLane) => Map<string, number>): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const l of every) for (const [k, n] of pick(l)) counts[k] = (counts[k] ?? 0) + n;
      return counts;
    };
    return {
      framesGenerated: sent, ...merged(every).summary(), seconds: +seconds.toFixed(1), framesPerSec: Math.round(sent / seconds), lanes: every.length,
      byTarget: Object.fromEntries([...this.lanes].map(([t, ls]) => [t.name, merged(ls).summary()])), laneOwnFrames: count((l) => l.own),
      ...(this.dropped.length > 0 ? { targetsDropped: this.dropped } : {}), ...(this.o.skipKnown ? { skippedAsKnownFaults: count((l) => l.skipped) } : {}),
    };
  }
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
