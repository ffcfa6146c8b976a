/**
 * The WebSocket upgrade: every check that can run before a socket exists, cheapest first, each
 * refusal an HTTP status (421 host, 503 draining or full, 400/426/431 malformed, 429 rate, 403 origin,
 * 401 token). A token sent with the request is verified here, so a bad one never gets a socket. One
 * implementation for every runtime: it sees the request through the runtime seam (UpgradeRequest).
 */
import type { HandshakeInfo } from '../../auth/authenticator.js';
import type { Identity } from '../../core/context.js';
import { ErrorCode, UplinkError } from '../../protocol/errors.js';
import type { PeerInfo } from '../connection/connection-environment.js';
import { checkUpgradeRequest, selectSubprotocol } from '../connection/handshake.js';
import type { ClientLog } from '../logger.js';
import type { KeyedRateLimit } from '../connection/rate-limit.js';
import type { UpgradeRequest } from '../runtime/runtime.js';

/** The request's head as the checks read it (an UpgradeRequest or an HttpExchange). */
export interface RequestHead {
  readonly query: string;
  readonly remoteAddress: string;
  header(name: string): string;
}

export interface UpgradeGate {
  readonly clientLog: ClientLog;
  /** New connections per second per source address, when limited. */
  readonly connectRate: KeyedRateLimit | undefined;
  hostAllowed(req: RequestHead): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** Why no new connection is taken now ('shutting down', 'too many connections'), or undefined. */
  refusal(): string | undefined;
  /** The client's address for a request from `peer` (forwarding headers count only from trusted proxies). */
  clientAddress(req: RequestHead): string;
  /** A token sent with the request, where configuration allows that transport. */
  upgradeToken(req: RequestHead): string | undefined;
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

/** A query parameter, percent-decoded; '' when absent or undecodable. */
export function queryParameter(query: string, name: string): string {
  try {
    return new URLSearchParams(query).get(name) ?? '';
  } catch {
    return '';
  }
}

/** A token sent with the upgrade request, where configuration allows that transport. */
export function upgradeToken(req: RequestHead, acceptHeader: boolean, acceptQuery: boolean): string | undefined {
  if (acceptHeader) {
    const match = /^Bearer\s+(\S+)$/i.exec(req.header('authorization'));
    if (match) return match[1];
  }
  if (acceptQuery) {
    const token = queryParameter(req.query, 'token');
    if (token) return token;
  }
  return undefined;
}

/** The upgrade handler for `gate`: refuses with a status or accepts with the peer's facts. */
export function upgradeHandler(gate: UpgradeGate): (req: UpgradeRequest) => void {
  return (req) => {
    const refuse = (reason: string): void => gate.refused?.(reason);
    if (!gate.hostAllowed(req)) {
      refuse('host');
      return req.refuse(421, {}, 'host not allowed');
    }
    const busy = gate.refusal();
    if (busy) {
      refuse(busy === 'shutting down' ? 'draining' : 'capacity');
      return req.refuse(503, {}, busy);
    }
    if (refuseMalformed(req)) return refuse('malformed');
    const remoteAddress = gate.clientAddress(req);
    if (gate.connectRate && !gate.connectRate.take(remoteAddress)) {
      refuse('rate');
      return req.refuse(429, { 'Retry-After': '1' }, 'too many new connections from this address');
    }
    const origin = req.header('origin') || undefined;
    if (!gate.originAllowed(origin)) {
      refuse('origin');
      gate.clientLog.warn({ origin: origin ?? null }, 'upgrade refused: origin not allowed');
      return req.refuse(403, {}, 'origin not allowed');
    }
    const data: PeerInfo = { remoteAddress, origin, userAgent: req.header('user-agent') || undefined };
    const protocol = selectSubprotocol(req.header('sec-websocket-protocol'));
    const token = gate.upgradeToken(req);
    if (token === undefined) return req.accept(data, protocol);
    gate.verifyToken(token, { ...data, identity: undefined }).then((identity) => {
      if (req.aborted) return;
      req.accept({ ...data, identity }, protocol);
    }).catch((error: unknown) => {
      if (req.aborted) return;
      const code = error instanceof UplinkError ? error.code : ErrorCode.UNAUTHENTICATED;
      refuse(code);
      gate.clientLog.warn({ remote: data.remoteAddress, code }, 'upgrade refused: invalid token');
      req.refuse(401, { 'WWW-Authenticate': 'Bearer' }, code);
    });
  };
}

/** Answers a malformed upgrade request (handshake.ts says what is checked); true when it did. */
function refuseMalformed(req: UpgradeRequest): boolean {
  const refusal = checkUpgradeRequest({
    upgrade: req.header('upgrade'), connection: req.header('connection'),
    key: req.header('sec-websocket-key'), version: req.header('sec-websocket-version'), headerBytes: req.headerBytes,
  });
  if (!refusal) return false;
  req.refuse(Number(refusal.status.slice(0, 3)), refusal.headers, refusal.body);
  return true;
}
