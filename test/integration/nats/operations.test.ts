/**
 * Operations of a cluster: an `uplink host` process serves Prometheus metrics of the calls it runs
 * and its own /health and /ready; a gateway's /ready turns 503 when it loses NATS and 200 again
 * when NATS is back. Real processes and a real nats-server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { client } from '../../support/gateway.js';
import { parseScrape } from '../../support/prometheus.js';
import { eventually } from '../../support/eventually.js';
import { natsUnavailable, startNatsServer, type NatsServer } from '../../support/nats-server.js';
import { startUplink, type UplinkProcess } from '../../support/processes.js';
import { TestCluster } from '../../support/nats-cluster.js';

const skip = natsUnavailable();
const OBJECTS = new URL('../../support/cluster-objects.ts', import.meta.url).pathname;

describe('cluster operations', { skip }, () => {
  let nats: NatsServer;
  let host: UplinkProcess;
  before(async () => {
    nats = await startNatsServer();
    host = await startUplink('host', OBJECTS, { UPLINK_NATS_URL: nats.url, UPLINK_HOST_NAME: 'metered', UPLINK_METRICS_PORT: '0', UPLINK_NATS_HEARTBEAT_MS: '200' });
  });
  after(async () => {
    host?.signal('SIGKILL');
    await nats?.stop();
  });

  it('an object host serves metrics of the calls it runs, and its own probes', async () => {
    const port = host.ready.metricsPort as number;
    assert.ok(Number.isInteger(port) && port > 0, 'the host logs its metrics port');
    const cluster = await TestCluster.attach(nats);
    try {
      const gateway = await cluster.addGateway();
      await eventually(() => gateway.remote.hosts.live().length === 1, { what: 'the gateway sees the host' });
      const c = await client(gateway.url);
      for (let i = 0; i < 3; i++) assert.equal(await c.call('anywhere', 'where', []), 'metered');
      await c.close();
      const samples = parseScrape(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const calls = samples.find((s) => s.name === 'uplink_calls_total' && s.labels.object === 'anywhere' && s.labels.member === 'where' && s.labels.code === 'OK');
      assert.equal(calls?.value, 3);
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/ready`)).json(), { status: 'ready' });
      const gauge = (name: string) => samples.find((s) => s.name === name)?.value;
      assert.equal(gauge('uplink_nats_connected'), 1);
      assert.equal(gauge('uplink_cluster_gateways'), 1, 'the gateway, heard from');
    } finally {
      await cluster.stop();
    }
  });

  it('a gateway and a host that lose NATS are not ready until NATS is back (#26 item 6)', async () => {
    const cluster = await TestCluster.attach(nats);
    try {
      const gateway = await cluster.addGateway();
      const ready = () => fetch(`http://127.0.0.1:${gateway.gateway.port}/ready`);
      const hostReady = () => fetch(`http://127.0.0.1:${host.ready.metricsPort as number}/ready`);
      assert.equal((await ready()).status, 200);
      assert.equal((await hostReady()).status, 200);
      const port = Number(/:(\d+)$/.exec(nats.url)![1]);
      await nats.stop();
      await eventually(async () => (await ready()).status === 503, { timeoutMs: 5_000, what: 'not ready without NATS' });
      assert.deepEqual((await (await ready()).json() as { reasons: string[] }).reasons, ['NATS disconnected']);
      await eventually(async () => (await hostReady()).status === 503, { timeoutMs: 5_000, what: 'the host not ready without NATS' });
      nats = await startNatsServer({ port });
      await eventually(async () => (await ready()).status === 200, { timeoutMs: 10_000, what: 'ready again' });
      await eventually(async () => (await hostReady()).status === 200, { timeoutMs: 10_000, what: 'the host ready again' });
    } finally {
      await cluster.stop();
    }
  });
});
