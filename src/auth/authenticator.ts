/**
 * How a connection proves who it is. The gateway calls the authenticator with the token from the
 * hello frame before anything is dispatched; a rejection closes the socket with 4401.
 */
import type { Identity } from '../core/context.js';

/** What is known about a connecting client at handshake time. */
export interface HandshakeInfo {
  remoteAddress: string;
  origin: string | undefined;
  userAgent: string | undefined;
  identity: Identity | undefined;
}

export interface Authenticator {
  /** Resolves the caller's identity (undefined: anonymous) or rejects with an UplinkError. */
  authenticate(token: string | undefined, info: HandshakeInfo): Promise<Identity | undefined>;
  /** Clock skew the verifier tolerates; the gateway enforces expiry on live connections with the same slack. */
  readonly clockToleranceSec?: number;
  /** Loads what verification needs from elsewhere (remote keys), so that failures show at start. */
  warmUp?(): Promise<void>;
  /** 'ok', or why new clients cannot be authenticated now (GET /ready answers 503 with it). */
  health?(): string;
  /** Subscribes to fetches of remote keys (metrics): true for a fetch that succeeded. */
  onKeyFetch?(listener: (ok: boolean) => void): void;
}

/** Accepts everyone as anonymous and ignores tokens: for development and the core tests only. */
export const anonymousAuthenticator: Authenticator = {
  authenticate: () => Promise.resolve(undefined),
};
