/** What every scenario shares: its outcome, unique call ids, settled calls, and a cluster in shape. */
import { setTimeout as delay } from 'node:timers/promises';
import type { UplinkClient } from '../../src/client/client.js';
import type { DrillCluster } from './cluster.js';

export interface Outcome {
  /** Measured milliseconds, by name (detection, recovery, ...). */
  times: Record<string, number>;
  notes: string[];
}

export interface Scenario { name: string; run(cluster: DrillCluster): Promise<Outcome> }

let counter = 0;
/** A call id no other call of the drill has (the ledger counts runs per id). */
export const nextId = (prefix: string) => `${prefix}-${++counter}`;

export interface Settled { id: string; ok: boolean; host?: string; code?: string; at: number }

/** drill.work(id, ms): resolves with where it ran or the error's code, never rejects. */
export async function work(c: UplinkClient, prefix: string, ms = 0, timeoutMs = 15_000): Promise<Settled> {
  const id = nextId(prefix);
  try {
    const answer = await c.call('drill', 'work', [id, ms], { timeoutMs }) as { host: string };
    return { id, ok: true, host: answer.host, at: performance.now() };
  } catch (error) {
    return { id, ok: false, code: String((error as { code?: unknown }).code ?? (error as Error).message), at: performance.now() };
  }
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Throws unless `seqs` is 0, 1, 2, ... (no item lost, none twice, in order). */
export function checkSequence(seqs: number[], what: string): void {
  const bad = seqs.findIndex((s, i) => s !== i);
  check(bad < 0, `${what}: item ${bad} is ${seqs[bad]} (${JSON.stringify(seqs.slice(Math.max(0, bad - 3), bad + 3))})`);
}

/** Gateways and hosts named `prefix-n` up to the counts, and every gateway routing to every host. */
export async function ensureShape(cluster: DrillCluster, gateways: number, hosts: number): Promise<void> {
  const starts: Promise<unknown>[] = [];
  for (let i = cluster.gateways.length; i < gateways; i++) starts.push(cluster.addGateway(nextId('gateway')));
  for (let i = cluster.hosts.length; i < hosts; i++) starts.push(cluster.addHost(nextId('host')));
  await Promise.all(starts);
  const names = new Set(cluster.hosts.map((h) => h.name));
  for (const gateway of cluster.gateways) {
    const c = await cluster.client(gateway.url, 'warm-up');
    const seen = new Set<string>();
    const deadline = performance.now() + 10_000;
    while (seen.size < names.size) {
      check(performance.now() < deadline, `${gateway.name} reached only ${[...seen].join(', ') || 'no host'} of ${[...names].join(', ')}`);
      const answers = await Promise.all(Array.from({ length: 4 }, () => work(c, 'warm', 0, 5_000)));
      for (const a of answers) if (a.ok && names.has(a.host!)) seen.add(a.host!);
      if (seen.size < names.size) await delay(100);
    }
    await c.close();
  }
}

/** The stream drill.ticks as an iterator of sequence numbers, opened under a fresh id. */
export function ticks(c: UplinkClient, prefix: string, intervalMs = 20): { id: string; iterator: AsyncIterator<{ seq: number; host: string }> } {
  const id = nextId(prefix);
  return { id, iterator: c.stream<{ seq: number; host: string }>('drill', 'ticks', [id, intervalMs])[Symbol.asyncIterator]() };
}

export const round = (ms: number) => Math.round(ms);
