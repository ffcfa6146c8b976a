/**
 * What a client is configured with and what it reports: options, states, the session it got.
 */
import type { Clock } from '../clock.js';
import type { Codec } from '../protocol/codec.js';
import type { WelcomeFrame } from '../protocol/frames.js';

export interface ClientOptions {
  /**
   * The token, or a function that returns a fresh one. With a function the client refreshes the token
   * in-band before it expires (no reconnect).
   */
  token?: string | (() => string | Promise<string>);
  /**
   * How the first token travels: in the hello frame (default; works in browsers), the Authorization
   * header (Node only; the gateway must accept it), or the query string (only where nothing else works).
   */
  tokenTransport?: 'hello' | 'header' | 'query';
  /**
   * How the client reaches the gateway: `websocket`; `http` (calls as HTTP requests, streams as
   * server-sent events: for networks that refuse WebSocket upgrades; no callbacks, references,
   * batches or binary values); `auto` tries WebSocket and falls back to HTTP when the upgrade fails
   * (also when the gateway itself refused it: draining, full, a bad token at the upgrade; the HTTP
   * hello then says why). Default `websocket`. `session.transport` says which one is in use.
   */
  transport?: 'auto' | 'websocket' | 'http';
  /** Called when an in-band token refresh fails (the client retries a few times before expiry). */
  onRefreshError?: (error: Error) => void;
  /** Default per-call timeout in milliseconds (0: none). */
  timeoutMs?: number;
  /** How long to wait for the welcome. */
  connectTimeoutMs?: number;
  /** Interval of application pings; the connection counts as lost when a pong is late. 0 disables. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  codec?: Codec;
  /** Called once when the client ends for good, with the close code and any goodbye advice. */
  onClose?: (info: { code: number; reason: string; goodbye: Goodbye | undefined }) => void;
  /**
   * Reconnect after a transient close (shutdown, network loss), with exponential backoff and jitter,
   * a fresh token from the token function, and open streams resumed. On by default.
   */
  reconnect?: boolean | ReconnectOptions;
  /** Items a stream may have in flight to this client at first (its credit window; 256 by default). */
  streamWindow?: number;
  /**
   * The largest window a stream's grows to while its producer waits on the round trip (8192 by
   * default; never more than 8 MiB of items at their average size). Equal to streamWindow: fixed.
   */
  streamWindowMax?: number;
  /** Called on every connection state change. */
  onStateChange?: (state: ClientState) => void;
  /** Time for timeouts, keepalive, refresh and backoff (default: the system clock); tests inject a fake one. */
  clock?: Clock;
}

/** What the gateway said when it welcomed this client. */
export interface SessionInfo {
  /** The gateway's id for this connection (it appears in the gateway's log lines). */
  connectionId: string;
  /** The gateway's name and version. */
  server: string;
  protocolVersion: number;
  limits: { maxPayload: number; maxInflight: number; maxArgs: number; maxRefs?: number };
  /** The transport in use (ClientOptions.transport: `auto` settles on one per connection). */
  transport?: 'websocket' | 'http';
  /** When the token expires (epoch ms, the gateway's clock), if it does. */
  tokenExpiresAt?: number;
  /** Milliseconds the token had left when the welcome was sent (immune to clock skew). */
  tokenExpiresIn?: number;
}

/** The gateway's parting advice when it shuts down. */
export interface Goodbye {
  reason: string;
  /** When to come back, in ms. */
  reconnectMs?: number;
}

export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before giving up (default: unlimited). */
  maxAttempts?: number;
  /** Calls made while reconnecting wait in a queue of this size; beyond it (or with 0) they fail fast. */
  queueSize?: number;
}

export type ClientState = 'open' | 'reconnecting' | 'closed';



/** The session as the welcome frame describes it (the wire's names stay in protocol/). */
export function sessionInfo(frame: WelcomeFrame): SessionInfo {
  return {
    connectionId: frame.conn, server: frame.server, protocolVersion: frame.v, limits: frame.limits,
    ...(frame.exp !== undefined ? { tokenExpiresAt: frame.exp } : {}),
    ...(frame.expIn !== undefined ? { tokenExpiresIn: frame.expIn } : {}),
  };
}
