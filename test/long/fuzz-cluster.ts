/**
 * The fuzzing cluster: a real nats-server on docs/nats-server.conf (its users, permissions and
 * max_payload; passwords from the environment), one `uplink host` process serving the fixtures, and
 * two `uplink serve` gateways with no objects of their own: gateway A is fuzzed (WebSocket frames,
 * forged inbox messages), gateway B serves only the honest client, so that a message any trusted role
 * may legitimately send to A's inbox cannot be mistaken for a fault there. Ids are learned the way an
 * insider would: from the beats on `uplink.evt.host.*` and `uplink.evt.gw.*`.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { Child } from './child.js';

export const PASSWORDS = { UPLINK_NATS_GATEWAY_PASSWORD: 'fuzz-gateway', UPLINK_NATS_HOST_PASSWORD: 'fuzz-host', UPLINK_NATS_OPS_PASSWORD: 'fuzz-ops' };
export type Role = 'gateway' | 'host' | 'ops';
export const BEAT_MS = 300;
const CONFIG = new URL('../../docs/nats-server.conf', import.meta.url).pathname;
const OBJECTS = new URL('./fuzz-objects.ts', import.meta.url).pathname;
const NO_OBJECTS = new URL('../support/cluster-gateway.ts', import.meta.url).pathname;

export class FuzzCluster {
  host!: Child;
  gatewayA!: Child;
  gatewayB!: Child;
  hostId = '';
  gatewayAId = '';
  gatewayBId = '';
  private readonly gatewaysSeen = new Set<string>();
  restarts = 0;
  /** Warnings and error-level log lines of every process so far (restarted ones included), by process role. */
  private readonly history = new Map<string, Map<string, number>>();

  private constructor(readonly server: NatsServer, private readonly observer: NatsConnection, private readonly secret: string) {}

  static async start(secret: string): Promise<FuzzCluster> {
    const server = await startNatsServer({ config: CONFIG, env: PASSWORDS });
    // Gateways beat on uplink.evt.gw.<id>, which the host user may read.
    const observer = await connect({ servers: server.url, user: 'uplink-host', pass: PASSWORDS.UPLINK_NATS_HOST_PASSWORD, name: 'fuzz-observer' });
    const cluster = new FuzzCluster(server, observer, secret);
    observer.subscribe('uplink.evt.gw.*', { callback: (error, msg) => { if (!error) cluster.gatewaysSeen.add(msg.subject.slice('uplink.evt.gw.'.length)); } });
    await cluster.startProcesses();
    return cluster;
  }

  get natsUrl(): string {
    return this.server.url;
  }

  get urlA(): string {
    return this.gatewayA.ready.url as string;
  }

  get urlB(): string {
    return this.gatewayB.ready.url as string;
  }

  get children(): Child[] {
    return [this.host, this.gatewayA, this.gatewayB];
  }

  /** A NATS connection as one of the three users of docs/nats-server.conf. */
  connectAs(role: Role, name: string): Promise<NatsConnection> {
    return connect({ servers: this.server.url, user: `uplink-${role}`, pass: PASSWORDS[`UPLINK_NATS_${role.toUpperCase() as 'GATEWAY' | 'HOST' | 'OPS'}_PASSWORD`], name, maxReconnectAttempts: -1 });
  }

  /** Every fault the processes show now (exits, stray output). */
  faults(): string[] {
    return this.children.map((c) => c.fault()).filter((f): f is string => f !== undefined);
  }

  /** Fresh processes (after a fault): the nats-server stays. */
  async restart(): Promise<void> {
    this.restarts++;
    await Promise.all(this.children.map((c) => c.stop()));
    this.remember();
    await this.startProcesses();
  }

  /** Node warnings and error-level log lines of all processes, restarted ones included. */
  logReport(): Record<string, Record<string, number>> {
    this.remember();
    return Object.fromEntries([...this.history].map(([name, counts]) => [name, Object.fromEntries(counts)]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
    await this.observer.close();
    await this.server.stop();
  }

  /** Moves the current processes' counts into the history (each process's counts are moved once). */
  private remember(): void {
    for (const c of this.children) {
      const counts = this.history.get(c.name) ?? new Map<string, number>();
      this.history.set(c.name, counts);
      for (const [k, n] of [...c.warnings, ...[...c.errorCounts].map(([m, n]): [string, number] => [`error log: ${m}`, n])]) counts.set(k, (counts.get(k) ?? 0) + n);
      c.warnings.clear();
      c.errorCounts.clear();
    }
  }

  private env(role: Role): Record<string, string> {
    return {
      UPLINK_NATS_URL: `nats://${this.server.url}`, UPLINK_NATS_USER: `uplink-${role}`,
      UPLINK_NATS_PASS: PASSWORDS[`UPLINK_NATS_${role.toUpperCase() as 'GATEWAY' | 'HOST'}_PASSWORD`],
      UPLINK_NATS_HEARTBEAT_MS: String(BEAT_MS), UPLINK_JWT_SECRET: this.secret,
      UPLINK_CALLBACK_TIMEOUT_MS: '1000', UPLINK_MAX_INFLIGHT: '256', UPLINK_MAX_ONEWAY_INFLIGHT: '4', UPLINK_STREAM_LINGER_MS: '3000',
    };
  }

  private async startProcesses(): Promise<void> {
    this.host = await Child.start('host', 'host', OBJECTS, { ...this.env('host'), UPLINK_HOST_NAME: 'fuzz-host' });
    this.hostId = this.host.ready.host as string;
    this.gatewayB = await Child.start('gateway B (honest)', 'serve', NO_OBJECTS, this.env('gateway'));
    this.gatewayBId = await this.newGateway();
    this.gatewayA = await Child.start('gateway A (fuzzed)', 'serve', NO_OBJECTS, this.env('gateway'));
    this.gatewayAId = await this.newGateway();
  }

  /** The id of the gateway that starts beating next. */
  private async newGateway(): Promise<string> {
    const known = new Set([this.gatewayAId, this.gatewayBId, ...this.gatewaysSeen]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const id = [...this.gatewaysSeen].find((g) => !known.has(g));
      if (id) return id;
      if (Date.now() > deadline) throw new Error('a gateway never beat on uplink.evt.gw.*');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
