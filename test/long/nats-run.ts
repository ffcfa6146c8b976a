/**
 * The NATS lane of `npm run fuzz:long`: rounds of messages forged by connections as each role
 * (nats-messages.ts, filled by the insider), phase by phase, while a workload runs through gateway A
 * and the honest client through gateway B. After every round: every process alive and silent, and the honest client
 * answered correctly (its listing shows the host: a gateway whose NATS reader died lists nothing).
 * A fault is recorded, reduced to the fewest messages that still reproduce it (replayed on fresh
 * processes), and the cluster restarted.
 */
import fc from 'fast-check';
import { describe, sameFault, type FaultLog } from './faults.js';
import { BEAT_MS, type FuzzCluster } from './fuzz-cluster.js';
import { Insider } from './insider.js';
import { minimize } from './minimize.js';
import { NATS_PHASES, type NatsPhase, type NatsTemplate } from './nats-messages.js';
import { RoleConnections, type Published } from './nats-roles.js';
import { Workload } from './workload.js';
import { prng } from './ws-lane.js';
import type { WsTarget } from './ws-run.js';

export interface NatsRunOptions {
  cluster: FuzzCluster;
  messages: number;
  seed: number;
  /** Gateway A's target (its honest client talks to gateway B); recover() restarts the cluster. */
  target: WsTarget;
  faults: FaultLog;
  minimizeBudget: number;
  /** Messages per round (between checks). */
  round: number;
  /** Only the phases whose name contains this ('' : all). */
  phase: string;
  skipKnown: boolean;
  token: (subject: string) => Promise<string>;
}

/** Time for a forged message's effect to show (a poisoned table is read on the next beat or call). */
const SETTLE_MS = 2 * BEAT_MS;
/** A phase that keeps faulting (a bug hit every round) stops after this many faulty rounds. */
const MAX_PHASE_FAULTS = 4;

export async function runNatsLane(o: NatsRunOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const ids = () => ({ host: o.cluster.hostId, gatewayA: o.cluster.gatewayAId, gatewayB: o.cluster.gatewayBId, honestSubject: 'honest' });
  const insider = new Insider(ids, prng(o.seed + 17));
  const roles = await RoleConnections.open(o.cluster, insider, o.skipKnown);
  const workload = new Workload(() => o.cluster.urlA, o.token);
  workload.start();
  await new Promise((r) => setTimeout(r, 1_000)); // the insider learns live values first
  const chosen = NATS_PHASES.filter((p) => p.name.includes(o.phase));
  const total = chosen.reduce((n, p) => n + p.weight, 0);
  const phases: Array<Record<string, unknown>> = [];
  const budget = { minimizations: o.minimizeBudget };
  for (const [i, phase] of chosen.entries()) {
    const messages = Math.round((o.messages * phase.weight) / total);
    phases.push({ phase: phase.name, ...(await runPhase(o, roles, insider, phase, messages, o.seed + 100_000 * (i + 1), budget)) });
  }
  await workload.stop();
  await roles.close();
  const seconds = (performance.now() - started) / 1000;
  const sent = phases.reduce((n, p) => n + (p.sent as number), 0);
  return { messages: sent, seconds: +seconds.toFixed(1), messagesPerSec: Math.round(sent / seconds), phases, perRole: roles.stats, insiderLearned: insider.counts(), workload: workload.counts };
}

/** One phase: rounds of messages, each followed by the checks; it stops early after MAX_PHASE_FAULTS faults. */
async function runPhase(o: NatsRunOptions, roles: RoleConnections, insider: Insider, phase: NatsPhase, messages: number, seed: number, budget: { minimizations: number }): Promise<Record<string, unknown>> {
  const started = performance.now();
  let sent = 0;
  let faults = 0;
  for (let round = 0; sent < messages && faults < MAX_PHASE_FAULTS; round++) {
    const templates = fc.sample(phase.messages, { numRuns: Math.min(o.round, messages - sent), seed: seed + round });
    const published = publishAll(roles, templates);
    sent += templates.length;
    const what = await check(o, roles, round);
    if (what.length === 0) continue;
    faults++;
    const fault = o.faults.add('nats', phase.name, what);
    await recover(o, roles, insider);
    if (fault && budget.minimizations-- > 0) {
      let last: Published[] = [];
      const found = await minimize(templates, async (subset) => {
        const run = await reproduces(o, roles, insider, subset, what);
        if (run.broken) last = run.published;
        return run.broken;
      });
      fault.reproConfirmed = found.confirmed;
      fault.repro = found.confirmed ? last.map(show) : published.slice(-30).map(show);
    } else if (fault) fault.repro = published.slice(-30).map(show);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`nats: ${phase.name}: ${sent} of ${messages} messages in ${seconds.toFixed(1)} s, ${faults} faulty rounds`);
  return { planned: messages, sent, seconds: +seconds.toFixed(1), faultyRounds: faults, ...(sent < messages ? { stoppedEarly: `after ${faults} faulty rounds` } : {}) };
}

function publishAll(roles: RoleConnections, templates: readonly NatsTemplate[]): Published[] {
  const published: Published[] = [];
  for (const t of templates) {
    const p = roles.publish(t);
    if (p) published.push(p);
  }
  return published;
}

/** What is wrong after a round: process faults, then the honest client's full check. */
async function check(o: NatsRunOptions, roles: RoleConnections, round: number): Promise<string[]> {
  await roles.flush();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const honest = await o.target.honest().check(round, 1);
  return [...o.cluster.faults(), ...(honest ? [`honest client: ${honest}`] : [])];
}

/** Fresh processes; the insider forgets the old ones and learns the new ones' live values from the workload. */
async function recover(o: NatsRunOptions, roles: RoleConnections, insider: Insider): Promise<void> {
  await o.target.recover();
  roles.follow(o.cluster.hostId);
  insider.forget();
  await insider.relearn(5_000);
}

/**
 * Publishes templates against a healthy cluster; broken (and the cluster restored) when the original
 * fault shows. Values are picked afresh on every try (a live connection, a waiting call), so a
 * template that hit one by chance gets three tries (a clean try costs no restart).
 */
async function reproduces(o: NatsRunOptions, roles: RoleConnections, insider: Insider, templates: readonly NatsTemplate[], original: string[]): Promise<{ broken: boolean; published: Published[] }> {
  let published: Published[] = [];
  for (let tries = 0; tries < 3; tries++) {
    published = publishAll(roles, templates);
    const what = await check(o, roles, 1);
    if (what.length === 0) continue;
    await recover(o, roles, insider);
    return { broken: sameFault(original, what), published };
  }
  return { broken: false, published };
}

function show(p: Published): unknown {
  return { ...p, headers: p.headers.map(([k, v]) => [k, describe(v)]), data: describe(p.data) };
}
