/**
 * The gateway: a server that admits WebSocket clients, runs the hello handshake and hands every call
 * to an object host. It owns the lifecycle (listen, graceful close) and the socket settings; the
 * server itself is a runtime (runtime/: uWebSockets.js or node:http with ws), frame handling lives in
 * Connection, dispatch in the host.
 */
/*
 * About 420 lines: the public API (register, listen, close, terminate, revoke, stats, health, ready)
 * and the runtime's handlers, plus the gates connections, the upgrade, HTTP calls and `$admin` see of
 * the gateway (each reads its private state, so they stay methods here); the upgrade,
 * HTTP routes, admission, metrics, TLS, runtimes and build loading have files of their own.
 */
import { anonymousAuthenticator, type Authenticator } from '../auth/authenticator.js';
import type { RevocationTarget } from '../auth/revocations.js';
import { systemClock, type Clock } from '../clock.js';
import { BuiltinObject, type GatewayFacts } from '../host/builtin.js';
import { BUILTIN_OBJECT_ID, LocalObjectHost, type RegisterOptions } from '../host/local-host.js';
import type { ObjectHost } from '../host/object-host.js';
import { RoutingObjectHost } from '../host/routing-host.js';
import { CloseCode } from '../protocol/close-codes.js';
import { Codec } from '../protocol/codec.js';
import { SUPPORTED_VERSIONS } from '../protocol/frames.js';
import { formatUri } from '../protocol/uri.js';
import { definedOnly, gatewayDefaults, type GatewayOptions } from './config.js';
import { Admission } from './admission.js';
import { Deadlines } from './deadlines.js';
import { Connection } from './connection/connection.js';
import type { ConnectionEnvironment, ResolvedOptions } from './connection/connection-environment.js';
import { FlushQueue } from './connection/flush-queue.js';
import { ClientLog, createLogger, logUserCodeFailure, type Logger } from './logger.js';
import { localHostOptions } from './host-options.js';
import { StaticFiles } from './http/static-files.js';
import { demoTokenRoute, hostName, httpRouter } from './http/http-routes.js';
import { HttpCalls, type HttpCallGate } from './http/http-calls.js';
import { rpcRoute } from './http/rpc-route.js';
import { ErrorCode, errorBody } from '../protocol/errors.js';
import type { UwsReport } from './http/uws-loader.js';
import { KeyedRateLimit } from './connection/rate-limit.js';
import { checkedTls, type UwsTlsOptions } from './http/tls.js';
import { clientAddress, normalizeAddress, type ProxyHeader } from './http/client-address.js';
import { originAllowed, upgradeHandler, upgradeToken, type RequestHead, type UpgradeGate } from './http/upgrade.js';
import { GatewayMetrics } from './metrics.js';
import { ADMIN_OBJECT_ID, AdminObject, type AdminFacts } from './admin-object.js';
import { listenForMetrics, metricsRoute, type MetricsListener } from './http/metrics-endpoint.js';
import type { RuntimeHandlers, RuntimeName, ServerRuntime, SocketListener } from './runtime/runtime.js';
import { selectRuntime } from './runtime/select-runtime.js';
import type { ServerSocket } from './connection/server-socket.js';
import type { PeerInfo } from './connection/connection-environment.js';

export const SERVER_NAME = 'uplink/0.1.0';

export interface GatewayStats {
  connections: number;
  streams: { live: number; lingering: number };
}

export interface CloseOptions {
  /** How long in-flight calls may run on after the goodbye before they get SHUTTING_DOWN. */
  drainMs?: number;
}

export class Gateway {
  readonly options: ResolvedOptions;
  readonly codec: Codec;
  readonly logger: Logger;
  private readonly clock: Clock;
  private readonly authenticator: Authenticator;
  private readonly clientLog: ClientLog;
  private readonly admission: Admission;
  /** What connections see of the gateway (internal hooks stay off the public class). */
  private readonly env: ConnectionEnvironment;
  /** The local registry: `register()` puts objects here, and it serves `$uplink`. */
  readonly registry: LocalObjectHost;
  /** Where calls go: the local registry, or the object host given in the options. */
  readonly objectHost: ObjectHost;
  private readonly hooks: GatewayOptions;
  private readonly connections = new Set<Connection>();
  private readonly connectRate: KeyedRateLimit | undefined;
  /** Every connection's outbox waits for this pass (one per loop turn). */
  private readonly flushQueue = new FlushQueue(setImmediate, (error) => this.logger.error({ err: error }, 'a write pass task failed'));
  private listening = false;
  /** The server runtime (runtime/select-runtime.ts says which and why). */
  private readonly runtime: ServerRuntime;
  /** Why 'auto' took the node runtime (logged once at listen), or undefined. */
  private readonly runtimeFallback: string | undefined;
  /** The uWebSockets.js build in use (uws-loader.ts), and why the others were not. */
  readonly uwsReport: UwsReport;
  private nextConnectionId = 0;
  private startedAt: number;
  private closing: Promise<void> | undefined;
  private draining = false;
  /** Host names (lower case, no port) that requests may name; undefined: no check. */
  private readonly allowedHosts: ReadonlySet<string> | undefined;
  /** Proxies whose Forwarded / X-Forwarded-For headers are believed (none by default). */
  private readonly trustedProxies: ReadonlySet<string> | undefined;
  private readonly proxyHeader: ProxyHeader;
  /** uWS's TLS options when serving wss:// (checked at construction). */
  private readonly tls: UwsTlsOptions | undefined;
  /** The bound port (known after listen). */
  port: number;
  /** Prometheus metrics, when `metrics` is set (docs/operations.md). */
  readonly metrics: GatewayMetrics | undefined;
  private metricsListener: MetricsListener | undefined;

  constructor(options: GatewayOptions = {}) {
    const merged = { ...gatewayDefaults, ...definedOnly(options) };
    ({ runtime: this.runtime, uwsReport: this.uwsReport, fallback: this.runtimeFallback } = selectRuntime(merged.runtime, merged.allowJsFallback));
    this.codec = options.codec instanceof Codec ? options.codec : new Codec(options.codec);
    this.authenticator = options.authenticator ?? anonymousAuthenticator;
    this.options = {
      ...merged, server: SERVER_NAME, maxAttachments: this.codec.limits.maxAttachments,
      clockToleranceMs: (this.authenticator.clockToleranceSec ?? 0) * 1000,
    } as ResolvedOptions;
    this.hooks = options;
    this.tls = options.tls && checkedTls(options.tls);
    this.trustedProxies = options.trustProxy && new Set(options.trustProxy.map(normalizeAddress));
    this.proxyHeader = options.trustProxyHeader ?? 'x-forwarded-for';
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.admission = new Admission(this.authenticator, this.options.maxConnectionsPerSubject, options.validateHandshake, this.clock);
    const perIp = this.options.maxConnectionsPerSecPerIp;
    this.connectRate = perIp > 0 ? new KeyedRateLimit(perIp, perIp) : undefined;
    this.port = this.options.port;
    this.logger = options.logger ?? createLogger(this.options.logLevel);
    this.clientLog = new ClientLog(this.logger, this.options.maxClientLogLinesPerSec);
    this.allowedHosts = options.allowedHosts && new Set(options.allowedHosts.map((h) => h.toLowerCase()));
    const remote = options.remoteObjects;
    remote?.useLogger?.(this.logger);
    const cluster = remote?.state && { state: () => remote.state!(), peers: 'hosts' as const };
    this.metrics = options.metrics
      ? new GatewayMetrics((id) => this.objectHost.knowsObject?.(id) ?? false, () => this.objectHost.streamStats(), (id, member) => this.objectHost.knowsMember?.(id, member) ?? false, cluster)
      : undefined;
    const totals = this.metrics?.totals;
    this.registry = new LocalObjectHost({
      ...localHostOptions(this.options, this.codec, this.clock, options, (error, call) => {
        logUserCodeFailure(this.clientLog, this.codec, error, call);
        if (options.onError) this.safeHook(() => options.onError?.(error, call));
      }),
      ...(this.metrics ? { streamObserver: { creditStall: () => void totals!.creditStalls++, socketPaused: () => this.metrics?.backpressureEvent('paused') } } : {}),
    });
    this.objectHost = options.objectHost ?? (remote ? new RoutingObjectHost(this.registry, remote) : this.registry);
    const facts: GatewayFacts = { server: SERVER_NAME, protocolVersions: SUPPORTED_VERSIONS, uptimeMs: () => this.clock.now() - this.startedAt };
    this.registry.register(new BuiltinObject(this.registry, facts, remote), { id: BUILTIN_OBJECT_ID });
    if (options.adminScope) this.registry.register(new AdminObject(this.adminFacts()), { id: ADMIN_OBJECT_ID, access: { scopes: [options.adminScope] } });
    remote?.onRevocations?.((target) => this.applyRevocation(target));
    this.authenticator.onKeyFetch?.((ok) => this.metrics?.keyFetch(ok));
    this.env = this.connectionEnvironment();
  }

  /** Registers an object or a class; returns its URI. */
  register(target: object, id?: string, options?: RegisterOptions): string;
  register(target: object, options?: RegisterOptions): string;
  register(target: object, idOrOptions?: string | RegisterOptions, options: RegisterOptions = {}): string {
    const opts = typeof idOrOptions === 'string' ? { ...options, id: idOrOptions } : { ...idOrOptions };
    if (opts.id?.startsWith('$')) throw new TypeError("object ids starting with '$' are reserved for the gateway");
    if (this.objectHost !== this.registry && !this.hooks.remoteObjects) throw new TypeError('this gateway routes calls to its objectHost: register objects there');
    return this.uri(this.registry.register(target as never, opts));
  }

  unregister(id: string): boolean {
    if (id === BUILTIN_OBJECT_ID) throw new TypeError('the built-in object cannot be unregistered');
    return this.registry.unregister(id);
  }

  uri(id: string): string {
    return formatUri(this.options.host, this.port, id, this.tls !== undefined);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** What observers may read: open connections, and the local host's live and lingering streams. */
  stats(): GatewayStats {
    return { connections: this.connections.size, streams: this.objectHost.streamStats() };
  }

  /** The runtime serving this gateway: 'uws' or 'node'. */
  get runtimeName(): RuntimeName {
    return this.runtime.name;
  }

  async listen(): Promise<void> {
    if (this.listening) throw new Error('already listening');
    this.listening = true;
    const o = this.options;
    if (this.runtimeFallback) this.logger.warn({ uws: this.uwsReport }, this.runtimeFallback);
    try {
      this.port = await this.runtime.listen({
        host: o.host, port: o.port, tls: this.tls, maxBodyBytes: o.maxPayloadLength, idleTimeoutSec: o.idleTimeoutSec, maxLifetimeMin: o.maxLifetimeMin,
        // The runtime's hard limit is four times ours: messages between are refused by Connection with a
        // typed error (up to twice the limit) or a real 1009; past it the runtime cuts the connection.
        maxMessageBytes: o.maxPayloadLength * 4,
        // Connection.flush closes a client that does not read (4508) once it holds maxBackpressure bytes;
        // the runtime's own limit, at twice that, is only a backstop.
        maxBufferedBytes: o.maxBackpressure * 2,
      }, this.runtimeHandlers());
    } catch (error) {
      this.listening = false;
      throw error;
    }
    this.startedAt = this.clock.now();
    const metricsOptions = this.hooks.metrics;
    if (this.metrics && metricsOptions?.port !== undefined) {
      this.metricsListener = await listenForMetrics(this.metrics, metricsOptions.host ?? '127.0.0.1', metricsOptions.port);
    }
    this.logger.info({ host: o.host, port: this.port, server: SERVER_NAME, runtime: this.runtime.name, tls: this.tls !== undefined, uws: this.uwsReport, metricsPort: this.metricsListener?.port }, 'gateway listening');
    if (this.runtime.name === 'uws' && !this.uwsReport.native) this.logger.warn({ uws: this.uwsReport }, 'running on the slow JavaScript shim of uWebSockets.js (allowJsFallback)');
    // Fetch remote keys now, so that /health tells at once when they cannot be had (auth fails closed meanwhile).
    void this.authenticator.warmUp?.().catch((error: unknown) => this.logger.error({ err: error }, 'authentication keys unavailable'));
  }

  /** What the runtime calls: HTTP requests, upgrades, and each new socket. */
  private runtimeHandlers(): RuntimeHandlers {
    const files = this.hooks.staticDir ? new StaticFiles(this.hooks.staticDir) : undefined;
    const metricsOptions = this.hooks.metrics;
    const failed = (error: unknown): void => this.logger.error({ err: error }, 'an HTTP request failed inside the gateway');
    if (this.hooks.demoTokens) this.logger.warn('DEMO TOKEN ENDPOINT ENABLED at GET /demo/token: anyone can mint a token. UNSAFE FOR PRODUCTION.');
    const http = httpRouter({
      probes: { health: () => this.health(), ready: () => this.ready() }, files, failed,
      hostAllowed: (exchange) => this.hostAllowed(exchange),
      demoTokens: this.hooks.demoTokens && demoTokenRoute(this.hooks.demoTokens),
      metrics: this.metrics && metricsOptions?.token && metricsOptions.port === undefined ? metricsRoute(this.metrics, metricsOptions.token) : undefined,
      rpc: rpcRoute(new HttpCalls(this.httpCallGate()), {
        hostAllowed: (exchange) => this.hostAllowed(exchange),
        originAllowed: (origin) => originAllowed(this.hooks.allowedOrigins, true, origin),
        takeRate: (exchange) => !this.connectRate || this.connectRate.take(exchange.remoteAddress),
        failed,
      }),
    });
    return { http, upgrade: upgradeHandler(this.upgradeGate()), open: (socket, peer) => this.open(socket, peer) };
  }

  /** A socket the upgrade admitted: a Connection, unless the gateway started closing meanwhile. */
  private open(socket: ServerSocket, peer: PeerInfo): SocketListener | undefined {
    if (this.draining) return void socket.end(CloseCode.GOING_AWAY, 'shutdown'); // its token was verified while the gateway closed
    const connection = new Connection(socket, peer, this.env, `c${(this.nextConnectionId++).toString(36)}`);
    this.connections.add(connection);
    return {
      get needsTurns() { return !connection.welcomed; },
      message: (message, isBinary) => connection.receive(message, isBinary),
      drain: () => connection.onDrain(),
      close: (code) => {
        this.connections.delete(connection);
        void connection.onClose(code).then((failures) => {
          for (const f of failures) if (f) this.logger.warn({ err: f, conn: connection.id }, 'resource failed to close');
        });
        if (this.hooks.onDisconnect) this.safeHook(() => this.hooks.onDisconnect?.(connection, code));
      },
    };
  }

  /** The port metrics are served on (their own listener), once listening. */
  get metricsPort(): number | undefined {
    return this.metricsListener?.port;
  }

  /** GET /health, liveness: the process serves HTTP (200 while it answers at all), with what it knows. */
  health(): { status: 'ok'; runtime: RuntimeName; connections: number; draining: boolean; auth: string; uws: UwsReport } {
    return { status: 'ok', runtime: this.runtime.name, connections: this.connections.size, draining: this.draining, auth: this.authenticator.health?.() ?? 'ok', uws: this.uwsReport };
  }

  /**
   * GET /ready, readiness: 200 when new clients can be served (listening, the key source reachable, the
   * cluster link connected where there is one); 503 with the reason otherwise, and while draining.
   */
  ready(): { status: 'ready' | 'not ready'; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.listening || this.draining) reasons.push(this.draining ? 'draining' : 'not listening');
    const auth = this.authenticator.health?.() ?? 'ok';
    if (auth !== 'ok') reasons.push(auth);
    const cluster = this.hooks.remoteObjects?.readiness?.() ?? 'ok';
    if (cluster !== 'ok') reasons.push(cluster);
    return { status: reasons.length === 0 ? 'ready' : 'not ready', reasons };
  }

  /**
   * Graceful close: stop accepting, say goodbye (with reconnect advice), let in-flight calls finish
   * and clients leave for up to drainMs, answer the rest with SHUTTING_DOWN, then close every socket
   * that is left with 1001.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.drainMs ?? 5_000);
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    this.draining = true;
    if (this.listening) this.runtime.stopListening();
    for (const c of this.connections) c.sayGoodbye(this.options.reconnectAfterMs);
    this.flushQueue.run();
    // Clients leave by themselves once their calls are answered (Uplink clients close on goodbye);
    // a socket the client closes leaves TIME_WAIT on the client's side, so a restarted gateway can
    // bind this port again at once (this uWS build does not set SO_REUSEADDR).
    const until = performance.now() + drainMs;
    while (performance.now() < until && this.connections.size > 0) {
      await new Promise((r) => setTimeout(r, 5)); // a poll of real time: sockets close in real time
    }
    for (const c of this.connections) c.abortInflight();
    for (const c of [...this.connections]) c.close(CloseCode.GOING_AWAY, 'shutdown');
    this.objectHost.shutdown();
    await this.metricsListener?.close();
    this.clientLog.close();
    this.logger.info({ port: this.port }, 'gateway closed');
  }

  /**
   * Ends every socket at once, without a close handshake (after close(): sockets whose client never
   * finished closing). A worker thread that ends with a live uWS socket aborts the process.
   */
  terminate(): void {
    if (this.listening) this.runtime.terminate();
  }

  /**
   * Disconnects every connection of a subject or of a token id at once (close 4409) and refuses the
   * revoked tokens from then on. Returns how many connections were closed.
   */
  revoke(target: RevocationTarget): number {
    if (target.subject === undefined && target.tokenId === undefined) throw new TypeError('revoke needs a subject or a tokenId');
    this.hooks.remoteObjects?.publishRevocation?.(target);
    return this.applyRevocation(target);
  }

  /** A revocation made here or on another gateway of the cluster. */
  private applyRevocation(target: RevocationTarget): number {
    let closed = 0;
    let tokenExpiresAt: number | undefined;
    for (const c of [...this.connections]) {
      if (!this.admission.matches(target, c.identity)) continue;
      tokenExpiresAt = Math.max(tokenExpiresAt ?? 0, c.identity?.expiresAt ?? 0) || undefined;
      c.close(CloseCode.REVOKED, 'revoked');
      closed++;
    }
    this.admission.revoke(target, tokenExpiresAt);
    this.metrics?.revocations.inc();
    // Streams of the revoked identity end too, lingering ones included: none can be resumed later.
    const streams = this.objectHost.endStreams((owner) => this.admission.matches(target, owner), 'revoked');
    this.logger.warn({ subject: target.subject, tokenId: target.tokenId, closed, streams }, 'revoked');
    return closed;
  }

  /**
   * Whether the request's Host header names an allowed host (DNS rebinding: a page on an attacker's
   * domain that resolves to this gateway's address sends the attacker's host name).
   */
  private hostAllowed(req: RequestHead): boolean {
    if (!this.allowedHosts) return true;
    return this.allowedHosts.has(hostName(req.header('host')));
  }

  /** The gateway as its connections see it. */
  private connectionEnvironment(): ConnectionEnvironment {
    const gateway = this;
    const admission = this.admission;
    return {
      objectHost: this.objectHost, codec: this.codec, options: this.options, clock: this.clock, metrics: this.metrics,
      deadlines: new Deadlines(this.clock),
      logs: { logger: this.logger, clientLog: this.clientLog, calls: this.logger.isLevelEnabled('debug') },
      sessions: {
        get draining() {
          return gateway.draining;
        },
        admitIdentity: (token, info, verified, check) => admission.admitIdentity(token, info, verified, check),
        admitSubject: (identity) => admission.admitSubject(identity),
        opened: (connection) => {
          this.logger.info({ conn: connection.id, remote: connection.remoteAddress, sub: connection.identity?.subject }, 'connection opened');
          if (this.hooks.onConnect) this.safeHook(() => this.hooks.onConnect?.(connection));
        },
        closed: (identity) => admission.releaseSubject(identity),
      },
      flushQueue: this.flushQueue,
    };
  }

  /** What the `$admin` object reads and does. */
  private adminFacts(): AdminFacts {
    return {
      connections: () => this.connections.values(),
      streams: () => this.registry.streams.all(),
      metrics: this.metrics,
      revoke: (subject) => this.revoke({ subject }),
      uptimeMs: () => this.clock.now() - this.startedAt,
    };
  }

  /** What calls over HTTP need (http-calls.ts): the same host, admission and limits as WebSocket calls. */
  private httpCallGate(): HttpCallGate {
    return {
      objectHost: this.objectHost, codec: this.codec, clock: this.clock, metrics: this.metrics, clientLog: this.clientLog, options: this.options,
      refusal: () => (this.draining ? errorBody(ErrorCode.SHUTTING_DOWN, 'the gateway is shutting down') : undefined),
      admitIdentity: (token, info) => this.admission.admitIdentity(token, info),
      clientAddress: (exchange) => clientAddress(exchange.remoteAddress, exchange.header(this.proxyHeader), this.proxyHeader, this.trustedProxies),
      nextConnectionId: () => `h${(this.nextConnectionId++).toString(36)}`,
    };
  }

  /** What the upgrade handler checks against. */
  private upgradeGate(): UpgradeGate {
    return {
      clientLog: this.clientLog,
      connectRate: this.connectRate,
      hostAllowed: (req) => this.hostAllowed(req),
      originAllowed: (origin) => originAllowed(this.hooks.allowedOrigins, this.options.allowMissingOrigin, origin),
      refusal: () => this.draining ? 'shutting down' : this.connections.size >= this.options.maxConnections ? 'too many connections' : undefined,
      upgradeToken: (req) => upgradeToken(req, this.options.acceptHeaderToken, this.options.acceptQueryToken),
      clientAddress: (req) => clientAddress(req.remoteAddress, req.header(this.proxyHeader), this.proxyHeader, this.trustedProxies),
      verifyToken: (token, info) => this.admission.verifyToken(token, info),
      refused: (reason) => {
        this.metrics?.handshake('refused', reason);
        if (reason === 'rate') this.metrics?.rateLimit('connection');
      },
    };
  }

  private safeHook(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error({ err: error }, 'connection hook failed');
    }
  }
}
