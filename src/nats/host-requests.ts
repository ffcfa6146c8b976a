/**
 * What a host does with the cluster's messages that are not calls: listings asked by a gateway,
 * gateway events (beats, closed connections, released references) and revocations. Each message is
 * checked here before anything is believed: a gateway id of the right shape, arrays of the right
 * element types, and a gateway speaking only of its own connections.
 */
import type { Msg } from '@nats-io/transport-node';
import type { RevocationTarget } from '../auth/revocations.js';
import type { Identity } from '../core/context.js';
import { ErrorCode, errorBody } from '../protocol/errors.js';
import type { LocalObjectHost } from '../host/local-host.js';
import { bytesJson, isNodeId } from './envelope.js';
import type { RemoteConnections } from './remote-connections.js';

/** The answer to `list` or `meta` for `identity`, over the objects this host serves; undefined for anything else. */
export function listingAnswer(host: LocalObjectHost, served: readonly string[], what: string, identity: Identity | undefined, question: { pattern?: unknown; id?: unknown }): unknown {
  const pattern = typeof question.pattern === 'string' ? question.pattern : undefined;
  const id = typeof question.id === 'string' ? question.id : '';
  if (what === 'list') return host.list(identity, pattern).filter((object) => served.includes(object));
  if (what !== 'meta') return undefined;
  try {
    if (!served.includes(id)) throw new Error('not served here');
    return { ok: host.metadata(identity, id) };
  } catch {
    return { error: errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${id.slice(0, 256)}'`) };
  }
}

/**
 * `uplink.evt.gw.<gateway>` (a beat), `.release` (closed connections) or `.unref` (references let go
 * of), applied to the host's connections; returns the gateway's id, or undefined when it has none.
 */
export function applyGatewayEvent(msg: Msg, connections: RemoteConnections): string | undefined {
  const [, , , gateway, what] = msg.subject.split('.');
  if (!isNodeId(gateway)) return undefined;
  const own = (id: unknown): id is string => typeof id === 'string' && id.startsWith(`${gateway}/`); // a gateway speaks only of its own connections
  if (what === 'release') {
    const ids = bytesJson<unknown>(msg.data);
    if (Array.isArray(ids)) for (const id of ids) if (own(id)) connections.release(id);
  }
  if (what === 'unref') {
    const entries = bytesJson<unknown>(msg.data);
    if (!Array.isArray(entries)) return gateway;
    for (const entry of entries) {
      if (!Array.isArray(entry) || !own(entry[0]) || typeof entry[1] !== 'string') continue;
      const received = Number.isSafeInteger(entry[2]) && (entry[2] as number) > 0 ? entry[2] as number : undefined;
      connections.releaseReference(entry[0], entry[1], received);
    }
  }
  return gateway;
}

/** A revocation on `uplink.evt.revoke`: a subject or a token id (non-empty strings), or undefined. */
export function revocationOf(data: Uint8Array): RevocationTarget | undefined {
  const target = bytesJson<{ subject?: unknown; tokenId?: unknown }>(data);
  if (typeof target !== 'object' || target === null) return undefined;
  const subject = typeof target.subject === 'string' && target.subject ? target.subject : undefined;
  const tokenId = typeof target.tokenId === 'string' && target.tokenId ? target.tokenId : undefined;
  if (subject === undefined && tokenId === undefined) return undefined;
  return { ...(subject ? { subject } : {}), ...(tokenId ? { tokenId } : {}) };
}
