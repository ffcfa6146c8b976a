/**
 * The drill's cluster, every member its own process started the way an operator would: nats-server
 * on docs/nats-server.conf with passwords generated for this run, gateways as `uplink serve`, hosts
 * as `uplink host test/drill/objects.ts`, each with only its own NATS user. Heartbeats keep their
 * default (UPLINK_NATS_HEARTBEAT_MS unset: 1000 ms) unless DRILL_HEARTBEAT_MS says otherwise.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintDevToken } from '../../src/auth/dev-tokens.js';
import { connect, type NodeClientOptions } from '../../src/client/index.js';
import type { UplinkClient } from '../../src/client/client.js';
import { NATS_SERVER } from '../support/nats-server.js';
import { Ledger } from './ledger.js';
import { jsonLine, spawnTracked, startChild, type Child } from './processes.js';

const CLI = new URL('../../src/cli/uplink.ts', import.meta.url).pathname;
const CONFIG = new URL('../../docs/nats-server.conf', import.meta.url).pathname;
const OBJECTS = new URL('./objects.ts', import.meta.url).pathname;
const NO_OBJECTS = new URL('../support/cluster-gateway.ts', import.meta.url).pathname;
// A letter first: nats-server reads an unquoted value that starts with a digit as a number.
const secret = () => `p${randomBytes(24).toString('hex')}`;

/** An Ed25519 pair in PEM files under `dir` (UPLINK_CLUSTER_SIGNING_KEY / UPLINK_CLUSTER_VERIFY_KEY). */
function clusterKeys(dir: string): { signing: string; verify: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signing = join(dir, 'cluster.key');
  const verify = join(dir, 'cluster.pub');
  writeFileSync(signing, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(verify, publicKey.export({ type: 'spki', format: 'pem' }));
  return { signing, verify };
}

export type NatsUser = 'gateway' | 'host' | 'ops';
export interface Gateway extends Child { url: string }

export class DrillCluster {
  readonly passwords: Record<NatsUser, string> = { gateway: secret(), host: secret(), ops: secret() };
  readonly jwtSecret = randomBytes(32).toString('hex');
  readonly ledger = new Ledger(mkdtempSync(join(tmpdir(), 'uplink-drill-')));
  readonly heartbeatMs = Number(process.env.DRILL_HEARTBEAT_MS) || 1_000;
  /** Cluster keys, as an operator deploys them: gateways sign identities, hosts verify them. */
  readonly keys = clusterKeys(this.ledger.dir);
  nats!: Child;
  port = -1;
  readonly gateways: Gateway[] = [];
  readonly hosts: Child[] = [];
  private readonly clients: UplinkClient[] = [];

  /** nats-server on the same port every time (a restart keeps the address the members reconnect to). */
  async startNats(): Promise<Child> {
    const env = {
      ...process.env, UPLINK_NATS_GATEWAY_PASSWORD: this.passwords.gateway, UPLINK_NATS_HOST_PASSWORD: this.passwords.host, UPLINK_NATS_OPS_PASSWORD: this.passwords.ops,
    };
    this.nats = await startChild('nats-server', NATS_SERVER, ['-c', CONFIG, '-a', '127.0.0.1', '-p', String(this.port)], env, (line) => {
      const port = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(line)?.[1];
      return port ? { port: Number(port) } : undefined;
    }, 5_000);
    this.port = this.nats.ready.port as number;
    return this.nats;
  }

  /** The UPLINK_NATS_* variables of one NATS user. */
  natsEnv(user: NatsUser): Record<string, string> {
    return {
      UPLINK_NATS_URL: `nats://127.0.0.1:${this.port}`, UPLINK_NATS_USER: `uplink-${user}`, UPLINK_NATS_PASS: this.passwords[user],
      ...(process.env.DRILL_HEARTBEAT_MS ? { UPLINK_NATS_HEARTBEAT_MS: process.env.DRILL_HEARTBEAT_MS } : {}),
    };
  }

  private uplink(name: string, command: 'serve' | 'host', module: string, env: Record<string, string>): Promise<Child> {
    const base = { ...process.env, UPLINK_LOG_LEVEL: 'info', UPLINK_PORT: '0', UPLINK_STREAM_LINGER_MS: '30000', UPLINK_NATS_HEARTBEAT_MS: '' };
    return startChild(name, process.execPath, ['--import', 'tsx', CLI, command, module], { ...base, ...env },
      (line) => jsonLine(line, command === 'serve' ? 'serving' : 'object host serving'));
  }

  async addGateway(name: string): Promise<Gateway> {
    const child = await this.uplink(name, 'serve', NO_OBJECTS, { ...this.natsEnv('gateway'), UPLINK_JWT_SECRET: this.jwtSecret, UPLINK_ADMIN_SCOPE: 'admin', UPLINK_CLUSTER_SIGNING_KEY: this.keys.signing });
    const gateway = Object.assign(child, { url: String(child.ready.url) });
    this.gateways.push(gateway);
    return gateway;
  }

  async addHost(name: string): Promise<Child> {
    const host = await this.uplink(name, 'host', OBJECTS, { ...this.natsEnv('host'), UPLINK_HOST_NAME: name, UPLINK_DRILL_LEDGER: this.ledger.dir, UPLINK_CLUSTER_VERIFY_KEY: this.keys.verify });
    this.hosts.push(host);
    return host;
  }

  /** Kills a member with SIGKILL and forgets it. */
  async kill(member: Child): Promise<void> {
    await member.kill('SIGKILL');
    for (const list of [this.gateways, this.hosts] as Child[][]) {
      const i = list.indexOf(member);
      if (i >= 0) list.splice(i, 1);
    }
  }

  /** A client of `sub` (scope `admin` when asked), closed with the cluster. */
  async client(urls: string | string[], sub: string, options: NodeClientOptions & { admin?: boolean } = {}): Promise<UplinkClient> {
    const token = await mintDevToken(this.jwtSecret, { sub, ttlSec: 600, ...(options.admin ? { scope: 'admin' } : {}) });
    const c = await connect(urls, { reconnect: false, ...options, token });
    this.clients.push(c);
    return c;
  }

  /** Runs the real `uplink revoke` with the ops user; resolves with its exit code and how long it ran. */
  async cliRevoke(subject: string): Promise<{ code: number | null; ms: number; stderr: string }> {
    const t0 = performance.now();
    const child = spawnTracked(process.execPath, ['--import', 'tsx', CLI, 'revoke', subject], { env: { ...process.env, ...this.natsEnv('ops') }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    return { code, ms: performance.now() - t0, stderr };
  }

  async closeClients(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close().catch(() => {})));
  }
}
