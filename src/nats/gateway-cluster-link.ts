/**
 * What a gateway says to the rest of the cluster on NATS, apart from calls: its beat (hosts count
 * gateways), the connections that closed here (hosts release their session instances and
 * references), the references its clients let go of, and revocations, both ways.
 *
 * Invariants: with cluster keys every gateway event is signed (hosts that verify take no unsigned
 * word of a gateway); a revocation from NATS is parsed and reduced to a subject and a token id before
 * the gateway hears of it; nothing is published while NATS is disconnected.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { RevocationTarget } from '../auth/revocations.js';
import { bytesJson, controlHeaders, Header, jsonBytes, REVOCATIONS, Subject } from './envelope.js';
import type { AssertionSigner } from './identity-assertion.js';
import { publish } from './publish.js';

/** Connection ids (about 50 bytes each) per release message. */
const RELEASES_PER_MESSAGE = 5_000;

/** A revocation as gateways share it: the gateway's RevocationTarget and the gateway it came from. */
export interface SharedRevocation extends RevocationTarget { origin?: string }

export class GatewayClusterLink {
  private releasedConnections: string[] = [];
  private revocationHandler: ((target: RevocationTarget) => void) | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly gatewayId: string,
    private readonly signer: AssertionSigner | undefined,
    private readonly connected: () => boolean,
  ) {}

  /** Once per heartbeat: this gateway's beat, then the connections closed since the last one. */
  beat(): void {
    this.publishEvent(Subject.gatewayEvents(this.gatewayId), jsonBytes({ id: this.gatewayId }));
    this.flushReleases();
  }

  /** A connection closed here (batched until the next beat). */
  connectionClosed(remoteConnectionId: string): void {
    this.releasedConnections.push(remoteConnectionId);
  }

  /** The client let go of references (`[connection, ref]` or `[connection, ref, received]`): every host hears it. */
  releaseReferences(entries: unknown[]): void {
    if (this.connected()) this.publishEvent(Subject.unref(this.gatewayId), jsonBytes(entries));
  }

  /** Tells the other gateways (and the hosts, which end the identity's streams). */
  publishRevocation(target: RevocationTarget): void {
    if (this.connected()) publish(this.nc, REVOCATIONS, jsonBytes({ ...target, origin: this.gatewayId }));
  }

  onRevocations(handler: (target: RevocationTarget) => void): void {
    this.revocationHandler = handler;
  }

  /** A message on the revocations subject: a well-formed one from another gateway reaches the handler. */
  onRevocation(msg: Msg): void {
    let target: SharedRevocation;
    try {
      target = bytesJson<SharedRevocation>(msg.data);
    } catch {
      return; // a malformed revocation is ignored
    }
    if (typeof target !== 'object' || target === null || target.origin === this.gatewayId) return;
    const subject = typeof target.subject === 'string' && target.subject.length > 0 ? { subject: target.subject } : {};
    const tokenId = typeof target.tokenId === 'string' && target.tokenId.length > 0 ? { tokenId: target.tokenId } : {};
    if (subject.subject !== undefined || tokenId.tokenId !== undefined) this.revocationHandler?.({ ...subject, ...tokenId });
  }

  flushReleases(): void {
    if (this.releasedConnections.length === 0 || !this.connected()) return;
    // In slices, so that a wave of closes never makes one message larger than max_payload.
    for (let i = 0; i < this.releasedConnections.length; i += RELEASES_PER_MESSAGE) {
      this.publishEvent(`${Subject.gatewayEvents(this.gatewayId)}.release`, jsonBytes(this.releasedConnections.slice(i, i + RELEASES_PER_MESSAGE)));
    }
    this.releasedConnections = [];
  }

  /** A gateway event, signed with cluster keys. */
  private publishEvent(subject: string, data: Uint8Array): void {
    const headers = this.signer && controlHeaders('event', { [Header.signature]: this.signer.signEvent(subject, data) });
    publish(this.nc, subject, data, headers ? { headers } : undefined);
  }
}
