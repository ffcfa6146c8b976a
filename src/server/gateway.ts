/**
 * The gateway: a uWebSockets.js server that admits WebSocket clients, runs the hello handshake and
 * hands every call to an object host. It owns the lifecycle (listen, graceful close) and the socket
 * settings; frame handling lives in Connection, dispatch in the host.
 */
/*
 * Over 350 lines: the upgrade handler (about 60 lines of listen) moves to its own file with the
 * remaining split of #11 (item 4); kept here until then.
 */
import uws from 'uWebSockets.js';
import { anonymousAuthenticator, type Authenticator, type HandshakeInfo } from '../auth/authenticator.js';
import { Revocations, type RevocationTarget } from '../auth/revocations.js';
import { ErrorCode, UplinkError } from '../errors.js';
import type { Identity } from '../core/context.js';
import { BuiltinObject, type GatewayFacts } from '../host/builtin.js';
import { BUILTIN_OBJECT_ID, LocalObjectHost, type RegisterOptions } from '../host/local-host.js';
import type { HostCall, ObjectHost } from '../host/object-host.js';
import { CloseCode } from '../protocol/close-codes.js';
import { Codec } from '../protocol/codec.js';
import { SUPPORTED_VERSIONS } from '../protocol/frames.js';
import { formatUri } from '../protocol/uri.js';
import { definedOnly, gatewayDefaults, type GatewayOptions } from './config.js';
import { Connection, type ConnectionEnvironment, type ResolvedOptions, type SocketData } from './connection.js';
import { ClientLog, createLogger, type Logger } from './logger.js';
import { checkUpgradeRequest, selectSubprotocol } from './handshake.js';
import { StaticFiles } from './static-files.js';
import { hostName, serveDemoTokens } from './http-routes.js';
import { assertNativeUws } from './native-check.js';
import { KeyedRateLimit } from './rate-limit.js';

export const SERVER_NAME = 'uplink/0.1.0';

export interface GatewayStats {
  connections: number;
  streams: { live: number; lingering: number };
}

export interface CloseOptions {
  /** How long in-flight calls may run on after the goodbye before they get SHUTTING_DOWN. */
  drainMs?: number;
}

export class Gateway implements ConnectionEnvironment {
  readonly options: ResolvedOptions;
  readonly codec: Codec;
  readonly logger: Logger;
  readonly logCalls: boolean;
  readonly authenticator: Authenticator;
  readonly clientLog: ClientLog;
  /** The local registry: `register()` puts objects here, and it serves `$uplink`. */
  readonly registry: LocalObjectHost;
  /** Where calls go: the local registry, or the object host given in the options. */
  readonly objectHost: ObjectHost;
  private readonly hooks: GatewayOptions;
  private readonly connections = new Set<Connection>();
  private readonly revocations = new Revocations();
  /** Open connections per subject (only kept when maxConnectionsPerSubject is set). */
  private readonly perSubject = new Map<string, number>();
  private readonly connectRate: KeyedRateLimit | undefined;
  private readonly toFlush = new Set<Connection>();
  private flushScheduled = false;
  private listenSocket: uws.us_listen_socket | undefined;
  private nextConnectionId = 0;
  private startedAt = Date.now();
  private closing: Promise<void> | undefined;
  draining = false;
  private readonly validateHandshake: ((info: HandshakeInfo) => Promise<void>) | undefined;
  /** Host names (lower case, no port) that requests may name; undefined: no check. */
  private readonly allowedHosts: ReadonlySet<string> | undefined;
  /** The bound port (known after listen). */
  port: number;

  constructor(options: GatewayOptions = {}) {
    const merged = { ...gatewayDefaults, ...definedOnly(options) };
    assertNativeUws(merged.allowJsFallback);
    this.codec = options.codec instanceof Codec ? options.codec : new Codec(options.codec);
    this.authenticator = options.authenticator ?? anonymousAuthenticator;
    this.options = {
      ...merged, server: SERVER_NAME, maxAttachments: this.codec.limits.maxAttachments,
      clockToleranceMs: (this.authenticator.clockToleranceSec ?? 0) * 1000,
    } as ResolvedOptions;
    this.hooks = options;
    this.validateHandshake = options.validateHandshake && handshakeHook(options.validateHandshake);
    const perIp = this.options.maxConnectionsPerSecPerIp;
    this.connectRate = perIp > 0 ? new KeyedRateLimit(perIp, perIp) : undefined;
    this.port = this.options.port;
    this.logger = options.logger ?? createLogger(this.options.logLevel);
    this.logCalls = this.logger.isLevelEnabled('debug');
    this.clientLog = new ClientLog(this.logger, this.options.maxClientLogLinesPerSec);
    this.allowedHosts = options.allowedHosts && new Set(options.allowedHosts.map((h) => h.toLowerCase()));
    this.registry = new LocalObjectHost({
      codec: this.codec,
      maxArgs: this.options.maxArgs,
      maxResultBytes: this.options.maxResultBytes,
      authorize: options.authorize,
      claimNames: options.claimNames,
      streamLimits: {
        lifetimeMs: this.options.streamLifetimeMs, idleMs: this.options.streamIdleMs, lingerMs: this.options.streamLingerMs,
        maxUnacked: this.options.streamMaxUnacked, maxBatch: this.options.streamMaxBatch,
        frameBytes: Math.max(1024, Math.floor(this.options.streamHighWaterMark / 4)),
        maxFrameBytes: this.options.maxResultBytes,
        maxReplayBytes: this.options.streamMaxReplayBytes,
      },
      streamCaps: { maxPerOwner: this.options.maxStreamsPerSubject, maxTotal: this.options.maxStreamsTotal },
      debugErrors: this.options.debugErrors,
      onError: (error, call) => {
        this.logUserCodeFailure(error, call);
        if (options.onError) this.safeHook(() => options.onError?.(error, call));
      },
    });
    this.objectHost = options.objectHost ?? this.registry;
    const facts: GatewayFacts = { server: SERVER_NAME, protocolVersions: SUPPORTED_VERSIONS, uptimeMs: () => Date.now() - this.startedAt };
    this.registry.register(new BuiltinObject(this.registry, facts), { id: BUILTIN_OBJECT_ID });
  }

  /** Registers an object or a class; returns its URI. */
  register(target: object, id?: string, options?: RegisterOptions): string;
  register(target: object, options?: RegisterOptions): string;
  register(target: object, idOrOptions?: string | RegisterOptions, options: RegisterOptions = {}): string {
    const opts = typeof idOrOptions === 'string' ? { ...options, id: idOrOptions } : { ...idOrOptions };
    if (opts.id?.startsWith('$')) throw new TypeError("object ids starting with '$' are reserved for the gateway");
    if (this.objectHost !== this.registry) throw new TypeError('this gateway routes calls to its objectHost: register objects there');
    return this.uri(this.registry.register(target as never, opts));
  }

  unregister(id: string): boolean {
    if (id === BUILTIN_OBJECT_ID) throw new TypeError('the built-in object cannot be unregistered');
    return this.registry.unregister(id);
  }

  uri(id: string): string {
    return formatUri(this.options.host, this.port, id);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** What observers may read: open connections, and the local host's live and lingering streams. */
  stats(): GatewayStats {
    return { connections: this.connections.size, streams: this.objectHost.streamStats() };
  }

  async listen(): Promise<void> {
    if (this.listenSocket) throw new Error('already listening');
    const app = uws.App();
    const o = this.options;
    app.ws<SocketData>('/*', {
      compression: uws.DISABLED, // permessage-deflate off: decompression bombs and CPU for little gain on small frames
      maxPayloadLength: o.maxPayloadLength,
      idleTimeout: o.idleTimeoutSec,
      sendPingsAutomatically: true,
      // Connection.flush closes a client that does not read (4508) once it holds maxBackpressure bytes;
      // uWS's own limit, at twice that, is only a backstop.
      maxBackpressure: o.maxBackpressure * 2,
      closeOnBackpressureLimit: true as never,
      maxLifetime: o.maxLifetimeMin,
      upgrade: (res, req, context) => {
        if (!this.hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
        if (this.draining || this.connections.size >= o.maxConnections) {
          res.writeStatus('503 Service Unavailable').end(this.draining ? 'shutting down' : 'too many connections');
          return;
        }
        let headerBytes = 0;
        req.forEach((name, value) => (headerBytes += name.length + value.length));
        const refusal = checkUpgradeRequest({
          upgrade: req.getHeader('upgrade'), connection: req.getHeader('connection'),
          key: req.getHeader('sec-websocket-key'), version: req.getHeader('sec-websocket-version'), headerBytes,
        });
        if (refusal) {
          res.cork(() => {
            res.writeStatus(refusal.status);
            for (const [k, v] of Object.entries(refusal.headers)) res.writeHeader(k, v);
            res.end(refusal.body);
          });
          return;
        }
        const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
        if (this.connectRate && !this.connectRate.take(remoteAddress)) {
          res.writeStatus('429 Too Many Requests').writeHeader('Retry-After', '1').end('too many new connections from this address');
          return;
        }
        const origin = req.getHeader('origin') || undefined;
        if (!this.originAllowed(origin)) {
          this.clientLog.warn({ origin: origin ?? null }, 'upgrade refused: origin not allowed');
          res.writeStatus('403 Forbidden').end('origin not allowed');
          return;
        }
        const data: SocketData = {
          remoteAddress,
          origin,
          userAgent: req.getHeader('user-agent') || undefined,
        };
        const key = req.getHeader('sec-websocket-key');
        const protocol = selectSubprotocol(req.getHeader('sec-websocket-protocol'));
        const extensions = req.getHeader('sec-websocket-extensions');
        const token = this.upgradeToken(req);
        if (token === undefined) {
          res.upgrade(data, key, protocol, extensions, context);
          return;
        }
        // The token came with the request: verify it before the socket exists (401 when invalid).
        let aborted = false;
        res.onAborted(() => (aborted = true));
        this.verifyToken(token, { ...data, identity: undefined }).then((identity) => {
          if (aborted) return;
          data.identity = identity;
          res.cork(() => res.upgrade(data, key, protocol, extensions, context));
        }).catch((error: unknown) => {
          if (aborted) return;
          const code = error instanceof UplinkError ? error.code : ErrorCode.UNAUTHENTICATED;
          this.clientLog.warn({ remote: data.remoteAddress, code }, 'upgrade refused: invalid token');
          res.cork(() => res.writeStatus('401 Unauthorized').writeHeader('WWW-Authenticate', 'Bearer').end(code));
        });
      },
      open: (ws) => {
        const connection = new Connection(ws, this, `c${(this.nextConnectionId++).toString(36)}`);
        ws.getUserData().connection = connection;
        this.connections.add(connection);
      },
      message: (ws, message, isBinary) => {
        const connection = ws.getUserData().connection as Connection;
        connection.onMessage(message, isBinary);
        connection.flush(); // inside the handler uWS has the socket corked: sync results leave in one write
      },
      drain: (ws) => ws.getUserData().connection?.onDrain(),
      close: (ws, code) => {
        const connection = ws.getUserData().connection;
        if (!connection) return;
        this.connections.delete(connection);
        this.toFlush.delete(connection);
        void connection.onClose(code).then((failures) => {
          for (const f of failures) if (f) this.logger.warn({ err: f, conn: connection.id }, 'resource failed to close');
        });
        if (this.hooks.onDisconnect) this.safeHook(() => this.hooks.onDisconnect?.(connection, code));
      },
    });
    if (this.hooks.demoTokens) serveDemoTokens(app, this.hooks.demoTokens, this.logger, (req) => this.hostAllowed(req));
    app.get('/health', (res, req) => {
      if (!this.hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
      const health = this.health();
      res.writeStatus(health.status === 'ok' ? '200 OK' : '503 Service Unavailable')
        .writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store')
        .end(JSON.stringify(health));
    });
    // Requests the WebSocket route did not take: uWS itself passes over upgrades whose key is not
    // 24 characters long, so they land here too and get a 400 instead of no answer at all.
    const files = this.hooks.staticDir ? new StaticFiles(this.hooks.staticDir) : undefined;
    app.any('/*', (res, req) => {
      if (!this.hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
      if (files && req.getMethod() === 'get' && files.serve(res, req)) return;
      const isUpgrade = req.getHeader('upgrade') !== '';
      res.writeStatus(isUpgrade ? '400 Bad Request' : '404 Not Found').end(isUpgrade ? 'bad WebSocket handshake' : 'not found');
    });
    await new Promise<void>((resolve, reject) => {
      app.listen(o.host, o.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${o.host}:${o.port}`));
        this.listenSocket = socket;
        this.port = uws.us_socket_local_port(socket);
        resolve();
      });
    });
    this.startedAt = Date.now();
    this.logger.info({ host: o.host, port: this.port, server: SERVER_NAME }, 'gateway listening');
    // Fetch remote keys now, so that /health tells at once when they cannot be had (auth fails closed meanwhile).
    void this.authenticator.warmUp?.().catch((error: unknown) => this.logger.error({ err: error }, 'authentication keys unavailable'));
  }

  /** What GET /health answers: 'ok', or 'degraded' (HTTP 503) while draining or when the key source fails. */
  health(): { status: 'ok' | 'degraded'; connections: number; draining: boolean; auth: string } {
    const auth = this.authenticator.health?.() ?? 'ok';
    const ok = !this.draining && auth === 'ok';
    return { status: ok ? 'ok' : 'degraded', connections: this.connections.size, draining: this.draining, auth };
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
    if (this.listenSocket) uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    for (const c of this.connections) c.sayGoodbye(this.options.reconnectAfterMs);
    this.flushAll();
    // Clients leave by themselves once their calls are answered (Uplink clients close on goodbye);
    // a socket the client closes leaves TIME_WAIT on the client's side, so a restarted gateway can
    // bind this port again at once (this uWS build does not set SO_REUSEADDR).
    const until = Date.now() + drainMs;
    while (Date.now() < until && this.connections.size > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const c of this.connections) c.abortInflight();
    for (const c of [...this.connections]) c.close(CloseCode.GOING_AWAY, 'shutdown');
    this.objectHost.shutdown();
    this.clientLog.close();
    this.logger.info({ port: this.port }, 'gateway closed');
  }

  /**
   * Disconnects every connection of a subject or of a token id at once (close 4409) and refuses the
   * revoked tokens from then on. Returns how many connections were closed.
   */
  revoke(target: RevocationTarget): number {
    if (target.subject === undefined && target.tokenId === undefined) throw new TypeError('revoke needs a subject or a tokenId');
    let closed = 0;
    let tokenExpiresAt: number | undefined;
    for (const c of [...this.connections]) {
      if (!this.revocations.matches(target, c.identity)) continue;
      tokenExpiresAt = Math.max(tokenExpiresAt ?? 0, c.identity?.expiresAt ?? 0) || undefined;
      c.close(CloseCode.REVOKED, 'revoked');
      closed++;
    }
    this.revocations.add(target, tokenExpiresAt);
    // Streams of the revoked identity end too, lingering ones included: none can be resumed later.
    const streams = this.objectHost.endStreams((owner) => this.revocations.matches(target, owner), 'revoked');
    this.logger.warn({ subject: target.subject, tokenId: target.tokenId, closed, streams }, 'revoked');
    return closed;
  }

  private originAllowed(origin: string | undefined): boolean {
    const allowed = this.hooks.allowedOrigins;
    if (!allowed) return true;
    if (origin === undefined) return this.options.allowMissingOrigin;
    return allowed.includes(origin);
  }

  /** A token sent with the upgrade request, where configuration allows that transport. */
  private upgradeToken(req: uws.HttpRequest): string | undefined {
    if (this.options.acceptHeaderToken) {
      const match = /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'));
      if (match) return match[1];
    }
    if (this.options.acceptQueryToken) {
      const token = req.getQuery('token');
      if (token) return token;
    }
    return undefined;
  }

  /**
   * Whether the request's Host header names an allowed host (DNS rebinding: a page on an attacker's
   * domain that resolves to this gateway's address sends the attacker's host name).
   */
  private hostAllowed(req: uws.HttpRequest): boolean {
    if (!this.allowedHosts) return true;
    return this.allowedHosts.has(hostName(req.getHeader('host')));
  }

  /**
   * User code failed. Deliberate, typed failures (UplinkError, registered error classes) are the
   * method's answer, logged at info without a stack; anything else is a bug, logged as an error with
   * its stack. Both are client-caused lines, so both are rate-limited.
   */
  private logUserCodeFailure(error: unknown, call: HostCall): void {
    const where = { object: call.object, member: call.member, cid: call.context.correlationId, conn: call.context.connection.id };
    try {
      const deliberate = error instanceof UplinkError || (error instanceof Error && this.codec.errorName(error) !== undefined);
      if (deliberate) this.clientLog.info({ ...where, error: (error as Error).name }, 'user code refused the call');
      else this.clientLog.error({ err: error, ...where }, 'user code failed');
    } catch {
      this.clientLog.error(where, 'user code failed with an error that cannot be described');
    }
  }

  /** Verifies a token and refuses revoked ones (the part of admission that can run at upgrade). */
  private async verifyToken(token: string | undefined, info: HandshakeInfo): Promise<Identity | undefined> {
    const identity = await this.authenticator.authenticate(token, info);
    if (this.revocations.isRevoked(identity)) throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'token revoked', { reason: 'ERR_TOKEN_REVOKED' });
    return identity;
  }

  // ---- ConnectionEnvironment ----

  async admitIdentity(token: string | undefined, info: HandshakeInfo, verified?: Identity, check?: (identity: Identity | undefined) => void): Promise<Identity | undefined> {
    const identity = verified ?? await this.verifyToken(token, info);
    check?.(identity);
    if (verified && this.revocations.isRevoked(identity)) throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'token revoked', { reason: 'ERR_TOKEN_REVOKED' });
    if (this.validateHandshake) await this.validateHandshake({ ...info, identity });
    return identity;
  }

  admitSubject(connection: Connection): boolean {
    const max = this.options.maxConnectionsPerSubject;
    const key = subjectKey(connection.identity);
    if (max === 0 || key === undefined) return true;
    const count = this.perSubject.get(key) ?? 0;
    if (count >= max) return false;
    this.perSubject.set(key, count + 1);
    return true;
  }

  releaseSubject(connection: Connection): void {
    const key = subjectKey(connection.identity);
    const count = key === undefined ? undefined : this.perSubject.get(key);
    if (count === undefined) return;
    if (count <= 1) this.perSubject.delete(key as string);
    else this.perSubject.set(key as string, count - 1);
  }

  connectionOpened(connection: Connection): void {
    this.logger.info({ conn: connection.id, remote: connection.remoteAddress, sub: connection.identity?.subject }, 'connection opened');
    if (this.hooks.onConnect) this.safeHook(() => this.hooks.onConnect?.(connection));
  }

  scheduleFlush(connection: Connection): void {
    this.toFlush.add(connection);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAll());
  }

  private flushAll(): void {
    this.flushScheduled = false;
    for (const c of this.toFlush) c.corkedFlush();
    this.toFlush.clear();
  }

  private safeHook(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error({ err: error }, 'connection hook failed');
    }
  }
}

/** A subject is only unique within its issuer. */
function subjectKey(identity: Identity | undefined): string | undefined {
  return identity === undefined ? undefined : `${identity.issuer ?? ''}\u0000${identity.subject}`;
}

/** The handshake hook as the connection calls it: whatever it throws refuses the client with FORBIDDEN (4403). */
function handshakeHook(hook: (info: HandshakeInfo) => void | Promise<void>): (info: HandshakeInfo) => Promise<void> {
  return async (info) => {
    try {
      await hook(info);
    } catch (error) {
      throw error instanceof UplinkError ? error : new UplinkError(ErrorCode.FORBIDDEN, error instanceof Error ? error.message : 'refused by the handshake hook');
    }
  };
}
