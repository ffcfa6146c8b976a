/**
 * The one interface a host of objects in other processes implements to plug into a gateway
 * (`new Gateway({ remoteObjects })`; NatsObjectHost from `uplink/nats` is one). The gateway sends it
 * every call, stream and resume for an object it does not serve itself, lists and describes its
 * objects in `$uplink` with the local ones, and, when it links gateways into a cluster, shares
 * revocations through it and reports its state in GET /ready and the metrics.
 */
import type { Logger } from 'pino';
import type { RevocationTarget } from '../auth/revocations.js';
import type { Identity } from '../core/context.js';
import type { ObjectMetadata } from './members.js';
import type { ObjectHost } from './object-host.js';

/** The link's connection and how many peers it sees live (metrics gauges). */
export interface RemoteHostState {
  connected: boolean;
  peers: number;
}

export interface RemoteObjectHost extends ObjectHost {
  /** Ids of remote objects `identity` may see, optionally matching a prefix or `*` pattern (`$uplink.list`). */
  listObjects(identity: Identity | undefined, pattern: string | undefined): Promise<string[]>;
  /** What `identity` may use of a remote object, or undefined when it is unknown or hidden (`$uplink.metadata`). */
  describeObject(identity: Identity | undefined, id: string): Promise<ObjectMetadata | undefined>;
  /** A revocation made on this gateway: tell the other gateways of the cluster. */
  publishRevocation?(target: RevocationTarget): void;
  /** Revocations made on other gateways: the gateway applies them as its own. */
  onRevocations?(handler: (target: RevocationTarget) => void): void;
  /** 'ok', or why this gateway cannot reach its remote objects now (GET /ready answers 503 with it). */
  readiness?(): string;
  state?(): RemoteHostState;
  /** Where the link logs disconnects, reconnects and lost hosts (the gateway's logger). */
  useLogger?(logger: Logger): void;
}
