/**
 * Failure drills of the scale-out with real processes on loopback: a nats-server run on the sample
 * configuration of docs/nats-server.conf (users, permissions; pings every second here so a frozen
 * peer is cut off in about three), two `uplink host` processes and two `uplink serve` gateways, all
 * beating every 300 ms (a peer missing three beats is gone). Each drill kills, freezes, drains or
 * restarts one of them and checks what a client sees (docs/scale-out.md, the failure table).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { connect as natsConnect } from '@nats-io/transport-node';
import { ErrorCode } from '../../../src/index.js';
import type { UplinkClient } from '../../../src/client/client.js';
import { client, rejection } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { natsUnavailable, startNatsServer, type NatsServer } from '../../support/nats-server.js';
import { startUplink, type UplinkProcess } from '../../support/processes.js';

const skip = natsUnavailable();
const BEAT_MS = 300;
const PASSWORDS = { UPLINK_NATS_GATEWAY_PASSWORD: 'gateway-secret', UPLINK_NATS_HOST_PASSWORD: 'host-secret', UPLINK_NATS_OPS_PASSWORD: 'ops-secret' };
const OBJECTS = new URL('../../support/cluster-objects.ts', import.meta.url).pathname;
const NO_OBJECTS = new URL('../../support/cluster-gateway.ts', import.meta.url).pathname;

let config: string;
let server: NatsServer;
let port: number;
const started: UplinkProcess[] = [];
/** Hosts of the running drill: killed after it, whatever happened (a frozen one would spoil the next drill). */
let drillHosts: UplinkProcess[] = [];
const clients: UplinkClient[] = [];

/** docs/nats-server.conf as it is, but with pings every second (a frozen peer is cut off in seconds). */
function testConfig(): string {
  const text = readFileSync(new URL('../../../docs/nats-server.conf', import.meta.url), 'utf8').replace('ping_interval: "5s"', 'ping_interval: "1s"');
  assert.ok(text.includes('ping_interval: "1s"'));
  const file = join(mkdtempSync(join(tmpdir(), 'uplink-nats-')), 'nats-server.conf');
  writeFileSync(file, text);
  return file;
}

const natsEnv = (user: 'gateway' | 'host') => ({
  UPLINK_NATS_URL: `nats://127.0.0.1:${port}`, UPLINK_NATS_USER: `uplink-${user}`, UPLINK_NATS_PASS: PASSWORDS[`UPLINK_NATS_${user.toUpperCase() as 'GATEWAY' | 'HOST'}_PASSWORD`],
  UPLINK_NATS_HEARTBEAT_MS: String(BEAT_MS),
});

async function startHost(name: string, env: Record<string, string> = {}): Promise<UplinkProcess & { name: string }> {
  const p = Object.assign(await startUplink('host', OBJECTS, { ...natsEnv('host'), UPLINK_HOST_NAME: name, ...env }), { name });
  started.push(p);
  drillHosts.push(p);
  return p;
}

async function startGatewayProcess(): Promise<{ process: UplinkProcess; url: string }> {
  const p = await startUplink('serve', NO_OBJECTS, { ...natsEnv('gateway'), UPLINK_STREAM_LINGER_MS: '30000' });
  started.push(p);
  return { process: p, url: p.ready.url as string };
}

async function connectTo(urls: string | string[], options: Parameters<typeof client>[1] = {}): Promise<UplinkClient> {
  const c = await client(urls as string, options);
  clients.push(c);
  return c;
}

/** A connection whose session objects live on host `name` (connections land on hosts at random). */
async function pinnedTo(url: string, name: string): Promise<UplinkClient> {
  for (let i = 0; i < 40; i++) {
    const c = await connectTo(url);
    if (await c.call('desk', 'where', []) === name) return c;
    await c.close();
  }
  throw new Error(`no connection landed on ${name}`);
}

/**
 * A long call on a connection pinned to `host`, then `signal` to that host: resolves with the call's
 * error, how long after the signal it came, and the connection.
 */
async function signalMidCall(url: string, host: UplinkProcess & { name: string }, signal: NodeJS.Signals): Promise<{ code: string | undefined; ms: number; client: UplinkClient }> {
  const c = await pinnedTo(url, host.name);
  const call = c.call('desk', 'slow', [20_000], { timeoutMs: 25_000 });
  await delay(200); // the call reaches the host, another process: nothing here can see that moment
  host.signal(signal);
  const t0 = performance.now();
  const { code } = await rejection(call);
  return { code, ms: performance.now() - t0, client: c };
}

before(async () => {
  if (skip) return;
  config = testConfig();
  server = await startNatsServer({ config, env: PASSWORDS });
  port = Number(server.url.split(':')[1]);
});
after(async () => {
  if (skip) return;
  for (const c of clients) await c.close().catch(() => {});
  for (const p of started) p.signal('SIGKILL');
  await Promise.all(started.map((p) => p.exited));
  await server?.stop();
});

describe('failure drills with real processes', { skip, timeout: 120_000 }, () => {
  let gatewayA: { process: UplinkProcess; url: string };
  let gatewayB: { process: UplinkProcess; url: string };

  before(async () => {
    if (skip) return;
    [gatewayA, gatewayB] = await Promise.all([startGatewayProcess(), startGatewayProcess()]);
  });
  afterEach(async () => {
    for (const p of drillHosts) {
      p.signal('SIGCONT');
      p.signal('SIGKILL');
    }
    await Promise.all(drillHosts.map((p) => p.exited));
    drillHosts = [];
  });

  it('permissions: only gateways may publish calls (a host user cannot)', async () => {
    const host = await startHost('perm-host');
    const gw = await connectTo(gatewayA.url);
    assert.equal(await gw.call('anywhere', 'where', []), 'perm-host', 'a gateway user reaches the host');
    const intruder = await natsConnect({ servers: `127.0.0.1:${port}`, user: 'uplink-host', pass: PASSWORDS.UPLINK_NATS_HOST_PASSWORD });
    await assert.rejects(intruder.request('uplink.call.anywhere', new Uint8Array(0), { timeout: 500 }), 'a host user\'s call never arrives');
    await intruder.close();
    await assert.rejects(natsConnect({ servers: `127.0.0.1:${port}`, user: 'uplink-gateway', pass: 'wrong' }), 'a wrong password is refused');
    host.signal('SIGKILL');
    await host.exited;
  });

  it('a host killed mid-call: HOST_LOST within seconds, not the deadline; new calls go to the other host', async () => {
    const [a, b] = await Promise.all([startHost('kill-a'), startHost('kill-b')]);
    const lost = await signalMidCall(gatewayA.url, a, 'SIGKILL');
    assert.equal(lost.code, ErrorCode.HOST_LOST);
    assert.ok(lost.ms < 3 * BEAT_MS + 1_500, `HOST_LOST after ${Math.round(lost.ms)} ms`);
    assert.equal(await lost.client.call('desk', 'where', []), 'kill-b', 'the session is gone (the HOST_LOST said so): a new one on the other host');
    const [a2] = await Promise.all([startHost('kill-c')]);
    const d0 = await pinnedTo(gatewayA.url, 'kill-c');
    const retried = d0.call('desk', 'slow', [1_500], { timeoutMs: 20_000, idempotent: true });
    await delay(200); // as in signalMidCall: the call reaches the host process
    a2.signal('SIGKILL');
    assert.equal(await retried, 'kill-b', 'an idempotent call is sent once more after HOST_LOST, and lands on a live host');
    const d = await connectTo(gatewayB.url);
    for (let i = 0; i < 10; i++) assert.equal(await d.call('anywhere', 'where', []), 'kill-b');
    b.signal('SIGKILL');
    await b.exited;
  });

  it('a frozen host (SIGSTOP): its calls fail HOST_LOST within the bound, and new calls stop going to it once the gateways see it dead', async () => {
    const [a, b] = await Promise.all([startHost('frozen-a'), startHost('frozen-b')]);
    const lost = await signalMidCall(gatewayA.url, a, 'SIGSTOP');
    assert.equal(lost.code, ErrorCode.HOST_LOST);
    assert.ok(lost.ms < 3 * BEAT_MS + 1_500, `HOST_LOST after ${Math.round(lost.ms)} ms`);
    const d = await connectTo(gatewayB.url);
    // The server would keep routing to it (our own traffic delays its pings): the gateways pick live hosts
    // themselves, so after three missed beats no new call goes there; before that, they fail typed and fast.
    await eventually(async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, () => d.call('anywhere', 'where', [], { timeoutMs: 5_000 }).catch((e: { code: string }) => e.code)));
      for (const answer of answers) assert.ok(answer === 'frozen-b' || answer === ErrorCode.HOST_LOST, String(answer));
      return answers.every((answer) => answer === 'frozen-b');
    }, { timeoutMs: 10_000, what: 'every new call served by the live host' });
    a.signal('SIGCONT');
    a.signal('SIGKILL');
    b.signal('SIGKILL');
    await Promise.all([a.exited, b.exited]);
  });

  it('a host drained (SIGTERM): no new calls, calls in flight finish, streams end typed and retryable within the budget', async () => {
    const [a, b] = await Promise.all([startHost('drain-a', { UPLINK_SHUTDOWN_DRAIN_MS: '1500' }), startHost('drain-b')]);
    const c = await pinnedTo(gatewayA.url, 'drain-a');
    const call = c.call('desk', 'slow', [700]);
    const ticks = c.stream<{ seq: number; host: string }>('desk', 'ticks', [20])[Symbol.asyncIterator]();
    assert.equal((await ticks.next()).value?.host, 'drain-a');
    a.signal('SIGTERM');
    const t0 = performance.now();
    assert.equal(await call, 'drain-a', 'the call in flight finished');
    let error: { code?: string; data?: { retryable?: boolean } } | undefined;
    try {
      for (;;) if ((await ticks.next()).done) break;
    } catch (e) {
      error = e as typeof error;
    }
    assert.equal(error?.code, ErrorCode.SHUTTING_DOWN);
    assert.equal(error?.data?.retryable, true);
    assert.ok(performance.now() - t0 < 1_500 + 1_000, 'within the drain budget');
    assert.equal(await a.exited, 0);
    const d = await connectTo(gatewayB.url);
    assert.equal(await d.call('anywhere', 'where', []), 'drain-b');
    b.signal('SIGKILL');
    await b.exited;
  });

  it('a gateway killed mid-stream: the client fails over to the other gateway and resumes, every item exactly once', async () => {
    const host = await startHost('failover-host');
    const extra = await startGatewayProcess();
    const c = await connectTo([extra.url, gatewayB.url], { reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const seqs: number[] = [];
    const iterator = c.stream<{ seq: number }>('desk', 'ticks', [10])[Symbol.asyncIterator]();
    while (seqs.length < 10) seqs.push((await iterator.next()).value!.seq);
    extra.process.signal('SIGKILL');
    while (seqs.length < 60) seqs.push((await iterator.next()).value!.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'in order, none lost, none twice');
    assert.equal((c as unknown as { url: string }).url, gatewayB.url, 'now on the other gateway');
    await iterator.return!();
    host.signal('SIGKILL');
    await host.exited;
  });

  it('nats-server restarted mid-stream: the stream stalls, then goes on with nothing lost or repeated', async () => {
    const host = await startHost('restart-host');
    const c = await connectTo(gatewayA.url);
    const seqs: number[] = [];
    const iterator = c.stream<{ seq: number }>('desk', 'ticks', [10])[Symbol.asyncIterator]();
    while (seqs.length < 10) seqs.push((await iterator.next()).value!.seq);
    await server.stop();
    await delay(300); // the outage lasts a while: its length is what is tested
    server = await startNatsServer({ config, env: PASSWORDS, port });
    while (seqs.length < 80) seqs.push((await iterator.next()).value!.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i), 'in order, none lost, none twice');
    assert.equal(await c.call('anywhere', 'where', []), 'restart-host', 'calls work again');
    await iterator.return!();
    host.signal('SIGKILL');
    await host.exited;
  });
});
