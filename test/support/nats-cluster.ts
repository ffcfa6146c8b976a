/**
 * A small cluster in the test's process: one real nats-server, object hosts and gateways each on
 * their own NATS connection (they reach each other only through NATS). Heartbeats are fast so that
 * liveness tests take a second, not three.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { type Gateway, type GatewayOptions } from '../../src/index.js';
import { LocalObjectHost } from '../../src/host/local-host.js';
import { NatsHostService, NatsObjectHost } from '../../src/nats/index.js';
import { Codec } from '../../src/protocol/codec.js';
import { startGateway } from './gateway.js';
import { TestError } from './fixtures.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

export const FAST_BEAT_MS = 200;

export interface ClusterHost { host: LocalObjectHost; service: NatsHostService; nc: NatsConnection; failures: unknown[] }
export interface ClusterGateway { gateway: Gateway; url: string; remote: NatsObjectHost; nc: NatsConnection }

export function objectHost(failures: unknown[] = [], lingerMs = 30_000, callbackTimeoutMs = 30_000): LocalObjectHost {
  const codec = new Codec();
  codec.registerError(TestError, 'TestError');
  return new LocalObjectHost({
    codec, maxArgs: 64, maxResultBytes: 1 << 20, onError: (error) => failures.push(error), references: { maxRefs: 1_024, callbackTimeoutMs },
    streamLimits: { lifetimeMs: 0, idleMs: 0, lingerMs, maxUnacked: 1000, maxBatch: 64, frameBytes: 16_384, maxFrameBytes: 1 << 20, maxReplayBytes: 1 << 20 },
  });
}

export class TestCluster {
  readonly hosts: ClusterHost[] = [];
  readonly gateways: ClusterGateway[] = [];
  private readonly connections: NatsConnection[] = [];

  private constructor(readonly server: NatsServer) {}

  static async start(): Promise<TestCluster> {
    return new TestCluster(await startNatsServer());
  }

  /** Hosts and gateways on a nats-server the test runs itself (stop() leaves it running). */
  static attach(server: NatsServer): TestCluster {
    const cluster = new TestCluster(server);
    cluster.ownsServer = false;
    return cluster;
  }

  private ownsServer = true;

  async connect(name: string): Promise<NatsConnection> {
    const nc = await natsConnect({ servers: this.server.url, name, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    this.connections.push(nc);
    return nc;
  }

  /** A host whose objects `register` puts in place, served on NATS. */
  async addHost(register: (host: LocalObjectHost) => void, name = `host-${this.hosts.length}`, callbackTimeoutMs?: number): Promise<ClusterHost> {
    const failures: unknown[] = [];
    const host = objectHost(failures, 30_000, callbackTimeoutMs);
    register(host);
    const nc = await this.connect(name);
    const service = new NatsHostService(nc, host, { name, heartbeatMs: FAST_BEAT_MS });
    service.serve();
    await nc.flush();
    const member = { host, service, nc, failures };
    this.hosts.push(member);
    return member;
  }

  async addGateway(options: GatewayOptions = {}): Promise<ClusterGateway> {
    const nc = await this.connect(`gateway-${this.gateways.length}`);
    const remote = new NatsObjectHost(nc, { heartbeatMs: FAST_BEAT_MS });
    const { gateway, url } = await startGateway({ remoteObjects: remote, ...options }, false);
    gateway.codec.registerError(TestError, 'TestError');
    const member = { gateway, url, remote, nc };
    this.gateways.push(member);
    return member;
  }

  async stop(): Promise<void> {
    for (const g of this.gateways) await g.gateway.close({ drainMs: 0 });
    for (const h of this.hosts) await h.service.stop().catch(() => {});
    for (const nc of this.connections) await nc.close().catch(() => {});
    if (this.ownsServer) await this.server.stop();
  }
}
