/**
 * The WebSocket upgrade: every check that can run before a socket exists, cheapest first, each
 * refusal an HTTP status (421 host, 503 draining or full, 400/426 malformed, 429 rate, 403 origin,
 * 401 token). A token sent with the request is verified here, so a bad one never gets a socket.
 */
import type uws from 'uWebSockets.js';
import type { HandshakeInfo } from '../../auth/authenticator.js';
import type { Identity } from '../../core/context.js';
import { ErrorCode, UplinkError } from '../../protocol/errors.js';
import type { PeerInfo } from '../connection/connection-environment.js';
import { checkUpgradeRequest, selectSubprotocol } from '../connection/handshake.js';
import type { ClientLog } from '../logger.js';
import type { KeyedRateLimit } from '../connection/rate-limit.js';

/** What uWS keeps per socket: the peer as the upgrade saw it, and the connection once open. */
export interface SocketData<C> extends PeerInfo {
  connection?: C;
}

export interface UpgradeGate {
  readonly clientLog: ClientLog;
  /** New connections per second per source address, when limited. */
  readonly connectRate: KeyedRateLimit | undefined;
  hostAllowed(req: uws.HttpRequest): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** Why no new connection is taken now ('shutting down', 'too many connections'), or undefined. */
  refusal(): string | undefined;
  /** The client's address for a request from `peer` (forwarding headers count only from trusted proxies). */
  clientAddress(peer: string, req: uws.HttpRequest): string;
  /** A token sent with the request, where configuration allows that transport. */
  upgradeToken(req: uws.HttpRequest): string | undefined;
  verifyToken(token: string, info: HandshakeInfo): Promise<Identity | undefined>;
  /** An upgrade refused, and why ('host', 'draining', 'capacity', 'malformed', 'rate', 'origin', or the token's error code): for metrics. */
  refused?(reason: string): void;
}

/** Whether an upgrade from `origin` may proceed (no allow-list: all; no Origin header: only where allowed). */
export function originAllowed(allowed: readonly string[] | undefined, allowMissing: boolean, origin: string | undefined): boolean {
  if (!allowed) return true;
  if (origin === undefined) return allowMissing;
  return allowed.includes(origin);
}

/** A token sent with the upgrade request, where configuration allows that transport. */
export function upgradeToken(req: uws.HttpRequest, acceptHeader: boolean, acceptQuery: boolean): string | undefined {
  if (acceptHeader) {
    const match = /^Bearer\s+(\S+)$/i.exec(req.getHeader('authorization'));
    if (match) return match[1];
  }
  if (acceptQuery) {
    const token = req.getQuery('token');
    if (token) return token;
  }
  return undefined;
}

/** The uWS upgrade handler for `gate`. */
export function upgradeHandler<C>(gate: UpgradeGate): (res: uws.HttpResponse, req: uws.HttpRequest, context: uws.us_socket_context_t) => void {
  return (res, req, context) => {
    const refuse = (reason: string): void => gate.refused?.(reason);
    if (!gate.hostAllowed(req)) {
      refuse('host');
      return void res.writeStatus('421 Misdirected Request').end('host not allowed');
    }
    const busy = gate.refusal();
    if (busy) {
      refuse(busy === 'shutting down' ? 'draining' : 'capacity');
      return void res.writeStatus('503 Service Unavailable').end(busy);
    }
    if (refuseMalformed(res, req)) return refuse('malformed');
    const remoteAddress = gate.clientAddress(Buffer.from(res.getRemoteAddressAsText()).toString(), req);
    if (gate.connectRate && !gate.connectRate.take(remoteAddress)) {
      refuse('rate');
      res.writeStatus('429 Too Many Requests').writeHeader('Retry-After', '1').end('too many new connections from this address');
      return;
    }
    const origin = req.getHeader('origin') || undefined;
    if (!gate.originAllowed(origin)) {
      refuse('origin');
      gate.clientLog.warn({ origin: origin ?? null }, 'upgrade refused: origin not allowed');
      return void res.writeStatus('403 Forbidden').end('origin not allowed');
    }
    const data: SocketData<C> = { remoteAddress, origin, userAgent: req.getHeader('user-agent') || undefined };
    // Headers must be read before the handler returns: uWS reuses the request.
    const key = req.getHeader('sec-websocket-key');
    const protocol = selectSubprotocol(req.getHeader('sec-websocket-protocol'));
    const extensions = req.getHeader('sec-websocket-extensions');
    const token = gate.upgradeToken(req);
    if (token === undefined) return void res.upgrade(data, key, protocol, extensions, context);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    gate.verifyToken(token, { ...data, identity: undefined }).then((identity) => {
      if (aborted) return;
      data.identity = identity;
      res.cork(() => res.upgrade(data, key, protocol, extensions, context));
    }).catch((error: unknown) => {
      if (aborted) return;
      const code = error instanceof UplinkError ? error.code : ErrorCode.UNAUTHENTICATED;
      refuse(code);
      gate.clientLog.warn({ remote: data.remoteAddress, code }, 'upgrade refused: invalid token');
      res.cork(() => res.writeStatus('401 Unauthorized').writeHeader('WWW-Authenticate', 'Bearer').end(code));
    });
  };
}

/** Answers a malformed upgrade request (handshake.ts says what is checked); true when it did. */
function refuseMalformed(res: uws.HttpResponse, req: uws.HttpRequest): boolean {
  let headerBytes = 0;
  req.forEach((name, value) => (headerBytes += name.length + value.length));
  const refusal = checkUpgradeRequest({
    upgrade: req.getHeader('upgrade'), connection: req.getHeader('connection'),
    key: req.getHeader('sec-websocket-key'), version: req.getHeader('sec-websocket-version'), headerBytes,
  });
  if (!refusal) return false;
  res.cork(() => {
    res.writeStatus(refusal.status);
    for (const [k, v] of Object.entries(refusal.headers)) res.writeHeader(k, v);
    res.end(refusal.body);
  });
  return true;
}
