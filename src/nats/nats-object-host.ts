/**
 * The gateway's side of objects on NATS (docs/scale-out.md). Calls and stream opens go to
 * `uplink.call.<object>` (a queue group: NATS picks a host; no host is the server's 503, so
 * OBJECT_UNAVAILABLE, safe to retry), or straight to the pinned host for session objects. Every
 * answer and stream frame comes back on one wildcard inbox (the mux: one subscription, no timer per
 * call: gateway-inbox.ts). One tick per heartbeat period publishes this gateway's beat and releases
 * (gateway-cluster-link.ts), drops dead hosts and fails what ran there with HOST_LOST.
 *
 * This file is the RemoteObjectHost a gateway plugs in (`new Gateway({ remoteObjects })`): routing
 * of calls, streams and resumes, and the parts composed behind it (the inbox, the cluster link, the
 * host table, pins, callbacks from hosts, `$uplink` questions).
 *
 * Invariants: the gateway never decodes arguments, results or items; nothing is published while NATS
 * is disconnected (nats.js would drop it silently): calls fail OBJECT_UNAVAILABLE instead.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { repeat, systemClock, type Clock } from '../clock.js';
import type { ConnectionInfo, Identity } from '../core/context.js';
import { isAnnotations } from '../protocol/frames.js';
import type { ObjectMetadata } from '../host/members.js';
import type { HostCall, ReplySink, StreamControl, StreamSink } from '../host/object-host.js';
import type { RemoteObjectHost } from '../host/remote-object-host.js';
import type { RevocationTarget } from '../auth/revocations.js';
import { refusedSend, routeCall, type Route } from './call-routes.js';
import { HOST_EVENTS, payloadBudget, REVOCATIONS, Subject, type CallContextFields } from './envelope.js';
import { encodeCall } from './call-envelope.js';
import { GatewayCallbacks } from './gateway-callbacks.js';
import { parseHostBeat } from './host-beat.js';
import { HostQuestions } from './host-questions.js';
import { HostTable } from './host-table.js';
import { AssertionSigner } from './identity-assertion.js';
import { GatewayClusterLink } from './gateway-cluster-link.js';
import { GatewayInbox } from './gateway-inbox.js';
import type { InboxLink } from './inbox-entry.js';
import { NatsLink } from './nats-link.js';
import { publish } from './publish.js';
import { RemoteCall, type CallOrigin } from './remote-call.js';
import { RemoteStream } from './remote-stream.js';
import { SessionPins } from './session-pins.js';

export interface NatsObjectHostOptions {
  /** Attachments allowed in one answer (as the gateway's own limit). */
  maxAttachments?: number;
  clock?: Clock;
  /** How often this gateway beats and checks its hosts (ms). */
  heartbeatMs?: number;
  /** Beats a host may miss before it counts as dead. */
  missedBeats?: number;
  /** How long `$uplink` list and metadata wait for each host (ms). */
  askTimeoutMs?: number;
  /** The cluster's Ed25519 signing key: every call carries a signed identity assertion hosts can verify. */
  signingKey?: KeyObject;
  /** Where NATS disconnects, reconnects and lost hosts are logged (the gateway passes its own). */
  logger?: Logger;
}

export class NatsObjectHost implements RemoteObjectHost {
  readonly id = nuid.next();
  readonly hosts: HostTable;
  /** The mux: what the gateway waits on now (its size and reply subjects are diagnostics for tests and tools). */
  readonly inbox: GatewayInbox;
  private readonly cluster: GatewayClusterLink;
  private readonly subscriptions: Subscription[] = [];
  private readonly pins = new SessionPins();
  private readonly clock: Clock;
  private readonly link: InboxLink;
  private readonly nats: NatsLink;
  private readonly stopTicking: () => void;
  /** Hosts calling this gateway's clients back. */
  private readonly callbacks: GatewayCallbacks;
  private readonly signer: AssertionSigner | undefined;
  private readonly questions: HostQuestions;

  constructor(private readonly nc: NatsConnection, options: NatsObjectHostOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const heartbeatMs = options.heartbeatMs ?? 1_000;
    this.hosts = new HostTable(this.clock, heartbeatMs * (options.missedBeats ?? 3));
    this.signer = options.signingKey && new AssertionSigner(options.signingKey, this.clock);
    const connected = () => this.connected;
    this.inbox = new GatewayInbox(nc, {
      gatewayId: this.id, clock: this.clock, hosts: this.hosts, maxAttachments: options.maxAttachments ?? 16, signer: this.signer, connected, logger: () => this.nats.logger,
    });
    this.link = this.inbox.link;
    this.cluster = new GatewayClusterLink(nc, this.id, this.signer, connected);
    this.nats = new NatsLink(nc, 'gateway', { reconnected: () => this.reconnected() });
    this.nats.logger = options.logger;
    this.callbacks = new GatewayCallbacks(nc, options.maxAttachments ?? 16, (connection) => this.signer?.assertion(this.remoteConnectionId(connection.id), connection.identity));
    this.questions = new HostQuestions(nc, this.link, this.hosts, this.clock, options.askTimeoutMs ?? 1_000, this.signer, () => this.connected);
    const on = (subject: string, handle: (msg: Msg) => void) => this.subscriptions.push(this.nats.subscribe(subject, handle));
    const callbacks = Subject.callbacks(this.id);
    on(`${this.inbox.subject}.*`, (msg) => (msg.subject === callbacks ? this.callbacks.onMessage(msg) : this.inbox.onMessage(msg)));
    on(HOST_EVENTS, (msg) => this.onHostBeat(msg));
    on(REVOCATIONS, (msg) => this.cluster.onRevocation(msg));
    this.stopTicking = repeat(this.clock, heartbeatMs, () => this.tick());
  }

  /** The gateway's logger, for NATS state changes and lost hosts. */
  useLogger(logger: Logger): void {
    this.nats.logger ??= logger;
  }

  invoke(call: HostCall, reply: ReplySink): void {
    const route = this.route(call);
    if ('code' in route) return reply.reject(route);
    this.callbacks.track(call.context.connection);
    const { message, assertion } = this.messageFor(call, route.argsBytes);
    if (call.oneway) {
      const sent = publish(this.nc, route.subject, message);
      return sent === 'sent' ? reply.resolve({ text: 'null' }) : reply.reject(refusedSend(sent, call.object));
    }
    const origin = this.origin(call, route, assertion);
    const remote = new RemoteCall(this.link, reply, origin);
    remote.reply = this.link.register(remote);
    if (origin.directTo) origin.resend = () => publish(this.nc, route.queue, message, { reply: remote.reply });
    // A reply that comes after the caller gave up finds no entry: it is dropped.
    call.context.onAbort = () => remote.abandon();
    const sent = publish(this.nc, route.subject, message, { reply: remote.reply });
    if (sent !== 'sent') remote.refused(refusedSend(sent, call.object));
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    const route = this.route(call);
    if ('code' in route) {
      sink.fail(route, 0);
      return undefined;
    }
    this.callbacks.track(call.context.connection);
    const { message, assertion } = this.messageFor(call, route.argsBytes, upTo);
    const resend = route.direct ? () => publish(this.nc, route.queue, message, { reply: stream.reply }) : undefined;
    const stream: RemoteStream = new RemoteStream(this.link, sink, call.object, call.context.identity, { upTo, ack: 0, host: route.direct, resend, assertion });
    stream.reply = this.link.register(stream);
    const sent = publish(this.nc, route.subject, message, { reply: stream.reply });
    if (sent === 'sent') return stream;
    stream.refused(refusedSend(sent, call.object));
    return undefined;
  }

  /** A key made by a host (its id, then its own key) resumes there, through whichever gateway the client reached. */
  resumeStream(key: string, identity: Identity | undefined, ack: number, upTo: number, sink: StreamSink): StreamControl | undefined {
    const parts = RemoteStream.splitKey(key);
    if (!parts || !this.connected) return undefined;
    const stream = new RemoteStream(this.link, sink, '', identity, { upTo, ack, host: parts.host, key: parts.key });
    stream.reply = this.link.register(stream);
    stream.resumeOn();
    return stream;
  }

  /** 'ok' while NATS is connected (GET /ready of the gateway). */
  readiness(): string {
    return this.connected ? 'ok' : 'NATS disconnected';
  }

  /** NATS connection state and live hosts (metrics gauges). */
  state(): { connected: boolean; peers: number } {
    return { connected: this.connected, peers: this.hosts.live().length };
  }

  /** Whether a host of the cluster has served the object since this gateway started. */
  knowsObject(id: string): boolean {
    return this.hosts.knows(id);
  }

  knowsMember(id: string, member: string): boolean {
    return this.hosts.declaresMember(id, member);
  }

  /**
   * The client let go of a reference: every host hears it (a server reference names its host, but a
   * client callback may be held by any host the connection called), at once, before later calls.
   */
  releaseReference(connection: ConnectionInfo, ref: string, received?: number): void {
    const entry = received === undefined ? [this.remoteConnectionId(connection.id), ref] : [this.remoteConnectionId(connection.id), ref, received];
    this.cluster.releaseReferences([entry]);
  }

  /** Session instances and tracked resources for the connection are released on every host (batched per tick). */
  releaseConnection(connection: ConnectionInfo): void {
    this.callbacks.forget(connection.id);
    this.pins.release(connection.id);
    const id = this.remoteConnectionId(connection.id);
    this.signer?.forget(id);
    this.cluster.connectionClosed(id);
  }

  /** Streams of revoked identities end where they run: every host hears the revocation (onRevocation). */
  endStreams(): number {
    return 0;
  }

  streamStats(): { live: number; lingering: number } {
    return { live: this.inbox.liveStreams(), lingering: 0 };
  }

  /** Every live host's objects that `identity` may see (each host filters by its access rules). */
  listObjects(identity: Identity | undefined, pattern: string | undefined): Promise<string[]> {
    return this.questions.listObjects(identity, pattern);
  }

  describeObject(identity: Identity | undefined, id: string): Promise<ObjectMetadata | undefined> {
    return this.questions.describeObject(identity, id);
  }

  /** Tells the other gateways (and the hosts, which end the identity's streams). */
  publishRevocation(target: RevocationTarget): void {
    this.cluster.publishRevocation(target);
  }

  /** Revocations made on other gateways. */
  onRevocations(handler: (target: RevocationTarget) => void): void {
    this.cluster.onRevocations(handler);
  }

  shutdown(): void {
    this.stopTicking();
    this.cluster.flushReleases();
    for (const s of this.subscriptions) s.unsubscribe();
    this.inbox.shutdown();
  }

  private get connected(): boolean {
    return this.nats.connected && (this.nc as { protocol?: { connected?: boolean } }).protocol?.connected !== false;
  }

  private route(call: HostCall): Route | ReturnType<typeof refusedSend> {
    return routeCall(call, { hosts: this.hosts, pins: this.pins, connected: this.connected, budget: payloadBudget(this.nc) });
  }

  private origin(call: HostCall, route: Route, assertion: string | undefined): CallOrigin {
    const connection = call.context.connection.id;
    return {
      object: call.object,
      assertion,
      pinnedTo: route.pinned,
      directTo: route.direct,
      pin: (host) => this.pins.set(connection, call.object, host),
      annotate: (annotations) => {
        // What a host sends meets the protocol's limits on annotations, or is dropped (the client would refuse the frame).
        if (isAnnotations(annotations)) for (const [key, value] of Object.entries(annotations)) call.context.annotate(key, value);
      },
      unpin: () => this.pins.delete(connection, call.object),
    };
  }

  /** The call's message (call-envelope.ts), and its assertion (kept for the cancels and stream controls that must carry it). */
  private messageFor(call: HostCall, argsBytes: number, upTo?: number): { message: Uint8Array; assertion: string | undefined } {
    const { context } = call;
    const connection = this.remoteConnectionId(context.connection.id);
    const fields: CallContextFields = {
      connection, remoteAddress: context.connection.remoteAddress, correlationId: context.correlationId,
      ...(context.annotations ? { annotations: { ...context.annotations } } : {}),
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
      ...(context.connection.peer ? {} : { noPeer: true as const }),
    };
    const timeoutMs = context.deadline === undefined ? undefined : context.deadline - this.clock.now();
    const assertion = this.signer?.assertion(connection, context.identity);
    const message = encodeCall({
      member: call.member, kind: upTo === undefined ? call.kind : 'stream', timeoutMs, identity: context.identity, context: fields,
      ...(upTo === undefined ? {} : { upTo }), ...(assertion ? { assertion } : {}),
    }, call.args, argsBytes);
    return { message, assertion };
  }

  /** Connection ids are per gateway; on hosts they carry the gateway's id. */
  private remoteConnectionId(id: string): string {
    return `${this.id}/${id}`;
  }

  /** Anything on a host's event subject is parsed and bounded first; a message that is not a beat is dropped. */
  private onHostBeat(msg: Msg): void {
    const beat = parseHostBeat(msg.subject, msg.data);
    if (!beat) return;
    const change = this.hosts.beat(beat);
    if (change.joined) this.nats.logger?.info({ host: beat.id, name: beat.name, objects: beat.objects.length }, 'object host joined');
    if (change.reconnected) this.inbox.hostReconnected(beat.id);
  }

  /** Once per heartbeat: beat, release closed connections, fail what ran on dead hosts. */
  private tick(): void {
    // While disconnected nothing is heard: silence then says nothing about hosts (restartClock on reconnect).
    if (!this.connected) return;
    this.cluster.beat();
    for (const host of this.hosts.sweep()) this.nats.logger?.warn({ host }, 'object host lost: no beat within the liveness bound');
    this.inbox.sweep();
  }

  /**
   * NATS came back: hosts get a whole liveness bound to beat again (their silence was our outage), and
   * streams re-attach and replay from their ack (frames sent in between may be lost).
   */
  private reconnected(): void {
    this.hosts.restartClock();
    this.inbox.reconnected();
  }
}
