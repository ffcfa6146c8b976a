/**
 * Scenarios on gateways: one killed mid-stream under a client that knows both (2), and a revocation
 * made on one gateway, and by `uplink revoke`, closing a connection on the other (4).
 */
import type { UplinkClient } from '../../src/client/client.js';
import type { DrillCluster } from './cluster.js';
import { check, checkSequence, ensureShape, round, ticks, work, type Scenario } from './common.js';

/** 2. kill -9 the client's gateway mid-stream: the client moves to the other URL and the stream resumes there exactly once. */
export const gatewayKilled: Scenario = {
  name: '2. gateway killed (SIGKILL) mid-stream',
  async run(cluster: DrillCluster) {
    await ensureShape(cluster, 2, 2);
    const [first, second] = cluster.gateways as [typeof cluster.gateways[0], typeof cluster.gateways[0]];
    const c = await cluster.client([first.url, second.url], 'failover', { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    check(c.url === first.url, `the client started on ${c.url}`);
    const stream = ticks(c, 's2', 20);
    const seqs: number[] = [];
    while (seqs.length < 20) seqs.push((await stream.iterator.next()).value!.seq);
    const killedAt = performance.now();
    await cluster.kill(first);
    let resumedAt: number | undefined;
    while (seqs.length < 120) {
      const next = await stream.iterator.next();
      check(!next.done, `the stream ended after ${seqs.length} items`);
      seqs.push(next.value.seq);
      if (resumedAt === undefined && c.url === second.url) resumedAt = performance.now();
    }
    await stream.iterator.return!();
    checkSequence(seqs, 'the stream across the failover');
    check(resumedAt !== undefined, 'no item came through the other gateway');
    const { streams } = cluster.ledger.assertNoneTwice('s2');
    check(streams === 1, `the stream was opened ${streams} times`);
    const after = await work(c, 's2-after');
    check(after.ok, `a call after the failover failed: ${after.code}`);
    return {
      times: { recoveryMs: round(resumedAt - killedAt) },
      notes: [`120 items in order, none lost or twice; the generator opened once; recovery = kill to the first item through ${second.name}`],
    };
  },
};

/** Resolves with the close code and how long after `since` the socket closed, or rejects after `ms`. */
async function closedWithin(c: UplinkClient, since: number, ms: number, what: string): Promise<{ code: number; ms: number }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still connected after ${ms} ms`)), ms); });
  try {
    const { code } = await Promise.race([c.whenClosed, timeout]);
    return { code, ms: performance.now() - since };
  } finally {
    clearTimeout(timer);
  }
}

/** 4. a subject's connection on gateway B is closed by a revocation on gateway A ($admin.revoke) and by `uplink revoke`. */
export const revokedAcross: Scenario = {
  name: '4. revocation across gateways',
  async run(cluster: DrillCluster) {
    await ensureShape(cluster, 2, 2);
    const [a, b] = cluster.gateways as [typeof cluster.gateways[0], typeof cluster.gateways[0]];
    const bystander = await cluster.client(b.url, 'bystander');
    const watched = ticks(bystander, 's4-bystander', 20);
    const seqs: number[] = [(await watched.iterator.next()).value!.seq];
    let watching = true;
    const pump = (async () => {
      while (watching) {
        const n = await watched.iterator.next();
        if (n.done) return;
        seqs.push(n.value.seq);
      }
    })();

    const mallory = await cluster.client(b.url, 'mallory');
    const held = ticks(mallory, 's4-mallory', 20);
    await held.iterator.next();
    const admin = await cluster.client(a.url, 'operator', { admin: true });
    const t0 = performance.now();
    await admin.call('$admin', 'revoke', ['mallory']);
    const byAdmin = await closedWithin(mallory, t0, 5_000, 'mallory after $admin.revoke on the other gateway');
    check(byAdmin.code === 4409, `mallory closed with ${byAdmin.code}, not 4409`);

    const oscar = await cluster.client(b.url, 'oscar');
    check((await work(oscar, 's4')).ok, 'oscar could not call');
    const t1 = performance.now();
    const cliClosed = closedWithin(oscar, t1, 15_000, 'oscar after uplink revoke oscar');
    const cli = await cluster.cliRevoke('oscar');
    check(cli.code === 0, `uplink revoke exited ${cli.code}: ${cli.stderr}`);
    const byCli = await cliClosed;
    check(byCli.code === 4409, `oscar closed with ${byCli.code}, not 4409`);

    check((await work(bystander, 's4')).ok, 'the bystander lost its connection');
    watching = false;
    await Promise.race([pump, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    await watched.iterator.return!();
    checkSequence(seqs, 'the bystander\'s stream');
    const { streams } = cluster.ledger.assertNoneTwice('s4');
    check(streams === 2, `${streams} streams opened, not 2`);
    return {
      times: { adminRevokeMs: round(byAdmin.ms), cliRevokeMs: round(byCli.ms), cliProcessMs: round(cli.ms) },
      notes: [`mallory (gateway ${b.name}) closed 4409 by $admin.revoke on ${a.name}; oscar closed 4409 by \`uplink revoke oscar\` (uplink-ops), timed from spawning the CLI; the bystander's ${seqs.length} items in order`],
    };
  },
};
