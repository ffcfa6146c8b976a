/**
 * NATS service discovery (ADR-32, the `$SRV` subjects), answered by every object host so standard
 * tooling (`nats micro ls`, `nats micro info uplink-host`) lists the hosts and their objects. Written
 * here because the npm `@nats-io/services` is a stale pre-release; this is the four JSON shapes of
 * the ADR and nothing else. Each object is one endpoint on `uplink.call.<object>`, queue `uplink`.
 *
 * Invariant: answers go only to a requester's `_INBOX.` subject. Anyone allowed to ask `$SRV` chooses
 * the reply subject; an answer sent where it pointed (a host's heartbeat subject, a gateway's inbox,
 * the revocation subject) would be taken by gateways for a message of the cluster's own.
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import { CALL_SUBJECT_PREFIX, isRequestInbox, jsonBytes, QUEUE_GROUP } from './envelope.js';
import type { NatsLink } from './nats-link.js';
import { publish } from './publish.js';

export const SERVICE_NAME = 'uplink-host';
export const SERVICE_VERSION = '1.0.0';

export interface EndpointStats { requests: number; errors: number; lastError: string; processingNs: number }

export interface DiscoverySource {
  id: string;
  name: string;
  started: Date;
  objects(): string[];
  stats(object: string): EndpointStats;
}

export class ServiceDiscovery {
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly link: NatsLink, private readonly source: DiscoverySource) {
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${SERVICE_NAME}`, `$SRV.${verb}.${SERVICE_NAME}.${source.id}`]) {
        this.subscriptions.push(link.subscribe(subject, (msg) => this.answer(verb, msg)));
      }
    }
  }

  stop(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  private answer(verb: 'PING' | 'INFO' | 'STATS', msg: Msg): void {
    if (!isRequestInbox(msg.reply)) return;
    const reply = msg.reply;
    const respond = (answer: object): void => void publish(this.link.nc, reply, jsonBytes(answer));
    const { id, name } = this.source;
    const base = { name: SERVICE_NAME, id, version: SERVICE_VERSION, metadata: { host: name } };
    if (verb === 'PING') return respond({ type: 'io.nats.micro.v1.ping_response', ...base });
    const objects = this.source.objects();
    if (verb === 'INFO') {
      const endpoints = objects.map((object) => ({ name: endpointName(object), subject: CALL_SUBJECT_PREFIX + object, queue_group: QUEUE_GROUP, metadata: { object } }));
      return respond({ type: 'io.nats.micro.v1.info_response', ...base, description: 'Uplink object host', endpoints });
    }
    const endpoints = objects.map((object) => {
      const s = this.source.stats(object);
      return {
        name: endpointName(object), subject: CALL_SUBJECT_PREFIX + object, queue_group: QUEUE_GROUP,
        num_requests: s.requests, num_errors: s.errors, last_error: s.lastError,
        processing_time: s.processingNs, average_processing_time: s.requests > 0 ? Math.round(s.processingNs / s.requests) : 0,
      };
    });
    respond({ type: 'io.nats.micro.v1.stats_response', ...base, started: this.source.started.toISOString(), endpoints });
  }
}

/** Endpoint names are `[-\w]+` (no dots): a dotted object id maps its dots to `_`. */
function endpointName(object: string): string {
  return object.replace(/\./g, '_');
}
