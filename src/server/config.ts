/**
 * Gateway options, their defaults, and how they are read from the environment (.env.example lists
 * every variable). Each uWS setting is chosen deliberately; the comments say why.
 */
import type { ClaimNames } from '../auth/access.js';
import { readFileSync } from 'node:fs';
import type { Authenticator, HandshakeInfo } from '../auth/authenticator.js';
import { JwtAuthenticator, type JwtOptions } from '../auth/jwt.js';
import type { Codec, CodecOptions } from '../protocol/codec.js';
import type { ConnectionInfo } from '../core/context.js';
import type { AccessPolicy } from '../host/local-host.js';
import type { HostCall, ObjectHost } from '../host/object-host.js';
import type { RemoteObjectHost } from '../host/remote-object-host.js';

import type { Logger } from './logger.js';
import type { ProxyHeader } from './http/client-address.js';
import type { TlsOptions } from './http/tls.js';
import type { Clock } from '../clock.js';

export interface GatewayOptions {
  host?: string;
  /** 0 picks a free port (see gateway.port after listen). */
  port?: number;
  /**
   * Largest inbound WebSocket message in bytes (the welcome's limits.maxPayload). Up to twice as large:
   * refused with PAYLOAD_TOO_LARGE, the connection stays; larger: close 1009; over four times: uWS drops
   * the connection (1006). 1 MiB by default: socket.io's default, and room for real documents.
   */
  maxPayloadLength?: number;
  /** Largest message accepted before the welcome (the hello with its token). */
  maxPayloadBeforeWelcome?: number;
  /** Seconds without traffic before uWS closes; it pings automatically before that. */
  idleTimeoutSec?: number;
  /** Outbound bytes buffered per socket before it is closed as a slow consumer. */
  maxBackpressure?: number;
  /** Connection lifetime in minutes (0: unlimited). */
  maxLifetimeMin?: number;
  maxConnections?: number;
  /** New connections per second from one source address (also the burst); more get HTTP 429. 0: no limit (the default, since a proxy in front makes every client one address). */
  maxConnectionsPerSecPerIp?: number;
  /** Open connections per authenticated subject; more are refused after the hello (close 4530). 0: no limit. */
  maxConnectionsPerSubject?: number;
  /** Frames per second per connection (also the burst); calls beyond get RATE_LIMITED, a sustained flood closes 4529. 0: no limit. */
  maxMessagesPerSec?: number;
  /** Largest encoded result or stream item a method may return; larger ones fail with LIMIT_EXCEEDED. */
  maxResultBytes?: number;
  /** Calls in flight per connection; more get BUSY (never an unbounded queue). */
  maxInflight?: number;
  /** Oneway calls running per connection; more are dropped and reported to onError. */
  maxOnewayInflight?: number;
  maxArgs?: number;
  /** Milliseconds a new socket has to send its hello. */
  helloTimeoutMs?: number;
  /** Advice sent in the goodbye frame: when clients should reconnect after a shutdown. */
  reconnectAfterMs?: number;
  /** Streams open at once per connection (more get LIMIT_EXCEEDED). */
  maxStreams?: number;
  /** Lingering streams per subject (anonymous callers: per address), and live streams per authenticated subject across its connections. At the cap the oldest lingering stream is cancelled; with none lingering, LIMIT_EXCEEDED. */
  maxStreamsPerSubject?: number;
  /** Live streams on this gateway in all, lingering ones included; more get LIMIT_EXCEEDED. */
  maxStreamsTotal?: number;
  /** Bytes of unacknowledged items a stream keeps for replay; it stops pulling above that. */
  streamMaxReplayBytes?: number;
  /** A stream may live this long (0: unlimited). */
  streamLifetimeMs?: number;
  /** A stream with no item and no credit for this long ends (0: never). */
  streamIdleMs?: number;
  /** How long a stream outlives its dropped connection, waiting for a resume (0: closed at once). */
  streamLingerMs?: number;
  /** Items sent but not acknowledged per stream (the replay buffer), and the most credit a client can hold. */
  streamMaxUnacked?: number;
  /** References per connection in each direction: server objects handed out, client callbacks held (LIMIT_EXCEEDED beyond). */
  maxRefsPerConnection?: number;
  /** Callbacks to one client waiting for their answer at once (a server method's callback gets BUSY beyond). */
  maxCallbacksInflight?: number;
  /** The longest a callback waits for the client (ms), unless the call being served ends sooner. */
  callbackTimeoutMs?: number;
  /** Items coalesced into one frame, at most. */
  streamMaxBatch?: number;
  /** Streams stop pulling while the socket's outbound buffer holds more bytes than this; they resume on drain. */
  streamHighWaterMark?: number;
  codec?: Codec | CodecOptions;
  /** Run on the slow pure-JS uWS shim when the native binary does not load (runtime 'uws' only). */
  allowJsFallback?: boolean;
  /**
   * The server runtime: 'uws' (uWebSockets.js, refuses to start without a native build), 'node'
   * (node:http / node:https and ws), or 'auto' (the default: uWS where a native build loads, else node).
   */
  runtime?: 'uws' | 'node' | 'auto';
  /** Send internal error messages and stacks to clients. Development only. */
  debugErrors?: boolean;
  logLevel?: string;
  logger?: Logger;
  authenticator?: Authenticator;
  /** Milliseconds after token expiry during which a refresh is still accepted (calls get TOKEN_EXPIRED); then close 4405. */
  expiryGraceMs?: number;
  /** Origins allowed to open a WebSocket (exact match, e.g. 'https://app.example.com'). Unset: no origin check. */
  allowedOrigins?: string[];
  /** Host names requests may carry in their Host header (ports ignored); others get 421. Stops DNS rebinding. Unset: no check. */
  allowedHosts?: string[];
  /** Log lines clients can cause (refusals, failed calls), per second and as a burst; the rest are counted in a summary line. 0: no cap. */
  maxClientLogLinesPerSec?: number;
  /** With allowedOrigins set, also admit upgrades without an Origin header (non-browser clients). */
  allowMissingOrigin?: boolean;
  /** Also accept `Authorization: Bearer <token>` at upgrade; an invalid one gets HTTP 401 before the socket opens. */
  acceptHeaderToken?: boolean;
  /** Also accept `?token=` in the URL (never logged). URLs leak into proxy logs: only when nothing else works. */
  acceptQueryToken?: boolean;
  /**
   * Which header those proxies write: `x-forwarded-for` (default: nginx, HAProxy, cloud load balancers)
   * or `forwarded` (RFC 7239). Only that one is read; the other is ignored even when present, so a
   * client cannot write its own into a request the proxy appends to.
   */
  trustProxyHeader?: ProxyHeader;
  /**
   * Addresses of reverse proxies whose Forwarded / X-Forwarded-For headers give the client's address
   * (for logs, per-address limits and the call context). Unset: the headers are ignored.
   */
  trustProxy?: string[];
  /** Serve wss:// and https:// with this certificate and key (checked when the gateway is created). */
  tls?: TlsOptions;
  /** Serve the files of this folder over HTTP (the web demo), loaded when the gateway starts listening. */
  staticDir?: string;
  /**
   * Prometheus metrics (docs/operations.md): served on their own address (`port`, `host`: default
   * 127.0.0.1) or, with `token` and no port, on the public port at GET /metrics behind
   * `Authorization: Bearer <token>`. Off when absent (no cost on the call path).
   */
  metrics?: { port?: number; host?: string; token?: string };
  /**
   * Serves the built-in `$admin` object (live connections, per-member figures, open streams, revoke)
   * to callers whose token has this scope. Off when absent. Needs `metrics` for the per-member figures.
   */
  adminScope?: string;
  /** Demo mode only: serve GET /demo/token, minting tokens with this secret. UNSAFE: anyone can get a token. */
  demoTokens?: { secret: string; ttlSec?: number; issuer?: string; audience?: string };
  authorize?: AccessPolicy;
  /** Where calls go instead of the local registry (an object host in another process, a test double). */
  objectHost?: ObjectHost;
  /**
   * Objects served in other processes (object hosts on NATS: NatsObjectHost from `uplink/nats`): calls
   * to objects not registered here go there, `$uplink` lists and describes them, and, on a cluster,
   * revocations are shared with the other gateways and GET /ready reports the link. Objects
   * registered here, `$uplink` included, stay here.
   */
  remoteObjects?: RemoteObjectHost;
  /** Time for every timer of the gateway (deadlines, expiry, streams, rate limits); tests inject a fake one. */
  clock?: Clock;
  /** Claims that hold scopes and roles for objects' `access` rules (default 'scope' and 'roles'). */
  claimNames?: ClaimNames;
  /** Extra admission check after authentication (Pyro's validateHandshake); throw to refuse. */
  validateHandshake?: (info: HandshakeInfo) => void | Promise<void>;
  onConnect?: (connection: ConnectionInfo) => void;
  onDisconnect?: (connection: ConnectionInfo, code: number) => void;
  /** Receives every failure of user code, with the full error (the client only gets a redacted body). */
  onError?: (error: unknown, call: HostCall) => void;
}

export const gatewayDefaults = {
  host: '127.0.0.1',
  port: 8080,
  maxPayloadLength: 1024 * 1024,
  maxPayloadBeforeWelcome: 8 * 1024,
  idleTimeoutSec: 120,
  maxBackpressure: 4 * 1024 * 1024,
  maxLifetimeMin: 0,
  maxConnections: 100_000,
  maxConnectionsPerSecPerIp: 0,
  maxConnectionsPerSubject: 0,
  maxMessagesPerSec: 0,
  maxResultBytes: 2 * 1024 * 1024,
  maxInflight: 64,
  maxOnewayInflight: 16,
  maxArgs: 64,
  helloTimeoutMs: 10_000,
  reconnectAfterMs: 1_000,
  expiryGraceMs: 25_000,
  maxStreams: 128,
  maxStreamsPerSubject: 256,
  maxStreamsTotal: 20_000,
  streamMaxReplayBytes: 1024 * 1024,
  streamLifetimeMs: 3_600_000,
  streamIdleMs: 600_000,
  streamLingerMs: 30_000,
  streamMaxUnacked: 4_096,
  maxRefsPerConnection: 1_024,
  maxCallbacksInflight: 64,
  callbackTimeoutMs: 30_000,
  streamMaxBatch: 1_024,
  streamHighWaterMark: 256 * 1024,
  allowMissingOrigin: false,
  maxClientLogLinesPerSec: 100,
  acceptHeaderToken: false,
  acceptQueryToken: false,
  allowJsFallback: false,
  runtime: 'auto' as 'uws' | 'node' | 'auto',
  debugErrors: false,
  logLevel: 'info',
} satisfies Partial<GatewayOptions>;

type Env = Record<string, string | undefined>;

function int(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return value;
}

function flag(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be a boolean (1/0, true/false), got '${raw}'`);
}

/** A comma-separated list; unset or empty: undefined. */
function list(raw: string | undefined): string[] | undefined {
  const items = raw?.split(',').map((item) => item.trim()).filter(Boolean);
  return items?.length ? items : undefined;
}

/** Drops undefined fields, so that spreading over defaults keeps the defaults. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** UPLINK_METRICS_PORT / _HOST (their own address) or UPLINK_METRICS_TOKEN (on the public port); unset: off. */
function metricsFromEnv(env: Env): GatewayOptions['metrics'] {
  const port = int(env, 'UPLINK_METRICS_PORT');
  const token = env.UPLINK_METRICS_TOKEN || undefined;
  if (port === undefined && token === undefined) return undefined;
  return definedOnly({ port, host: env.UPLINK_METRICS_HOST || undefined, token });
}

/** Gateway options from UPLINK_* variables; unset variables keep the defaults. */
export function optionsFromEnv(env: Env = process.env): GatewayOptions {
  return definedOnly({
    host: env.UPLINK_HOST || undefined,
    port: int(env, 'UPLINK_PORT'),
    metrics: metricsFromEnv(env),
    adminScope: env.UPLINK_ADMIN_SCOPE || undefined,
    maxPayloadLength: int(env, 'UPLINK_MAX_PAYLOAD'),
    maxPayloadBeforeWelcome: int(env, 'UPLINK_MAX_PAYLOAD_BEFORE_WELCOME'),
    idleTimeoutSec: int(env, 'UPLINK_IDLE_TIMEOUT_SEC'),
    maxBackpressure: int(env, 'UPLINK_MAX_BACKPRESSURE'),
    maxLifetimeMin: int(env, 'UPLINK_MAX_LIFETIME_MIN'),
    maxConnections: int(env, 'UPLINK_MAX_CONNECTIONS'),
    maxConnectionsPerSecPerIp: int(env, 'UPLINK_MAX_CONNECTIONS_PER_SEC_PER_IP'),
    maxConnectionsPerSubject: int(env, 'UPLINK_MAX_CONNECTIONS_PER_SUBJECT'),
    maxMessagesPerSec: int(env, 'UPLINK_MAX_MESSAGES_PER_SEC'),
    maxResultBytes: int(env, 'UPLINK_MAX_RESULT_BYTES'),
    maxInflight: int(env, 'UPLINK_MAX_INFLIGHT'),
    maxOnewayInflight: int(env, 'UPLINK_MAX_ONEWAY_INFLIGHT'),
    maxArgs: int(env, 'UPLINK_MAX_ARGS'),
    helloTimeoutMs: int(env, 'UPLINK_HELLO_TIMEOUT_MS'),
    allowJsFallback: flag(env, 'UPLINK_ALLOW_JS_FALLBACK'),
    runtime: runtimeChoice(env.UPLINK_RUNTIME),
    debugErrors: flag(env, 'UPLINK_DEBUG_ERRORS'),
    logLevel: env.UPLINK_LOG_LEVEL || undefined,
    expiryGraceMs: int(env, 'UPLINK_EXPIRY_GRACE_MS'),
    maxStreams: int(env, 'UPLINK_MAX_STREAMS'),
    maxStreamsPerSubject: int(env, 'UPLINK_MAX_STREAMS_PER_SUBJECT'),
    maxStreamsTotal: int(env, 'UPLINK_MAX_STREAMS_TOTAL'),
    streamMaxReplayBytes: int(env, 'UPLINK_STREAM_MAX_REPLAY_BYTES'),
    streamLifetimeMs: int(env, 'UPLINK_STREAM_LIFETIME_MS'),
    streamIdleMs: int(env, 'UPLINK_STREAM_IDLE_MS'),
    streamLingerMs: int(env, 'UPLINK_STREAM_LINGER_MS'),
    maxRefsPerConnection: int(env, 'UPLINK_MAX_REFS_PER_CONNECTION'),
    maxCallbacksInflight: int(env, 'UPLINK_MAX_CALLBACKS_INFLIGHT'),
    callbackTimeoutMs: int(env, 'UPLINK_CALLBACK_TIMEOUT_MS'),
    allowedOrigins: list(env.UPLINK_ALLOWED_ORIGINS),
    allowMissingOrigin: flag(env, 'UPLINK_ALLOW_MISSING_ORIGIN'),
    allowedHosts: list(env.UPLINK_ALLOWED_HOSTS),
    trustProxy: list(env.UPLINK_TRUST_PROXY),
    trustProxyHeader: proxyHeader(env.UPLINK_TRUST_PROXY_HEADER),
    maxClientLogLinesPerSec: int(env, 'UPLINK_MAX_CLIENT_LOG_LINES_PER_SEC'),
    acceptHeaderToken: flag(env, 'UPLINK_AUTH_HEADER'),
    acceptQueryToken: flag(env, 'UPLINK_AUTH_QUERY'),
    authenticator: jwtFromEnv(env),
    tls: env.UPLINK_TLS_CERT_FILE || env.UPLINK_TLS_KEY_FILE
      ? definedOnly({
        certFile: env.UPLINK_TLS_CERT_FILE ?? '', keyFile: env.UPLINK_TLS_KEY_FILE ?? '',
        passphrase: env.UPLINK_TLS_PASSPHRASE || undefined, caFile: env.UPLINK_TLS_CA_FILE || undefined,
      }) as TlsOptions
      : undefined,
    claimNames: env.UPLINK_SCOPE_CLAIM || env.UPLINK_ROLES_CLAIM
      ? { scope: env.UPLINK_SCOPE_CLAIM || 'scope', roles: env.UPLINK_ROLES_CLAIM || 'roles' }
      : undefined,
  });
}

/** JWT authentication when a secret, a public key or a JWKS URL is configured; otherwise none (anonymous). */
function jwtFromEnv(env: Env): JwtAuthenticator | undefined {
  const secret = env.UPLINK_JWT_SECRET || undefined;
  const keyText = env.UPLINK_JWT_PUBLIC_KEY || undefined;
  const jwksUrl = env.UPLINK_JWKS_URL || undefined;
  if (!secret && !keyText && !jwksUrl) return undefined;
  const algorithms = env.UPLINK_JWT_ALGORITHMS?.split(',').map((a) => a.trim()).filter(Boolean) ?? (secret ? ['HS256'] : ['RS256', 'ES256', 'EdDSA']);
  const publicKey = keyText && !keyText.includes('-----BEGIN') ? readFileSync(keyText, 'utf8') : keyText;
  return new JwtAuthenticator(definedOnly({
    algorithms, secret, publicKey, jwksUrl,
    issuer: env.UPLINK_JWT_ISSUER || undefined,
    audience: env.UPLINK_JWT_AUDIENCE || undefined,
    clockToleranceSec: int(env, 'UPLINK_JWT_CLOCK_TOLERANCE_SEC'),
    tokenType: env.UPLINK_JWT_TYPE || undefined,
    maxTokenAgeSec: int(env, 'UPLINK_JWT_MAX_AGE_SEC'),
  }) as JwtOptions);
}

/** UPLINK_RUNTIME: which server runtime runs the gateway. */
function runtimeChoice(value: string | undefined): GatewayOptions['runtime'] {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'uws' || v === 'node' || v === 'auto') return v;
  throw new Error(`UPLINK_RUNTIME must be 'uws', 'node' or 'auto', not '${value}'`);
}

/** UPLINK_TRUST_PROXY_HEADER: which forwarding header the trusted proxies write. */
function proxyHeader(value: string | undefined): ProxyHeader | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'forwarded' || v === 'x-forwarded-for') return v;
  throw new Error(`UPLINK_TRUST_PROXY_HEADER must be 'x-forwarded-for' or 'forwarded', not '${value}'`);
}
