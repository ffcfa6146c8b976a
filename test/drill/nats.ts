/**
 * 3. NATS down for 5 s. The outage is modelled by killing nats-server (SIGKILL: every member's
 * connection drops at once, as when the server crashes or its machine goes away) and starting it
 * again after 5 s on the same port with the same configuration and passwords. SIGSTOP would model a
 * hung server instead: TCP stays up and nothing notices until pings time out (5 s x 2 here).
 *
 * Expected: open streams stall and continue with nothing lost or twice, never ending HOST_LOST;
 * calls made meanwhile fail typed (OBJECT_UNAVAILABLE) or complete (the first one may also end
 * DEADLINE_EXCEEDED: see verdict), calls already running on a host complete; after the restart calls work.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { DrillCluster } from './cluster.js';
import { checkSequence, ensureShape, round, ticks, work, type Scenario, type Settled } from './common.js';

const OUTAGE_MS = 5_000;

export const natsOutage: Scenario = {
  name: '3. NATS down 5 s (killed, restarted)',
  async run(cluster: DrillCluster) {
    await ensureShape(cluster, 2, 2);
    const c = await cluster.client(cluster.gateways[0]!.url, 'outage');
    const stream = ticks(c, 's3', 20);
    const seqs: number[] = [];
    while (seqs.length < 10) seqs.push((await stream.iterator.next()).value!.seq);
    let streamError: string | undefined;
    let resumedAt: number | undefined;
    let restartedAt = Infinity;
    const reading = (async () => {
      try {
        while (seqs.length < 10 + 100) {
          const next = await stream.iterator.next();
          if (next.done) { streamError = 'ended'; return; }
          seqs.push(next.value.seq);
          if (resumedAt === undefined && performance.now() > restartedAt) resumedAt = performance.now();
        }
      } catch (error) {
        streamError = String((error as { code?: unknown }).code ?? error);
      }
    })();

    // Calls already running on the hosts when NATS goes: their answers leave after the restart (the
    // host's client buffers them), so they must complete; HOST_LOST would blame hosts that never died.
    const spanning = Array.from({ length: 4 }, () => work(c, 's3-spanning', OUTAGE_MS + 1_500, 20_000));
    await delay(200);
    const downAt = performance.now();
    await cluster.nats.kill('SIGKILL');
    const during: Settled[] = [];
    while (performance.now() - downAt < OUTAGE_MS) {
      during.push(await work(c, 's3-down', 0, 3_000));
      await delay(250);
    }
    await cluster.startNats();
    restartedAt = performance.now();
    const recovery = await firstSuccess(c, restartedAt);
    const after = await Promise.all(Array.from({ length: 10 }, () => work(c, 's3-after', 0, 5_000)));
    const acrossOutage = await Promise.all(spanning);
    await Promise.race([reading, delay(15_000)]);
    await stream.iterator.return!().catch(() => undefined);

    const notes = [`outage: nats-server SIGKILL, restarted after ${OUTAGE_MS} ms on port ${cluster.port}`,
      `calls while down: ${summary(during)}; after the restart: ${summary(recovery.tries)}; then ${summary(after)}`,
      `calls running across the outage: ${summary(acrossOutage)}`,
      `stream: ${seqs.length} items${streamError ? `, then ${streamError}` : ''}`];
    const times = { firstCallOkAfterRestartMs: round(recovery.okAt - restartedAt), ...(resumedAt ? { streamResumedAfterRestartMs: round(resumedAt - restartedAt) } : {}) };
    const problems = verdict({ streamError, items: seqs.length, during, recovering: recovery.tries, after, acrossOutage });
    try {
      checkSequence(seqs, 'the stream across the outage');
      cluster.ledger.assertNoneTwice('s3');
      cluster.ledger.assertRanOnce(during.concat(recovery.tries, after, acrossOutage).filter((s) => s.ok).map((s) => s.id));
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { outcome: { times, notes } });
    return { times, notes };
  },
};

interface Calls { during: Settled[]; recovering: Settled[]; after: Settled[]; acrossOutage: Settled[] }

/** What went wrong, by the scenario's expectations (empty: passed). */
function verdict({ streamError, items, during, recovering, after, acrossOutage }: Calls & { streamError: string | undefined; items: number }): string[] {
  const typed = (s: Settled) => s.ok || s.code === ErrorCode.OBJECT_UNAVAILABLE;
  // The first call after the kill may leave before the gateway's NATS connection has read the reset:
  // written to a socket whose peer is gone, its outcome is unknown, and it ends at its deadline
  // (DEADLINE_EXCEEDED, typed; never HOST_LOST, never a hang). Every later one must be refused at once.
  const [first, ...rest] = during;
  const firstTyped = first === undefined || typed(first) || first.code === ErrorCode.DEADLINE_EXCEEDED;
  return [
    ...(streamError ? [`the stream ended with ${streamError} after ${items} items`] : []),
    ...(items < 110 ? [`the stream stalled at ${items} items`] : []),
    ...(firstTyped && rest.every(typed) ? [] : [`calls while down failed untyped: ${summary(during.filter((s, i) => !typed(s) && !(i === 0 && firstTyped)))}`]),
    ...(recovering.every(typed) ? [] : [`calls after the restart failed untyped: ${summary(recovering.filter((s) => !typed(s)))}`]),
    ...(after.every((s) => s.ok) ? [] : [`calls after recovery failed: ${summary(after)}`]),
    ...(acrossOutage.every((s) => s.ok) ? [] : [`calls running across the outage: ${summary(acrossOutage)}`]),
  ];
}

/** Calls every 100 ms until one succeeds (at most 20 s). */
async function firstSuccess(c: Parameters<typeof work>[0], since: number): Promise<{ okAt: number; tries: Settled[] }> {
  const tries: Settled[] = [];
  while (performance.now() - since < 20_000) {
    const s = await work(c, 's3-up', 0, 3_000);
    tries.push(s);
    if (s.ok) return { okAt: s.at, tries };
    await delay(100);
  }
  throw new Error(`no call succeeded within 20 s of the restart: ${summary(tries)}`);
}

/** "8 OK, 3 OBJECT_UNAVAILABLE". */
function summary(list: Settled[]): string {
  const counts = new Map<string, number>();
  for (const s of list) counts.set(s.ok ? 'OK' : s.code!, (counts.get(s.ok ? 'OK' : s.code!) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}
