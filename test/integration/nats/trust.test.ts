/**
 * A cluster you can trust (#26): hosts that verify who is calling (gateway-signed identity
 * assertions), and NATS outages seen as what they are: a host is not ready while NATS is away,
 * streams stall and go on instead of ending HOST_LOST, and both sides log and count it. Real
 * nats-server processes (one stopped and restarted on its port), real gateways and JWTs.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { connect as natsConnect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { callContext, ErrorCode, expose, Gateway } from '../../../src/index.js';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { systemClock } from '../../../src/clock.js';
import { decodeAnswer, encodeCall } from '../../../src/nats/call-envelope.js';
import type { Identity } from '../../../src/core/context.js';
import { readErrorPayload, unpackPayload } from '../../../src/nats/envelope.js';
import { AssertionSigner } from '../../../src/nats/identity-assertion.js';
import { NatsHostService, NatsObjectHost } from '../../../src/nats/index.js';
import { captureLogs, client, RawSocket, startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { objectHost, TestCluster } from '../../support/nats-cluster.js';
import { natsUnavailable, startNatsServer, type NatsServer } from '../../support/nats-server.js';
import { parseScrape } from '../../support/prometheus.js';
import { resumeElsewhere } from '../../support/resume-elsewhere.js';
import { TcpProxy } from '../../support/tcp-proxy.js';
import { hsToken, SECRET } from '../../support/tokens.js';
import { Counter } from '../../support/fixtures.js';

const skip = natsUnavailable();
const BEAT_MS = 200;
const ran: string[] = [];

class WhoAmI {
  @expose who(): string {
    const subject = callContext().connection.identity?.subject ?? 'anonymous';
    ran.push(subject);
    return subject;
  }

  /** Waits `ms`; says whether its signal was aborted meanwhile. */
  @expose async slow(ms: number): Promise<string> {
    const { signal } = callContext();
    await delay(ms, undefined, { signal }).catch(() => undefined);
    return signal.aborted ? 'aborted' : 'done';
  }

  @expose async *count(n: number, everyMs: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) {
      yield i;
      await delay(everyMs);
    }
  }
}

const authenticator = () => new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET });

/**
 * A call published by hand (as a NATS user holding the gateway credential could), and the host's
 * answer; `extra`: an identity (`identity`) and an assertion (`assertion`) for the call's head.
 */
async function publishCall(nc: NatsConnection, object: string, member: string, extra: { identity?: Identity; assertion?: string }): Promise<{ event: string; code?: string; value?: string }> {
  const gateway = 'ForgedGatewayIdAAAAAAA';
  const reply = `_U.${gateway}.1`;
  const call = encodeCall({
    member, kind: 'call', timeoutMs: undefined, identity: extra.identity, context: { connection: `${gateway}/c0`, remoteAddress: '127.0.0.1', correlationId: 'forged' },
    ...(extra.assertion === undefined ? {} : { assertion: extra.assertion }),
  }, { text: '[]' });
  const inbox = nc.subscribe(reply, { max: 1 });
  nc.publish(`uplink.call.${object}`, call, { reply });
  // A verifying host answers nothing unproven: 'none' is an absence, so it takes the whole 1.5 s.
  const answer = await Promise.race([(async () => { for await (const m of inbox) return m; return undefined; })(), delay(1_500).then(() => undefined)]);
  inbox.unsubscribe();
  if (!answer) return { event: 'none' }; // a verifying host answers nothing unproven: the reply subject may be another caller's
  const { head, body } = decodeAnswer(answer.data);
  if (head.e === 'error') return { event: head.e, code: readErrorPayload(body, 16).code };
  return { event: head.e, value: unpackPayload(body, 16).text };
}

describe('hosts verify who is calling (#26 item 10)', { skip }, () => {
  let cluster: TestCluster;
  let url: string;
  let gateway: Gateway;
  let other: { gateway: Gateway; url: string };
  let forger: NatsConnection;
  let service: NatsHostService;
  let remote: NatsObjectHost;
  const keys = generateKeyPairSync('ed25519');

  before(async () => {
    cluster = await TestCluster.start();
    const host = objectHost();
    host.register(new WhoAmI(), { id: 'whoami' });
    host.register(Counter, { id: 'tally', mode: 'session' });
    service = new NatsHostService(await cluster.connect('host'), host, { heartbeatMs: BEAT_MS, verifyKey: keys.publicKey });
    service.serve();
    remote = new NatsObjectHost(await cluster.connect('gateway'), { heartbeatMs: BEAT_MS, signingKey: keys.privateKey });
    ({ gateway, url } = await startGateway({ remoteObjects: remote, authenticator: authenticator() }, false));
    const remoteB = new NatsObjectHost(await cluster.connect('gateway-b'), { heartbeatMs: BEAT_MS, signingKey: keys.privateKey });
    other = await startGateway({ remoteObjects: remoteB, authenticator: authenticator() }, false);
    await eventually(() => remoteB.knowsObject('whoami'), { what: 'the host beat on gateway B' });
    forger = await cluster.connect('forger');
    await eventually(() => remote.knowsObject('whoami'), { what: 'the host beat' });
  });
  after(async () => {
    await gateway.close({ drainMs: 0 });
    await other.gateway.close({ drainMs: 0 });
    await cluster.stop();
  });

  it('a stream resumes through another gateway as its owner (a signed resume), and only as its owner', async () => {
    const token = await hsToken({}, { sub: 'dave' });
    const a = await RawSocket.open(url, false);
    a.send(JSON.stringify({ t: 'hello', v: [1], token }));
    assert.equal((await a.next()).header.t, 'welcome');
    a.send('{"t":"stream","id":5,"o":"whoami","m":"count","upTo":1000}\n[60,20]');
    const items = (raw: RawSocket, id: number) => raw.frames.filter((f) => f.header.t === 'items' && f.header.id === id).flatMap((f) => JSON.parse(f.body.split('\n')[0]!) as number[]);
    await eventually(() => items(a, 5).length >= 5, { what: 'items through gateway A' });
    const key = a.frames.find((f) => f.header.t === 'stream-open')!.header.key as string;
    const open = gateway.connectionCount;
    a.ws.terminate();
    const received = items(a, 5);
    await eventually(() => gateway.connectionCount < open, { what: 'gateway A to see the client gone' });
    const intruder = await RawSocket.open(other.url, false);
    intruder.send(JSON.stringify({ t: 'hello', v: [1], token: await hsToken({}, { sub: 'eve' }) }));
    assert.equal((await intruder.next()).header.t, 'welcome');
    intruder.send(JSON.stringify({ t: 'resume', id: 7, key, ack: 0, upTo: 1000 }));
    await eventually(() => intruder.frames.some((f) => f.header.id === 7 && f.header.t === 'error'), { what: 'the intruder refused' });
    assert.equal(intruder.frames.find((f) => f.header.id === 7 && f.header.t === 'error')!.header.code, ErrorCode.STREAM_LOST);
    intruder.close();
    await resumeElsewhere(other.url, token, key, received, items);
  });

  it('the gateway credential alone cannot cancel another caller\'s call, nor release its session', async () => {
    const c = await client(url, { token: await hsToken({}, { sub: 'alice' }) });
    assert.equal(await c.call('tally', 'increment', []), 1);
    assert.equal(await c.call('tally', 'increment', []), 2);
    // Every connection id of this gateway a forger could guess (they are sequential), released unsigned.
    const ids = Array.from({ length: 50 }, (_, i) => `${remote.id}/c${i.toString(36)}`);
    forger.publish(`uplink.evt.gw.${remote.id}.release`, new TextEncoder().encode(JSON.stringify(ids)));
    const slow = c.call('whoami', 'slow', [600]);
    await eventually(() => (service as unknown as { running: { replies(): string[] } }).running.replies().length === 1, { what: 'the slow call running' });
    const [reply] = (service as unknown as { running: { replies(): string[] } }).running.replies();
    const h = natsHeaders();
    h.set('Uplink-Op', 'cancel');
    h.set('Uplink-Call', reply!);
    forger.publish(`uplink.host.${service.id}.ctl`, undefined, { headers: h });
    assert.equal(await slow, 'done', 'the forged cancel did not reach the method');
    assert.equal(await c.call('tally', 'increment', []), 3, 'the session survived the forged release');
    await c.close();
  });

  it('a rogue that announces an object and never answers holds no call for long, then gets none', async () => {
    const rogue = await cluster.connect('rogue');
    const id = 'RogueHostIdAAAAAAAAAAA';
    const beat = () => rogue.publish(`uplink.evt.host.${id}`, new TextEncoder().encode(JSON.stringify({ id, name: 'rogue', state: 'up', objects: ['whoami'], calls: 0, streams: 0, reconnects: 0 })));
    rogue.subscribe(`uplink.host.${id}.>`, { callback: () => {} }); // takes the calls, answers none
    beat();
    const beating = setInterval(beat, BEAT_MS);
    try {
      await eventually(() => remote.hosts.live().some((h) => h.id === id), { what: 'the rogue in the host table' });
      const c = await client(url, { token: await hsToken({}, { sub: 'alice' }) });
      const started = performance.now();
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => c.call('whoami', 'who', []).then(String, (e: { code: string }) => e.code)));
      assert.ok(outcomes.every((o) => o === 'alice' || o === ErrorCode.HOST_LOST), outcomes.join());
      assert.ok(outcomes.includes(ErrorCode.HOST_LOST), 'calls sent to the rogue fail HOST_LOST');
      assert.ok(performance.now() - started < 10 * BEAT_MS, 'within a few of its beats');
      for (let i = 0; i < 10; i++) assert.equal(await c.call('whoami', 'who', []), 'alice', 'the rogue is not picked any more');
      await c.close();
    } finally {
      clearInterval(beating);
    }
  });

  it('a call through the gateway runs as the identity the gateway verified', async () => {
    const c = await client(url, { token: await hsToken({}, { sub: 'alice' }) });
    assert.equal(await c.call('whoami', 'who', []), 'alice');
    await c.close();
  });

  it('a call with a forged identity and no assertion is dropped unanswered, and nothing runs', async () => {
    const before = ran.length;
    const forged = { subject: 'forged-root', claims: { scope: 'admin' } };
    const answer = await publishCall(forger, 'whoami', 'who', { identity: forged });
    assert.deepEqual(answer, { event: 'none' });
    assert.equal(ran.length, before, 'the method never ran');
  });

  it('an assertion signed by another key, or for another connection, is refused', async () => {
    const before = ran.length;
    const other = generateKeyPairSync('ed25519');
    const identity = { subject: 'forged-root', claims: {} };
    const wrongKey = new AssertionSigner(other.privateKey, systemClock).assertion('ForgedGatewayIdAAAAAAA/c0', identity);
    assert.equal((await publishCall(forger, 'whoami', 'who', { assertion: wrongKey })).event, 'none');
    const otherConnection = new AssertionSigner(keys.privateKey, systemClock).assertion('ForgedGatewayIdAAAAAAA/c9', identity);
    assert.equal((await publishCall(forger, 'whoami', 'who', { assertion: otherConnection })).event, 'none');
    const rightOne = new AssertionSigner(keys.privateKey, systemClock).assertion('ForgedGatewayIdAAAAAAA/c0', identity);
    assert.deepEqual(await publishCall(forger, 'whoami', 'who', { assertion: rightOne }), { event: 'ok', value: '"forged-root"' }, 'the control: a valid assertion runs');
    assert.equal(ran.length, before + 1);
  });

  it('a revoked subject\'s assertions are refused on the host', async () => {
    const identity = { subject: 'mallory', claims: { iat: Math.floor(Date.now() / 1000) - 10 } };
    const assertion = new AssertionSigner(keys.privateKey, systemClock).assertion('ForgedGatewayIdAAAAAAA/c0', identity);
    assert.equal((await publishCall(forger, 'whoami', 'who', { assertion: assertion })).event, 'ok');
    gateway.revoke({ subject: 'mallory' });
    await eventually(async () => (await publishCall(forger, 'whoami', 'who', { assertion: assertion })).event === 'none', { what: 'the revocation on the host' });
  });
});

describe('NATS outages: readiness, liveness, logs and gauges (#26 items 6, 7, 9)', { skip }, () => {
  let server: NatsServer;
  let port: number;
  let cluster: TestCluster;
  let service: NatsHostService;
  let hostNc: NatsConnection;
  let hostRoute: TcpProxy;
  let gateway: Gateway;
  let url: string;
  const hostLogs = captureLogs('info');
  let gatewayLogs: ReturnType<typeof captureLogs>['logs'];

  before(async () => {
    server = await startNatsServer();
    port = Number(server.url.split(':')[1]);
    cluster = TestCluster.attach(server);
    const host = objectHost();
    host.register(new WhoAmI(), { id: 'whoami' });
    // The host reaches NATS through a relay the test restores two beats after the server: the gateway
    // must not declare it lost meanwhile (its silence was the outage; liveness restarts at the reconnect).
    hostRoute = await TcpProxy.start(() => port);
    hostNc = await natsConnect({ servers: `127.0.0.1:${hostRoute.port}`, name: 'late-host', maxReconnectAttempts: -1, reconnectTimeWait: 50, reconnectJitter: 0 });
    service = new NatsHostService(hostNc, host, { heartbeatMs: BEAT_MS, logger: hostLogs.logger });
    service.serve();
    const remote = new NatsObjectHost(await cluster.connect('gateway'), { heartbeatMs: BEAT_MS });
    ({ gateway, url, logs: gatewayLogs } = await startGateway({ remoteObjects: remote, metrics: { port: 0 } }, false));
    await eventually(() => remote.knowsObject('whoami'), { what: 'the host beat' });
  });
  after(async () => {
    await gateway.close({ drainMs: 0 });
    await cluster.stop();
    await hostNc.close();
    await hostRoute.cut();
    await server.stop();
  });

  const gauge = async (name: string) => {
    const response = await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`);
    return parseScrape(await response.text()).find((s) => s.name === name)?.value;
  };

  it('an outage of five beats stalls a stream, never ends it; the host is not ready meanwhile', async () => {
    assert.equal(service.readiness(), 'ok');
    assert.equal(await gauge('uplink_nats_connected'), 1);
    assert.equal(await gauge('uplink_cluster_hosts'), 1);
    const c = await client(url);
    const got: number[] = [];
    const consumed = (async () => { for await (const n of c.proxy<WhoAmI>('whoami').count(40, 25)) got.push(n as number); })();
    await eventually(() => got.length >= 5, { what: 'the first items' });
    await hostRoute.cut();
    await server.stop();
    await eventually(() => service.readiness() !== 'ok', { what: 'the host not ready' });
    assert.equal(await gauge('uplink_nats_connected'), 0);
    await delay(5 * BEAT_MS); // an outage longer than the liveness bound: its length is what is tested
    server = await startNatsServer({ port });
    await delay(2 * BEAT_MS); // the gateway is back and ticking; the host is not yet (a duration, as above)
    await hostRoute.restore();
    await consumed;
    assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i), 'every item once, in order');
    await eventually(() => service.readiness() === 'ok', { what: 'the host ready again' });
    assert.equal(await c.call('whoami', 'who', []), 'anonymous');
    await c.close();
  });

  it('disconnects, reconnects and a lost host are logged at warn level; the gauge counts live hosts', async () => {
    const warned = (lines: Array<Record<string, unknown>>, msg: string) => lines.some((l) => l.msg === msg && l.level === 40);
    assert.ok(warned(hostLogs.logs.lines, 'NATS disconnected; reconnecting'), 'host: disconnect');
    assert.ok(warned(hostLogs.logs.lines, 'NATS reconnected'), 'host: reconnect');
    assert.ok(warned(gatewayLogs.lines, 'NATS disconnected; reconnecting'), 'gateway: disconnect');
    assert.ok(warned(gatewayLogs.lines, 'NATS reconnected'), 'gateway: reconnect');
    assert.ok(!warned(gatewayLogs.lines, 'object host lost: no beat within the liveness bound'), 'the outage lost no host');
    // A frozen host: its connection stays, its beats stop (the liveness bound, not a clean exit).
    (service as unknown as { stopTicking(): void }).stopTicking();
    await eventually(() => warned(gatewayLogs.lines, 'object host lost: no beat within the liveness bound'), { what: 'the lost host logged' });
    assert.equal(await gauge('uplink_cluster_hosts'), 0);
  });
});
