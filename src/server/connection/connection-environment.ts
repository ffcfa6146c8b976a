/**
 * What a connection needs from its gateway, and what it knows of its peer. The gateway builds one
 * environment for all its connections; a unit test builds its own.
 */
import type { HandshakeInfo } from '../../auth/authenticator.js';
import type { Clock } from '../../clock.js';
import type { ConnectionInfo, Identity } from '../../core/context.js';
import type { ObjectHost } from '../../host/object-host.js';
import type { Codec } from '../../protocol/codec.js';
import type { gatewayDefaults } from '../config.js';
import type { Deadlines } from '../deadlines.js';
import type { ClientLog, Logger } from '../logger.js';
import type { FlushQueue } from './flush-queue.js';
import type { GatewayMetrics } from '../metrics.js';

export type ResolvedOptions = typeof gatewayDefaults & { server: string; maxAttachments: number; clockToleranceMs: number };

/** What a connection needs from its gateway. */
export interface ConnectionEnvironment {
  readonly objectHost: ObjectHost;
  readonly codec: Codec;
  readonly options: ResolvedOptions;
  readonly clock: Clock;
  /** Prometheus metrics, when on. */
  readonly metrics: GatewayMetrics | undefined;
  /** Call deadlines of every connection, on one timer. */
  readonly deadlines: Deadlines;
  readonly logs: ConnectionLogs;
  readonly sessions: SessionGate;
  /** The write pass every connection's outbox waits for (flush-queue.ts). */
  readonly flushQueue: FlushQueue;
}

export interface ConnectionLogs {
  readonly logger: Logger;
  /** Log lines a client can cause: rate-limited, client text escaped. */
  readonly clientLog: ClientLog;
  /** A debug line per answered call (only when the log level is debug or lower). */
  readonly calls: boolean;
}

/** The gateway's say over sessions: who may open one, and hearing that one opened or closed. */
export interface SessionGate {
  readonly draining: boolean;
  /**
   * The one admission path for every new identity, at hello and on refresh alike: the token is
   * verified (unless the upgrade request did it: `verified`), `check` runs on the result, then
   * revocation and the handshake hook. Rejects with the refusal.
   */
  admitIdentity(token: string | undefined, info: HandshakeInfo, verified?: Identity, check?: (identity: Identity | undefined) => void): Promise<Identity | undefined>;
  /** Counts a connection against its subject's connection cap; false when the cap is reached. */
  admitSubject(identity: Identity | undefined): boolean;
  /** The welcome went out (the onConnect hook, the log line). */
  opened(connection: ConnectionInfo): void;
  /** An open connection closed: its subject's count goes down. */
  closed(identity: Identity | undefined): void;
}

/** Who is at the other end, as the upgrade request told (kept by the transport per socket). */
export interface PeerInfo {
  remoteAddress: string;
  origin: string | undefined;
  userAgent: string | undefined;
  /** Set when the token came with the upgrade request (Authorization header or query string) and was verified. */
  identity?: Identity | undefined;
}
