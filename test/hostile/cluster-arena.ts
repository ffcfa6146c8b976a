/**
 * The arena of catalogue L (the cluster under attack): a real nats-server on docs/nats-server.conf as
 * it is (users, passwords, permissions), an object host and a gateway in this process, each on its
 * own NATS connection made as `uplink host` / `uplink serve` make theirs (src/nats/connect.ts) with its
 * own NATS user (`uplink-host`, `uplink-gateway`), real HS256 JWTs, and the gateway's Prometheus scrape.
 * Attackers get plain nats.js connections (`as`) or raw TCP ones (`raw`) holding any role's credential. Every test gets a fresh gateway and host (an attack that blinds one
 * must not fail the next test) beside an honest client.
 *
 * A crash must show: the arena counts uncaught exceptions and unhandled rejections in this process,
 * and the lines nats.js prints when a subscription callback throws (`reader closed`: that NATS
 * connection stops reading for good, a silent deafness rather than an exit). After every test the
 * honest client must get correct answers and a complete stream through the same gateway, a fresh
 * client must be served, none of those counters may have moved, and no built-in prototype changed.
 */
import { generateKeyPairSync } from 'node:crypto';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, before, after, beforeEach } from 'node:test';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import type { UplinkClient } from '../../src/client/index.js';
import type { Gateway, GatewayOptions } from '../../src/index.js';
import type { LocalObjectHost } from '../../src/host/local-host.js';
import { NatsHostService, NatsObjectHost } from '../../src/nats/index.js';
import { connectFromEnv } from '../../src/nats/connect.js';
import type { NatsHostOptions } from '../../src/nats/host-service.js';
import { client, startGateway } from '../support/gateway.js';
import { assertPrototypesClean } from '../support/prototypes.js';
import { Calculator, Echo, Numbers, Relay, TestError } from '../support/fixtures.js';
import { objectHost } from '../support/nats-cluster.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { parseScrape, type Sample } from '../support/prometheus.js';
import { hsToken, SECRET } from '../support/tokens.js';
import { eventually } from '../support/eventually.js';

export const PASSWORDS = { UPLINK_NATS_GATEWAY_PASSWORD: 'gateway-secret', UPLINK_NATS_HOST_PASSWORD: 'host-secret', UPLINK_NATS_OPS_PASSWORD: 'ops-secret' };
export type Role = 'gateway' | 'host' | 'ops';
export const BEAT_MS = 200;
const CONFIG = new URL('../../docs/nats-server.conf', import.meta.url).pathname;

export const password = (role: Role): string => PASSWORDS[`UPLINK_NATS_${role.toUpperCase() as 'GATEWAY' | 'HOST' | 'OPS'}_PASSWORD`];

/** The nats-server of docs/nats-server.conf, unchanged. */
export function startSecuredNats(): Promise<NatsServer> {
  assert.match(readFileSync(CONFIG, 'utf8'), /max_payload: 1MB/);
  return startNatsServer({ config: CONFIG, env: PASSWORDS });
}

/**
 * What would take a process down, counted: uncaught exceptions, unhandled rejections, and nats.js's
 * `reader closed` (a subscription callback threw: that connection reads nothing more).
 */
export class CrashWatch {
  readonly uncaught: unknown[] = [];
  readonly rejections: unknown[] = [];
  readonly readerClosed: unknown[] = [];
  private readonly log = console.log;
  private readonly onUncaught = (error: unknown) => void this.uncaught.push(error);
  private readonly onRejection = (error: unknown) => void this.rejections.push(error);

  install(): void {
    process.on('uncaughtException', this.onUncaught);
    process.on('unhandledRejection', this.onRejection);
    const log = this.log;
    console.log = (...args: unknown[]) => {
      if (args[0] === 'reader closed') this.readerClosed.push(args[1]);
      log.apply(console, args);
    };
  }

  uninstall(): void {
    process.off('uncaughtException', this.onUncaught);
    process.off('unhandledRejection', this.onRejection);
    console.log = this.log;
  }

  count(): { uncaught: number; rejections: number; readerClosed: number } {
    return { uncaught: this.uncaught.length, rejections: this.rejections.length, readerClosed: this.readerClosed.length };
  }

  /** What happened since `since`, as text for an assertion message. */
  since(since: ReturnType<CrashWatch['count']>, frames = 3): string {
    const text = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 1 + frames).join('\n') : String(e));
    const show = (list: unknown[], from: number) => list.slice(from).map(text).join('\n---\n');
    return [
      show(this.uncaught, since.uncaught) && `uncaught exceptions:\n${show(this.uncaught, since.uncaught)}`,
      show(this.rejections, since.rejections) && `unhandled rejections:\n${show(this.rejections, since.rejections)}`,
      show(this.readerClosed, since.readerClosed) && `nats.js reader closed (a NATS connection stopped reading):\n${show(this.readerClosed, since.readerClosed)}`,
    ].filter(Boolean).join('\n');
  }
}

/**
 * A member's NATS connection (host or gateway) made the way `uplink host` and `uplink serve` make it
 * (src/nats/connect.ts, from UPLINK_NATS_* variables), as the role's user.
 */
/** The arena's cluster keys: its gateway signs with the private key. */
export const CLUSTER_KEYS = generateKeyPairSync('ed25519');

export async function memberConnection(server: NatsServer, role: 'gateway' | 'host', name: string): Promise<NatsConnection> {
  const nc = await connectFromEnv({ UPLINK_NATS_URL: `nats://${server.url}`, UPLINK_NATS_USER: `uplink-${role}`, UPLINK_NATS_PASS: password(role) }, name);
  assert.ok(nc, 'UPLINK_NATS_URL is set');
  return nc;
}

/** A plain NATS client logged in as one of the roles of docs/nats-server.conf (an attacker holding that credential). */
export async function asRole(server: NatsServer, role: Role, name = `rogue-${role}`): Promise<NatsConnection> {
  return natsConnect({ servers: server.url, user: `uplink-${role}`, pass: password(role), name, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
}

/**
 * A NATS client over raw TCP, for messages nats.js refuses to build (header blocks with invalid
 * names, bytes that are not UTF-8). Logged in as a role; `-ERR` lines are kept.
 */
export class RawNats {
  readonly errors: string[] = [];
  private constructor(private readonly socket: Socket) {}

  static async open(server: NatsServer, role: Role): Promise<RawNats> {
    const [host, port] = server.url.split(':');
    const socket = tcpConnect(Number(port), host!);
    const raw = new RawNats(socket);
    let text = '';
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (d) => {
        text += d.toString('latin1');
        for (const m of text.matchAll(/-ERR ([^\r]*)\r\n/g)) raw.errors.push(m[1]!);
        text = text.replace(/-ERR [^\r]*\r\n/g, '');
        if (text.includes('PING\r\n')) {
          socket.write('PONG\r\n');
          text = text.replace(/PING\r\n/g, '');
        }
        if (text.includes('PONG\r\n')) {
          text = text.replace(/PONG\r\n/g, '');
          resolve();
        }
      });
      socket.once('connect', () => {
        socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, user: `uplink-${role}`, pass: password(role), name: `raw-${role}` })}\r\nPING\r\n`);
      });
      socket.once('close', () => reject(new Error(`raw NATS closed: ${raw.errors.join('; ')}`)));
    });
    return raw;
  }

  /** HPUB with a header block written by hand (it must end with CRLF CRLF to be a block at all). */
  hpub(subject: string, headerBlock: string | Buffer, payload: string | Buffer = '', reply?: string): void {
    const h = typeof headerBlock === 'string' ? Buffer.from(headerBlock, 'latin1') : headerBlock;
    const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    this.socket.write(Buffer.concat([Buffer.from(`HPUB ${subject}${reply ? ` ${reply}` : ''} ${h.length} ${h.length + p.length}\r\n`), h, p, Buffer.from('\r\n')]));
  }

  pub(subject: string, payload: string | Buffer, reply?: string): void {
    const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    this.socket.write(Buffer.concat([Buffer.from(`PUB ${subject}${reply ? ` ${reply}` : ''} ${p.length}\r\n`), p, Buffer.from('\r\n')]));
  }

  /** Resolves once the server has processed everything sent so far. */
  async flush(): Promise<void> {
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        if (d.toString('latin1').includes('PONG')) {
          this.socket.off('data', onData);
          resolve();
        }
      };
      this.socket.on('data', onData);
      this.socket.write('PING\r\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface ArenaHost { host: LocalObjectHost; service: NatsHostService; nc: NatsConnection; failures: unknown[] }

export interface ClusterArena {
  server: NatsServer;
  watch: CrashWatch;
  gateway: Gateway;
  url: string;
  remote: NatsObjectHost;
  gatewayNats: NatsConnection;
  host: ArenaHost;
  /** The honest client of this test (connected before it, checked after it). */
  honest: UplinkClient;
  /** A signed-in client (a real HS256 JWT); closed after the test. */
  signedIn(sub?: string, claims?: Record<string, unknown>): Promise<UplinkClient>;
  token(sub?: string, claims?: Record<string, unknown>): Promise<string>;
  /** Another object host, as `uplink-host`, stopped after the test. */
  addHost(register: (host: LocalObjectHost) => void, options?: NatsHostOptions): Promise<ArenaHost>;
  /** A plain NATS client of a role, closed after the test. */
  as(role: Role): Promise<NatsConnection>;
  raw(role: Role): Promise<RawNats>;
  scrape(): Promise<Sample[]>;
  /** Resolves once the gateway's host table lists `object` as served by a live host. */
  served(object: string, timeoutMs?: number): Promise<void>;
  /** Answers the honest client must get during an attack (checked again after the test). */
  honestRound(n: number): Promise<void>;
  /** Another gateway (as `uplink-gateway`, same options) with a signed-in client, for one case of a test; closed after the test. */
  spareGateway(objects?: string[]): Promise<SpareGateway>;
  /** What crashed since the test started (empty when nothing did). */
  crashes(): string;
}

export interface SpareGateway { gateway: Gateway; url: string; remote: NatsObjectHost; nc: NatsConnection; client: UplinkClient }

/** Resolves with `promise`, or undefined after `ms` (teardown must not hang on a connection that went deaf). */
const within = <T>(promise: Promise<T>, ms = 2_000): Promise<T | undefined> => Promise.race([promise.catch(() => undefined), new Promise<undefined>((resolve) => (setTimeout(resolve, ms) as { unref?(): void }).unref?.())]);

/** Registers the objects every arena host serves (calc, echo, numbers, relay) and the test's own. */
function registerBase(host: LocalObjectHost): void {
  host.register(new Calculator(), { id: 'calc' });
  host.register(new Echo(), { id: 'echo' });
  host.register(new Numbers(), { id: 'numbers' });
  host.register(Relay, { id: 'relay', mode: 'session' });
}

export interface ClusterArenaOptions {
  gateway?: GatewayOptions;
  /** The test file's objects, on the arena's host. */
  register?: (host: LocalObjectHost) => void;
}

async function startHostOn(server: NatsServer, connections: NatsConnection[], register: (host: LocalObjectHost) => void, options: NatsHostOptions = {}, callbackTimeoutMs?: number): Promise<ArenaHost> {
  const failures: unknown[] = [];
  const host = objectHost(failures, 30_000, callbackTimeoutMs);
  register(host);
  const nc = await memberConnection(server, 'host', options.name ?? 'arena-host');
  connections.push(nc);
  const service = new NatsHostService(nc, host, { heartbeatMs: BEAT_MS, ...options });
  service.serve();
  await nc.flush();
  return { host, service, nc, failures };
}

export function useClusterArena(options: ClusterArenaOptions = {}): ClusterArena {
  const arena = { watch: new CrashWatch() } as ClusterArena;
  let connections: NatsConnection[] = [];
  let hosts: ArenaHost[] = [];
  let clients: UplinkClient[] = [];
  let raws: RawNats[] = [];
  let start: ReturnType<CrashWatch['count']>;
  let spares: SpareGateway[] = [];
  let round = 0;
  const token = (sub = 'honest', claims: Record<string, unknown> = {}) => hsToken(claims, { sub, exp: Math.floor(Date.now() / 1000) + 600 });

  before(async () => {
    arena.watch.install();
    arena.server = await startSecuredNats();
  });
  after(async () => {
    if (arena.server) await within(arena.server.stop(), 5_000);
    arena.watch.uninstall();
  });

  beforeEach(async () => {
    start = arena.watch.count();
    connections = [];
    hosts = [];
    clients = [];
    raws = [];
    spares = [];
    round = 0;
    arena.crashes = () => arena.watch.since(start);
    arena.host = await startHostOn(arena.server, connections, (h) => {
      registerBase(h);
      options.register?.(h);
    }, { name: 'arena-host' });
    hosts.push(arena.host);
    arena.gatewayNats = await memberConnection(arena.server, 'gateway', 'arena-gateway');
    connections.push(arena.gatewayNats);
    // The gateway signs identities (cluster keys): hosts added with CLUSTER_KEYS.publicKey verify them.
    arena.remote = new NatsObjectHost(arena.gatewayNats, { heartbeatMs: BEAT_MS, signingKey: CLUSTER_KEYS.privateKey });
    const startOne = async (remote: NatsObjectHost) => {
      const started = await startGateway({
        remoteObjects: remote,
        authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
        metrics: { port: 0 },
        ...options.gateway,
      }, false);
      started.gateway.codec.registerError(TestError, 'TestError');
      return started;
    };
    const { gateway, url } = await startOne(arena.remote);
    Object.assign(arena, { gateway, url });
    arena.token = token;
    arena.signedIn = async (sub = 'someone', claims = {}) => {
      const c = await client(url, { token: await token(sub, claims) });
      clients.push(c);
      return c;
    };
    arena.addHost = async (register, hostOptions = {}) => {
      const h = await startHostOn(arena.server, connections, register, { name: `extra-host-${hosts.length}`, ...hostOptions });
      hosts.push(h);
      return h;
    };
    arena.as = async (role) => {
      const nc = await asRole(arena.server, role);
      connections.push(nc);
      return nc;
    };
    arena.raw = async (role) => {
      const r = await RawNats.open(arena.server, role);
      raws.push(r);
      return r;
    };
    arena.scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`);
      assert.equal(response.status, 200);
      return parseScrape(await response.text());
    };
    arena.served = async (object, timeoutMs = 5_000) => {
      await eventually(() => Boolean(arena.remote.hosts.hostOf(object)), { timeoutMs, everyMs: 5, what: `a host serving '${object}' (seen by the gateway)` });
    };
    arena.honestRound = async (n) => {
      assert.equal(await arena.honest.call('calc', 'add', [n, 1000], { timeoutMs: 10_000 }), n + 1000, 'the honest client gets correct answers');
    };
    arena.spareGateway = async (objects = ['calc']) => {
      const nc = await memberConnection(arena.server, 'gateway', `spare-gateway-${spares.length}`);
      connections.push(nc);
      const remote = new NatsObjectHost(nc, { heartbeatMs: BEAT_MS });
      const started = await startOne(remote);
      await eventually(() => objects.every((o) => remote.hosts.hostOf(o)), { timeoutMs: 5_000, everyMs: 5, what: `a host serving ${objects.join(', ')} (seen by the spare gateway)` });
      const c = await client(started.url, { token: await token('spare-honest') });
      clients.push(c);
      const spare = { gateway: started.gateway, url: started.url, remote, nc, client: c };
      spares.push(spare);
      return spare;
    };
    for (const object of ['calc', 'numbers']) await arena.served(object);
    arena.honest = await client(url, { token: await token('honest') });
    clients.push(arena.honest);
    assert.equal(await arena.honest.call('calc', 'add', [1, 2]), 3, 'the arena works before the attack');
  });

  afterEach(async () => {
    try {
      const n = ++round;
      assert.equal(await arena.honest.call('calc', 'add', [n, 1000], { timeoutMs: 10_000 }), n + 1000, 'the honest client gets correct answers after the attack');
      const items: number[] = [];
      for await (const item of arena.honest.stream<number>('numbers', 'range', [50])) items.push(item);
      assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => i), 'the honest client gets complete streams after the attack');
      const fresh = await client(arena.url, { token: await token('fresh') });
      clients.push(fresh);
      assert.equal(await fresh.call('calc', 'add', [2, 3], { timeoutMs: 10_000 }), 5, 'new clients are still served');
      assert.ok(!arena.gatewayNats.isClosed(), 'the gateway\'s NATS connection is open');
      assert.ok(!arena.host.nc.isClosed(), 'the host\'s NATS connection is open');
      assertPrototypesClean();
    } finally {
      const crashes = arena.watch.since(start);
      if (crashes) process.stderr.write(`\n${crashes.split('\n').map((line) => `CRASH ${line}`).join('\n')}\n`);
      for (const c of clients) await within(c.close());
      for (const r of raws) r.close();
      for (const g of [arena.gateway, ...spares.map((s) => s.gateway)]) await within(g.close({ drainMs: 0 }));
      for (const h of hosts) await within(h.service.stop());
      for (const nc of connections) await within(nc.close());
      assert.equal(crashes, '', 'nothing crashed and no NATS connection went deaf');
    }
  });

  return arena;
}
