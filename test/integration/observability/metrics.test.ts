/**
 * Prometheus metrics scraped from a real gateway and parsed: calls by object, member and code with
 * their latency histogram, bounded labels under hostile names, connections, handshakes, streams,
 * credit stalls, bytes, rate limits, revocations, key-source fetches, callbacks; the metrics listener
 * and the token-guarded route on the public port; the liveness and readiness probes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callback } from '../../../src/client/index.js';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { expose, type ClientCallback, type Gateway } from '../../../src/index.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { client, RawSocket, rejection, startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { hsToken, JwksServer, keyPair, refused, SECRET } from '../../support/tokens.js';
import { parseScrape, type Sample } from '../../support/prometheus.js';

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

class Jobs {
  @expose async ping(fn: ClientCallback<() => number>): Promise<number> {
    return fn();
  }
}

describe('metrics', () => {
  let gateway: Gateway;
  let url: string;
  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    return parseScrape(await response.text());
  };
  before(async () => {
    ({ gateway, url } = await startGateway({
      authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
      metrics: { port: 0 },
    }));
    gateway.register(new Jobs(), 'jobs');
  });
  after(() => gateway.close({ drainMs: 0 }));

  it('counts calls by object, member and code, with a latency histogram; hostile names stay one label', async () => {
    const c = await client(url, { token: await hsToken({}, { sub: 'alice' }) });
    assert.equal(await c.call('calc', 'add', [1, 2]), 3);
    assert.equal(await c.call('calc', 'add', [2, 2]), 4);
    await rejection(c.call('calc', 'divide', [1, 0]));
    for (const name of ['x1', 'x2', 'x3']) await rejection(c.call(name, 'add', []));
    for (const name of ['nope1', 'nope2']) await rejection(c.call('calc', name, []));
    const samples = await scrape();
    assert.equal(value(samples, 'uplink_calls_total', { object: 'calc', member: 'add', code: 'OK' }), 2);
    assert.equal(value(samples, 'uplink_calls_total', { object: 'calc', member: 'divide', code: 'APPLICATION_ERROR' }), 1);
    assert.equal(value(samples, 'uplink_calls_total', { object: 'other', member: 'other', code: 'UNKNOWN_OBJECT' }), 3);
    assert.equal(value(samples, 'uplink_calls_total', { object: 'calc', member: 'other', code: 'UNKNOWN_MEMBER' }), 2);
    const labelValues = samples.filter((s) => s.name === 'uplink_calls_total').flatMap((s) => [s.labels.object, s.labels.member]);
    for (const hostile of ['x1', 'x2', 'x3', 'nope1', 'nope2']) assert.ok(!labelValues.includes(hostile), `${hostile} became a label`);
    assert.equal(value(samples, 'uplink_call_duration_seconds_count', { object: 'calc', member: 'add' }), 2);
    assert.equal(value(samples, 'uplink_call_duration_seconds_bucket', { object: 'calc', member: 'add', le: '+Inf' }), 2);
    assert.ok(value(samples, 'uplink_call_duration_seconds_bucket', { object: 'calc', member: 'add', le: '10' }) === 2, 'buckets are cumulative');
    const seconds = value(samples, 'uplink_call_duration_seconds_sum', { object: 'calc', member: 'add' });
    // Measured from each call's admission: from the process start they would add up to twice its age.
    assert.ok(seconds > 0 && seconds < performance.now() / 1000 / 2, `two add calls took ${seconds} s`);
    assert.equal(value(samples, 'uplink_calls_inflight'), 0);
    assert.ok(value(samples, 'uplink_received_bytes_total') > 100 && value(samples, 'uplink_sent_bytes_total') > 100);
    assert.ok(value(samples, 'process_cpu_user_seconds_total') > 0, 'the default process metrics are there');
    await c.close();
  });

  it('counts connections, handshakes by result and reason, and closes by code', async () => {
    const before = await scrape();
    const c = await client(url, { token: await hsToken({}, { sub: 'bob' }) });
    await c.close();
    await refused(url, 'not-a-token');
    await eventually(async () => value(await scrape(), 'uplink_connections_closed_total', { code: '1000' }) > value(before, 'uplink_connections_closed_total', { code: '1000' }), { what: 'the close to be counted' });
    const after = await scrape();
    assert.equal(value(after, 'uplink_connections_opened_total') - value(before, 'uplink_connections_opened_total'), 2);
    assert.equal(value(after, 'uplink_handshakes_total', { result: 'ok', reason: 'hello' }) - value(before, 'uplink_handshakes_total', { result: 'ok', reason: 'hello' }), 1);
    assert.equal(value(after, 'uplink_handshakes_total', { result: 'refused', reason: 'UNAUTHENTICATED' }) - value(before, 'uplink_handshakes_total', { result: 'refused', reason: 'UNAUTHENTICATED' }), 1);
    await eventually(async () => value(await scrape(), 'uplink_connections_open') === 0, { what: 'no connection left open' });
  });

  it('counts stream items, credit stalls, callbacks, rate-limit refusals and revocations', async () => {
    const c = await client(url, { token: await hsToken({}, { sub: 'carol' }) });
    const items: number[] = [];
    for await (const n of c.stream<number>('numbers', 'range', [40], { window: 4 })) {
      items.push(n);
      await nextTurn(); // slower than the producer (a macrotask per item): it runs out of credit
    }
    assert.equal(await c.call('jobs', 'ping', [callback(() => 7)]), 7);
    const dave = await client(url, { token: await hsToken({}, { sub: 'dave' }) });
    assert.equal(gateway.revoke({ subject: 'dave' }), 1);
    const samples = await scrape();
    assert.ok(value(samples, 'uplink_stream_items_total') >= 40);
    assert.ok(value(samples, 'uplink_stream_credit_stalls_total') >= 1, 'a consumer slower than its window stalls the producer');
    assert.equal(value(samples, 'uplink_callbacks_total', { code: 'OK' }), 1);
    assert.equal(value(samples, 'uplink_revocations_total'), 1);
    await dave.close();
    await c.close();
  });

  it('counts rate-limit refusals', async () => {
    const g = await startGateway({ metrics: { port: 0 }, maxMessagesPerSec: 20 });
    try {
      const raw = await RawSocket.open(g.url);
      for (let i = 0; i < 30; i++) raw.send(`{"t":"ping","id":${i}}`);
      const limited = async () => value(parseScrape(await (await fetch(`http://127.0.0.1:${g.gateway.metricsPort}/metrics`)).text()), 'uplink_rate_limited_total', { kind: 'message' });
      await eventually(async () => (await limited()) >= 5, { what: 'five refusals counted' });
      raw.close();
    } finally {
      await g.gateway.close({ drainMs: 0 });
    }
  });

  it('counts JWKS fetches and their failures', async () => {
    const jwks = await JwksServer.start();
    const keys = await keyPair('k1');
    jwks.keys = [keys.jwk];
    const g = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['ES256'], jwksUrl: jwks.url }), metrics: { port: 0 } });
    try {
      const c = await client(g.url, { token: await keys.sign() });
      await c.close();
      const response = await fetch(`http://127.0.0.1:${g.gateway.metricsPort}/metrics`);
      const samples = parseScrape(await response.text());
      assert.ok(value(samples, 'uplink_key_source_fetches_total', { result: 'ok' }) >= 1);
    } finally {
      await g.gateway.close({ drainMs: 0 });
      await jwks.close();
    }
  });

  it('on the public port, /metrics answers only the metrics token', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const g = await startGateway({ metrics: { token } });
    try {
      const base = `http://127.0.0.1:${g.gateway.port}/metrics`;
      assert.equal((await fetch(base)).status, 401);
      assert.equal((await fetch(base, { headers: { authorization: 'Bearer wrong-token-0123456789abcdef' } })).status, 401);
      const ok = await fetch(base, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.ok(parseScrape(await ok.text()).some((s) => s.name === 'uplink_connections_open'));
      assert.equal(g.gateway.metricsPort, undefined, 'no listener of its own');
    } finally {
      await g.gateway.close({ drainMs: 0 });
    }
  });
});

describe('probes', () => {
  it('/health stays 200 while the process serves; /ready is 503 while draining', async () => {
    const { gateway, url } = await startGateway({});
    const c = await client(url);
    const base = `http://127.0.0.1:${gateway.port}`;
    assert.equal((await fetch(`${base}/ready`)).status, 200);
    assert.deepEqual(await (await fetch(`${base}/ready`)).json(), { status: 'ready', reasons: [] });
    const closing = gateway.close({ drainMs: 500 }); // the client keeps a call running: the gateway drains
    const pending = c.call('echo', 'slow', [300]).catch(() => undefined);
    assert.deepEqual(gateway.ready(), { status: 'not ready', reasons: ['draining'] });
    assert.equal(gateway.health().status, 'ok');
    await pending;
    await closing;
    await c.close();
  });
});
