/**
 * Scenarios on object hosts: one killed with calls in flight (1), one added under load (5).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { DrillCluster } from './cluster.js';
import { check, ensureShape, nextId, round, work, type Scenario, type Settled } from './common.js';

/** 1. kill -9 a host while calls are in flight: they fail HOST_LOST (never the deadline) within 3 beats and a tick; new calls go to the other host. */
export const hostKilled: Scenario = {
  name: '1. host killed (SIGKILL) with calls in flight',
  async run(cluster: DrillCluster) {
    await ensureShape(cluster, 2, 2);
    const [victim, survivor] = cluster.hosts as [typeof cluster.hosts[0], typeof cluster.hosts[0]];
    const c = await cluster.client(cluster.gateways[0]!.url, 'kill-host');
    // Long calls (5 s, deadline 15 s) spread over both hosts: those on the victim are still running at the kill.
    const inFlight = Array.from({ length: 16 }, () => work(c, 's1', 5_000, 15_000));
    await delay(300);
    const killedAt = performance.now();
    await cluster.kill(victim);
    const settled = await Promise.all(inFlight);
    const lost = settled.filter((s) => !s.ok);
    const wrong = lost.filter((s) => s.code !== ErrorCode.HOST_LOST);
    check(wrong.length === 0, `in-flight calls failed with ${wrong.map((s) => s.code).join(', ')}, not HOST_LOST`);
    check(lost.length > 0, 'no call was on the killed host');
    check(settled.filter((s) => s.ok).every((s) => s.host === survivor.name), 'a call answered from the killed host');
    const detection = lost.map((s) => s.at - killedAt);
    const bound = 3 * cluster.heartbeatMs + 1_500;
    check(Math.max(...detection) < bound, `HOST_LOST after ${round(Math.max(...detection))} ms (bound ${bound})`);
    const after = await Promise.all(Array.from({ length: 10 }, () => work(c, 's1-after', 0, 5_000)));
    check(after.every((s) => s.ok && s.host === survivor.name), `new calls: ${after.map((s) => s.host ?? s.code).join(', ')}`);
    const { calls } = cluster.ledger.assertNoneTwice('s1');
    cluster.ledger.assertRanOnce(settled.concat(after).filter((s) => s.ok).map((s) => s.id));
    return {
      times: { detectionFirstMs: round(Math.min(...detection)), detectionLastMs: round(Math.max(...detection)) },
      notes: [`${lost.length}/16 in-flight calls HOST_LOST, ${16 - lost.length} done on ${survivor.name}; 10/10 new calls on ${survivor.name}; ${calls} runs, none twice`],
    };
  },
};

/** Keeps `workers` calls going on `urls` until stop(); every answer is kept. */
function load(cluster: DrillCluster, urls: string[], workers: number): { answers: Settled[]; stop(): Promise<void> } {
  const answers: Settled[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, i) => {
    const c = await cluster.client(urls[i % urls.length]!, `load-${i}`);
    while (running) answers.push(await work(c, 's5', 10, 5_000));
  });
  return { answers, stop: async () => { running = false; await Promise.all(loops); } };
}

/** 5. add a host under load: it gets calls soon after it is up, and no call fails meanwhile. */
export const hostAdded: Scenario = {
  name: '5. host added under load',
  async run(cluster: DrillCluster) {
    await ensureShape(cluster, 2, 2);
    const driver = load(cluster, cluster.gateways.map((g) => g.url), 4);
    await delay(1_000);
    const name = nextId('host-added');
    const spawnedAt = performance.now();
    const added = await cluster.addHost(name);
    const readyAt = performance.now();
    const deadline = readyAt + 10_000;
    while (!driver.answers.some((a) => a.host === name) && performance.now() < deadline) await delay(5);
    const first = driver.answers.find((a) => a.host === name);
    await delay(1_000);
    await driver.stop();
    check(first, `${added.name} got no call within 10 s of being ready`);
    const failed = driver.answers.filter((a) => !a.ok);
    check(failed.length === 0, `${failed.length} calls failed under load: ${[...new Set(failed.map((a) => a.code))].join(', ')}`);
    const share = driver.answers.filter((a) => a.at > first.at && a.host === name).length / Math.max(1, driver.answers.filter((a) => a.at > first.at).length);
    const { calls } = cluster.ledger.assertNoneTwice('s5');
    cluster.ledger.assertRanOnce(driver.answers.map((a) => a.id));
    return {
      times: { firstCallAfterReadyMs: round(first.at - readyAt), firstCallAfterSpawnMs: round(first.at - spawnedAt), startupMs: round(readyAt - spawnedAt) },
      notes: [`${driver.answers.length} calls, 0 failed; the new host served ${Math.round(share * 100)}% of the calls after its first; ${calls} runs, none twice`],
    };
  },
};
