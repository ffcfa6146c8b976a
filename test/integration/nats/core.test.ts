/**
 * Objects on hosts behind a real nats-server, reached through two gateways: calls, properties,
 * oneway calls, typed errors, context in headers, streams with end-to-end credits, cancel reaching
 * the host (calls and generators), session objects pinned to one host, `$uplink` across hosts, $SRV
 * discovery, revocation on every gateway, resume through another gateway, and a host that vanishes
 * (HOST_LOST). Hosts and gateways run in this process but each on its own NATS connection: they reach
 * each other only through NATS. Real processes, killed and frozen, are in failures.test.ts (this folder).
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { callContext, ErrorCode, expose } from '../../../src/index.js';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { decodeAnswer, encodeCall } from '../../../src/nats/call-envelope.js';
import { readErrorPayload } from '../../../src/nats/envelope.js';
import { client, RawSocket, rejection } from '../../support/gateway.js';
import { Calculator, Counter, TestError, Ticker } from '../../support/fixtures.js';
import { eventually, within } from '../../support/eventually.js';
import { resumeElsewhere } from '../../support/resume-elsewhere.js';
import { natsUnavailable } from '../../support/nats-server.js';
import { TestCluster, type ClusterGateway, type ClusterHost } from '../../support/nats-cluster.js';
import { hsToken, SECRET } from '../../support/tokens.js';

const skip = natsUnavailable();

/** What the host saw of generators and aborted calls (the tests read it from the outside). */
const seen = { produced: 0, finallies: 0, aborted: 0, started: 0 };

class Producer {
  @expose *count(n: number): Generator<number> {
    try {
      for (let i = 0; i < n; i++) {
        seen.produced++;
        yield i;
      }
    } finally {
      seen.finallies++;
    }
  }

  @expose async waitForAbort(): Promise<string> {
    seen.started++;
    const signal = callContext().signal;
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    seen.aborted++;
    return 'aborted';
  }

  @expose *big(n: number, chars: number): Generator<string> {
    for (let i = 0; i < n; i++) yield String(i % 10).repeat(chars);
  }

  @expose text(chars: number): string {
    return 'x'.repeat(chars);
  }

  @expose async sleep(ms: number): Promise<string> {
    await delay(ms);
    return 'slept';
  }

  @expose annotated(): unknown {
    callContext().annotate('answered-by', 'producer');
    return callContext().annotations ?? null;
  }

  @expose checksum(bytes: Uint8Array): { length: number; sum: number; back: Uint8Array } {
    return { length: bytes.length, sum: bytes.reduce((s, b) => s + b, 0), back: bytes.subarray(0, 4) };
  }

  @expose where(): { connection: string } {
    return { connection: callContext().connection.id };
  }
}

/** A class: one instance per connection (session mode), so its calls must stay on one host. */
class Basket {
  private items: string[] = [];
  @expose add(item: string): number {
    return this.items.push(item);
  }
}

let cluster: TestCluster;
let hosts: ClusterHost[];
let gw: ClusterGateway[];

function registerAll(host: ClusterHost['host']): void {
  host.register(new Calculator(), { id: 'calc' });
  host.register(Counter, { id: 'tally' }); // session mode: set and get reach the same instance
  host.register(new Producer(), { id: 'producer' });
  host.register(new Ticker(), { id: 'ticker' });
  host.register(Basket, { id: 'basket' });
  host.register({ whoami: () => ({ subject: callContext().identity?.subject ?? null, cid: callContext().correlationId, remote: callContext().connection.remoteAddress }) }, { id: 'who', expose: ['whoami'] });
}

before(async () => {
  if (skip) return;
  cluster = await TestCluster.start();
  hosts = [await cluster.addHost(registerAll, 'host-a'), await cluster.addHost((h) => {
    registerAll(h);
    h.register({ open: () => 'admin only' }, { id: 'admin', expose: ['open'], access: { scopes: ['admin'] } });
  }, 'host-b')];
  const authenticator = () => new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET });
  gw = [await cluster.addGateway({ authenticator: authenticator() }), await cluster.addGateway({ authenticator: authenticator() })];
  await eventually(() => gw.every((g) => g.remote.hosts.live().length === 2), { what: 'both gateways see both hosts' });
});
after(async () => {
  if (!skip) await cluster?.stop();
});

const connectTo = async (g: ClusterGateway, sub = 'alice', claims: Record<string, unknown> = {}) => client(g.url, { token: await hsToken(claims, { sub }) });

describe('calls through NATS', { skip }, () => {
  it('calls, properties and typed errors pass through; $uplink stays on the gateway', async () => {
    const c = await connectTo(gw[0]!);
    assert.equal(await c.call('calc', 'add', [40, 2]), 42);
    const error = await rejection(c.call('calc', 'divide', [1, 0]));
    assert.ok(error instanceof TestError, 'a registered error class comes back as itself');
    assert.deepEqual(error.data, { hint: 'pass a non-zero divisor' });
    assert.equal((await rejection(c.call('calc', 'divide', [1, 'x']))).code, ErrorCode.BAD_ARGUMENTS, 'argument schemas run on the host');
    assert.equal((await rejection(c.call('calc', 'nope', []))).code, ErrorCode.UNKNOWN_MEMBER);
    await c.set('tally', 'count', 5);
    assert.equal(await c.get('tally', 'count'), 5);
    assert.equal(await c.proxy<{ ping(): string }>('$uplink').ping(), 'pong');
    await c.close();
  });

  it('carries identity, correlation id, client address and a gateway-scoped connection id to the host', async () => {
    const c = await connectTo(gw[0]!, 'carol');
    const answer = await c.call('who', 'whoami', [], { correlationId: 'trace-7' });
    assert.deepEqual(answer, { subject: 'carol', cid: 'trace-7', remote: '127.0.0.1' });
    const { connection } = await c.call('producer', 'where', []) as { connection: string };
    assert.equal(connection, `${gw[0]!.remote.id}/${c.session.connectionId}`);
    await c.close();
  });

  it('binary attachments cross NATS both ways as bytes', async () => {
    const c = await connectTo(gw[0]!);
    const bytes = new Uint8Array(300_000).map((_, i) => i & 0xff);
    const answer = await c.call('producer', 'checksum', [bytes]) as { length: number; sum: number; back: Uint8Array };
    assert.equal(answer.length, 300_000);
    assert.equal(answer.sum, bytes.reduce((s, b) => s + b, 0));
    assert.ok(answer.back instanceof Uint8Array);
    assert.deepEqual([...answer.back], [0, 1, 2, 3]);
    await c.close();
  });

  it('a batch runs its calls on the hosts: results, typed errors and stop-on-error as in one process', async () => {
    const c = await connectTo(gw[1]!);
    const results = await c.batch([
      { object: 'calc', method: 'add', args: [1, 2] },
      { object: 'calc', method: 'divide', args: [1, 0] },
      { object: 'tally', method: 'count', kind: 'get' },
    ], { stopOnError: false });
    assert.deepEqual(results[0], { ok: true, value: 3 });
    assert.ok(!results[1]!.ok && 'error' in results[1]! && results[1].error instanceof TestError);
    assert.deepEqual(results[2], { ok: true, value: 0 });
    const stopped = await c.batch([{ object: 'calc', method: 'divide', args: [1, 0] }, { object: 'calc', method: 'add', args: [1, 1] }], { stopOnError: true });
    assert.deepEqual(stopped[1], { ok: false, notRun: true });
    await c.close();
  });

  it('annotations travel both ways: the call\'s to the method on the host, the method\'s back with the result', async () => {
    const c = await connectTo(gw[1]!);
    let back: Readonly<Record<string, string>> | undefined;
    const seenThere = await c.call('producer', 'annotated', [], { annotations: { tenant: 'acme' }, onAnnotations: (a) => (back = a) });
    assert.deepEqual(seenThere, { tenant: 'acme' });
    assert.deepEqual(back, { 'answered-by': 'producer' });
    await c.close();
  });

  it('an object whose hosts are all gone is OBJECT_UNAVAILABLE at once; one no host ever served is unknown, as in one process', async () => {
    const solo = await cluster.addHost((h) => h.register(new Calculator(), { id: 'solo' }), 'host-solo');
    const c = await connectTo(gw[0]!);
    await eventually(async () => (await c.call('solo', 'add', [1, 2]).catch(() => 0)) === 3, { what: 'the solo host serving' });
    await solo.service.stop();
    const started = performance.now();
    assert.equal((await rejection(c.call('solo', 'add', [1, 2]))).code, ErrorCode.OBJECT_UNAVAILABLE);
    assert.ok(performance.now() - started < 1_000, 'not the whole deadline');
    const unknown = await rejection(c.call('nobody-serves-this', 'x', []));
    assert.deepEqual([unknown.code, unknown.message], [ErrorCode.UNKNOWN_OBJECT, "unknown object 'nobody-serves-this'"]);
    assert.equal(await c.call('calc', 'add', [1, 1]), 2, 'the connection goes on');
    await c.close();
  });

  it('a oneway call reaches a host', async () => {
    const c = await connectTo(gw[1]!);
    await c.call('tally', 'increment', []); // pins the session to a host: the oneway call goes there too
    c.oneway('tally', 'note', ['hello over NATS']);
    await eventually(async () => (await c.call('tally', 'notes', []) as string[]).includes('hello over NATS'), { what: 'the note on the host' });
    await c.close();
  });

  it('a cancelled call aborts the method\'s signal on the host', async () => {
    const c = await connectTo(gw[0]!);
    const before = { ...seen };
    const controller = new AbortController();
    const call = c.call('producer', 'waitForAbort', [], { signal: controller.signal });
    await eventually(() => seen.started > before.started, { what: 'the method running on a host' });
    await delay(150); // past the host's accept tick (real time on the host): the gateway knows which host runs it; nothing exposes that moment
    controller.abort();
    assert.equal((await rejection(call)).code, ErrorCode.CANCELLED);
    await eventually(() => seen.aborted > before.aborted, { what: 'the abort on the host' });
    await c.close();
  });

  it('a call that reaches a host after its deadline never starts there', async () => {
    const before = seen.started;
    const gateway = 'AAAAAAAAAAAAAAAAAAAAAA'; // a gateway id of the right shape; hosts answer only to `_U.<gateway>.<id>`
    const call = encodeCall({
      member: 'waitForAbort', kind: 'call', timeoutMs: 0, identity: undefined,
      context: { connection: `${gateway}/c0`, remoteAddress: '127.0.0.1', correlationId: 'late' },
    }, { text: '[]' });
    const inbox = gw[0]!.nc.subscribe(`_U.${gateway}.1`, { max: 1 });
    gw[0]!.nc.publish('uplink.call.producer', call, { reply: `_U.${gateway}.1` });
    const answer = await within((async () => { for await (const m of inbox) return m; throw new Error('no answer'); })(), 2_000, 'the answer');
    const { head, body } = decodeAnswer(answer.data);
    assert.equal(head.e, 'error');
    assert.equal(readErrorPayload(body, 16).code, ErrorCode.DEADLINE_EXCEEDED);
    await delay(100); // proves the method never starts late: absence cannot be polled
    assert.equal(seen.started, before, 'the method never ran');
  });
});

describe('streams through NATS', { skip }, () => {
  it('every item arrives once and in order, batched per NATS message', async () => {
    const c = await connectTo(gw[0]!);
    const got: number[] = [];
    for await (const n of c.stream<number>('producer', 'count', [5_000], { window: 500 })) got.push(n);
    assert.equal(got.length, 5_000);
    assert.ok(got.every((n, i) => n === i), 'in order, none twice');
    await c.close();
  });

  it('batches larger than one NATS message leave the host split; a result larger than one is LIMIT_EXCEEDED', async () => {
    const c = await connectTo(gw[0]!);
    const got: string[] = [];
    for await (const item of c.stream<string>('producer', 'big', [40, 65_300], { window: 16 })) got.push(item);
    assert.equal(got.length, 40);
    assert.ok(got.every((item, i) => item.length === 65_300 && item[0] === String(i % 10)), 'every item once, in order');
    const error = await rejection(c.call('producer', 'text', [1_045_000]));
    assert.equal(error.code, ErrorCode.LIMIT_EXCEEDED);
    assert.match(error.message, /larger than one NATS message/);
    await c.close();
  });

  it('credits run end to end: a consumer that stops reading pauses the generator on the host', async () => {
    const c = await connectTo(gw[1]!);
    const produced = seen.produced;
    const stream = c.stream<number>('producer', 'count', [1_000_000], { window: 20 });
    const iterator = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) await iterator.next();
    await delay(300); // proves the host stops at the window: absence cannot be polled
    const made = seen.produced - produced;
    assert.ok(made <= 20 + 2, `the host produced ${made} items for a window of 20`);
    const finallies = seen.finallies;
    await iterator.return!();
    await eventually(() => seen.finallies > finallies, { what: "the generator's finally on the host" });
    await c.close();
  });

  it('a client resumes through the other gateway: every item exactly once, in order', async () => {
    const token = await hsToken({}, { sub: 'dave' });
    const a = await RawSocket.open(gw[0]!.url, false);
    a.send(JSON.stringify({ t: 'hello', v: [1], token }));
    assert.equal((await a.next()).header.t, 'welcome');
    a.send('{"t":"stream","id":5,"o":"ticker","m":"watch","upTo":1000}\n["TK",20]');
    const seqs = (raw: RawSocket, id: number) => raw.frames.filter((f) => f.header.t === 'items' && f.header.id === id)
      .flatMap((f) => (JSON.parse(f.body.split('\n')[0]!) as Array<{ seq: number }>).map((t) => t.seq));
    await eventually(() => seqs(a, 5).length >= 5, { what: 'items through gateway A' });
    const key = a.frames.find((f) => f.header.t === 'stream-open')!.header.key as string;
    const open = gw[0]!.gateway.connectionCount;
    a.ws.terminate(); // the client loses gateway A
    const received = seqs(a, 5);
    await eventually(() => gw[0]!.gateway.connectionCount < open, { what: 'gateway A to see the client gone' });
    await resumeElsewhere(gw[1]!.url, token, key, received, seqs);
  });

  it('a stream of a host that vanishes fails HOST_LOST within the liveness bound', async () => {
    const extra = await cluster.addHost((h) => h.register(new Ticker(), { id: 'lonely' }), 'host-lonely');
    await eventually(() => gw[0]!.remote.hosts.live().some((h) => h.id === extra.service.id), { what: 'the gateway sees the new host' });
    const c = await connectTo(gw[0]!);
    const iterator = c.stream<unknown>('lonely', 'watch', ['X', 20])[Symbol.asyncIterator]();
    await iterator.next();
    const pending = c.call('producer', 'sleep', [1_500]);
    await extra.nc.close(); // no goodbye: like a killed process
    const started = performance.now();
    let error: { code?: string } | undefined;
    try {
      for (;;) if ((await iterator.next()).done) break;
    } catch (e) {
      error = e as { code?: string };
    }
    assert.equal(error?.code, ErrorCode.HOST_LOST);
    assert.ok(performance.now() - started < 3_000, 'within the liveness bound (3 beats of 200 ms here)');
    assert.equal(await pending, 'slept', 'calls on other hosts are not touched');
    await c.close();
  });
});

describe('the cluster', { skip }, () => {
  it('session objects stay on one host; when that host is gone, one HOST_LOST and a new session elsewhere', async () => {
    const c = await connectTo(gw[0]!);
    const counts: number[] = [];
    for (let i = 0; i < 8; i++) counts.push(await c.call('basket', 'add', [`item-${i}`]) as number);
    assert.deepEqual(counts, [1, 2, 3, 4, 5, 6, 7, 8], 'one instance on one host');
    const extra = await cluster.addHost((h) => h.register(Basket, { id: 'basket2' }), 'host-basket');
    const d = await connectTo(gw[1]!);
    assert.equal(await d.call('basket2', 'add', ['x']), 1);
    assert.equal(await d.call('basket2', 'add', ['y']), 2);
    await extra.nc.close();
    assert.equal((await rejection(d.call('basket2', 'add', ['z']))).code, ErrorCode.HOST_LOST);
    await c.close();
    await d.close();
  });

  it('$uplink lists and describes objects of every host, filtered by the caller\'s rights', async () => {
    const plain = await connectTo(gw[1]!, 'erin');
    const admin = await connectTo(gw[1]!, 'frank', { scope: 'admin' });
    type Builtin = { list(pattern?: string): string[]; metadata(id: string): { methods: string[] } };
    const listed = await plain.proxy<Builtin>('$uplink').list();
    assert.ok(listed.includes('calc') && listed.includes('basket') && listed.includes('$uplink'));
    assert.ok(!listed.includes('admin'), 'hidden without the admin scope');
    assert.ok((await admin.proxy<Builtin>('$uplink').list()).includes('admin'));
    assert.deepEqual((await plain.proxy<Builtin>('$uplink').list('cal*')), ['calc']);
    assert.ok((await plain.proxy<Builtin>('$uplink').metadata('calc')).methods.includes('add'));
    assert.equal((await rejection(plain.proxy<Builtin>('$uplink').metadata('admin'))).code, ErrorCode.UNKNOWN_OBJECT);
    await plain.close();
    await admin.close();
  });

  it('access rules are checked at the gateway before routing (declared scopes and roles), and again on the host', async () => {
    const plain = await connectTo(gw[0]!, 'gina');
    const admin = await connectTo(gw[0]!, 'hank', { scope: 'admin' });
    await eventually(() => gw[0]!.remote.hosts.accessOf('admin') !== undefined, { what: 'the declared rule in a beat' });
    const refused = await rejection(plain.call('admin', 'open', []));
    const missing = await rejection(plain.call('nothing-here', 'open', []));
    assert.deepEqual([refused.code, refused.message], [missing.code, missing.message.replace('nothing-here', 'admin')], 'like a missing object');
    const adminStats = async () => {
      const replies = await gw[0]!.nc.requestMany('$SRV.STATS.uplink-host', undefined, { strategy: 'stall', stall: 200, maxWait: 2_000 });
      let requests = 0;
      for await (const msg of replies) for (const e of msg.json<{ endpoints: Array<{ subject: string; num_requests: number }> }>().endpoints) if (e.subject === 'uplink.call.admin') requests += e.num_requests;
      return requests;
    };
    assert.equal(await adminStats(), 0, 'the refused call never reached a host');
    assert.equal(await admin.call('admin', 'open', []), 'admin only');
    assert.equal(await adminStats(), 1);
    await plain.close();
    await admin.close();
  });

  it('hosts answer NATS service discovery ($SRV), so standard tooling lists them', async () => {
    const replies = await gw[0]!.nc.requestMany('$SRV.INFO.uplink-host', undefined, { strategy: 'stall', stall: 200, maxWait: 2_000 });
    const infos: Array<{ type: string; id: string; endpoints: Array<{ subject: string; queue_group: string }> }> = [];
    for await (const msg of replies) infos.push(msg.json());
    const ids = new Set(infos.map((i) => i.id));
    assert.ok(hosts.every((h) => ids.has(h.service.id)), 'both hosts answer');
    assert.equal(infos[0]!.type, 'io.nats.micro.v1.info_response');
    assert.ok(infos[0]!.endpoints.some((e) => e.subject === 'uplink.call.calc' && e.queue_group === 'uplink'));
  });

  it('a revocation on one gateway closes the subject\'s connections on every gateway within a second', async () => {
    const victim = await connectTo(gw[1]!, 'mallory');
    const bystander = await connectTo(gw[1]!, 'bob');
    const started = performance.now();
    gw[0]!.gateway.revoke({ subject: 'mallory' });
    const closed = await victim.whenClosed;
    assert.equal(closed.code, 4409);
    assert.ok(performance.now() - started < 1_000);
    assert.equal(await bystander.call('calc', 'add', [2, 2]), 4);
    await bystander.close();
  });
});
