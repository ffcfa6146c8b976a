/**
 * The gateway's side of objects on NATS (docs/scale-out.md). Calls and stream opens go to
 * `uplink.call.<object>` (a queue group: NATS picks a host; no host is the server's 503, so
 * OBJECT_UNAVAILABLE, safe to retry), or straight to the pinned host for session objects. Every
 * answer and stream frame comes back on one wildcard inbox (the mux: one subscription, no timer per
 * call). One tick per heartbeat period publishes this gateway's beat, drops dead hosts and fails what
 * ran there with HOST_LOST.
 *
 * Invariants: the gateway never decodes arguments, results or items; every entry in the mux ends
 * exactly once (answer, HOST_LOST, or the caller giving up); nothing is published while NATS is
 * disconnected (nats.js would drop it silently): calls fail OBJECT_UNAVAILABLE instead.
 */
/*
 * About 370 lines: the ObjectHost and ClusterLink interfaces (calls, streams, resumes, references,
 * catalog, revocations, readiness) and the routing they share; the mux entries, host table, pins and
 * callbacks have files of their own.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { repeat, systemClock, type Clock } from '../clock.js';
import type { ConnectionInfo, Identity } from '../core/context.js';
import { accessAllows } from '../auth/access.js';
import { ErrorCode, errorBody, type ErrorBody } from '../errors.js';
import { isAnnotations } from '../protocol/frames.js';
import type { ObjectMetadata } from '../host/members.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from '../host/object-host.js';
import {
  b64json, bytesJson, callHeaders, controlHeaders, Header, HOST_EVENTS, jsonBytes, packPayload, payloadBudget,
  NODE_ID_LENGTH, REVOCATIONS, Subject, type CallContextFields,
} from './envelope.js';
import { isServerRefId, refOfTarget } from '../protocol/refs.js';
import { GatewayCallbacks } from './gateway-callbacks.js';
import { HostTable, type HostBeat } from './host-table.js';
import type { InboxEntry, InboxLink } from './inbox-entry.js';
import { RemoteCall, unavailable, type CallOrigin } from './remote-call.js';
import { RemoteStream } from './remote-stream.js';
import { SessionPins } from './session-pins.js';

/** A call's way to its host (see NatsObjectHost.route). */
interface Route {
  /** The object's queue-group subject. */
  queue: string;
  /** Where it is sent first. */
  subject: string;
  payload: Uint8Array;
  pinned: string | undefined;
  /** The host the gateway picked (not pinned). */
  direct: string | undefined;
}

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
}

/** A revocation as gateways share it (the gateway's RevocationTarget). */
export interface SharedRevocation { subject?: string; tokenId?: string; origin?: string }

export class NatsObjectHost implements ObjectHost {
  readonly id = nuid.next();
  readonly hosts: HostTable;
  private readonly inbox: string;
  private readonly entries = new Map<string, InboxEntry>();
  private readonly subscriptions: Subscription[] = [];
  private readonly pins = new SessionPins();
  private readonly clock: Clock;
  private readonly link: InboxLink;
  private readonly stopTicking: () => void;
  private releasedConnections: string[] = [];
  private revocationHandler: ((target: SharedRevocation) => void) | undefined;
  private nextId = 0;
  private readonly askTimeoutMs: number;
  /** Hosts calling this gateway's clients back. */
  private readonly callbacks: GatewayCallbacks;

  constructor(private readonly nc: NatsConnection, options: NatsObjectHostOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.askTimeoutMs = options.askTimeoutMs ?? 1_000;
    const heartbeatMs = options.heartbeatMs ?? 1_000;
    this.hosts = new HostTable(this.clock, heartbeatMs * (options.missedBeats ?? 3));
    this.inbox = Subject.inbox(this.id);
    this.link = this.inboxLink(options.maxAttachments ?? 16);
    this.callbacks = new GatewayCallbacks(nc, options.maxAttachments ?? 16);
    const on = (subject: string, handle: (msg: Msg) => void) =>
      this.subscriptions.push(nc.subscribe(subject, { callback: (error, msg) => { if (!error) handle(msg); } }));
    const callbacks = Subject.callbacks(this.id);
    on(`${this.inbox}.*`, (msg) => (msg.subject === callbacks ? this.callbacks.onMessage(msg) : this.entries.get(msg.subject)?.onMessage(msg)));
    on(HOST_EVENTS, (msg) => this.onHostBeat(msg));
    on(REVOCATIONS, (msg) => this.onRevocation(msg));
    this.stopTicking = repeat(this.clock, heartbeatMs, () => this.tick());
    void this.watchStatus();
  }

  invoke(call: HostCall, reply: ReplySink): void {
    const route = this.route(call);
    if ('code' in route) return reply.reject(route);
    this.callbacks.track(call.context.connection);
    const headers = this.headersFor(call);
    if (call.oneway) {
      this.nc.publish(route.subject, route.payload, { headers });
      return reply.resolve({ text: 'null' });
    }
    const origin = this.origin(call, route);
    const remote = new RemoteCall(this.link, reply, origin);
    remote.reply = this.link.register(remote);
    if (origin.directTo) origin.resend = () => this.nc.publish(route.queue, route.payload, { headers, reply: remote.reply });
    // A reply that comes after the caller gave up finds no entry: it is dropped.
    call.context.onAbort = () => remote.abandon();
    this.nc.publish(route.subject, route.payload, { headers, reply: remote.reply });
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    const route = this.route(call);
    if ('code' in route) {
      sink.fail(route, 0);
      return undefined;
    }
    this.callbacks.track(call.context.connection);
    const headers = this.headersFor(call, upTo);
    const resend = route.direct ? () => this.nc.publish(route.queue, route.payload, { headers, reply: stream.reply }) : undefined;
    const stream: RemoteStream = new RemoteStream(this.link, sink, call.object, call.context.identity, { upTo, ack: 0, host: route.direct, resend });
    stream.reply = this.link.register(stream);
    this.nc.publish(route.subject, route.payload, { headers, reply: stream.reply });
    return stream;
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

  /** Whether a host of the cluster has served the object since this gateway started. */
  knowsObject(id: string): boolean {
    return this.hosts.knows(id);
  }

  /**
   * The client let go of a reference: every host hears it (a server reference names its host, but a
   * client callback may be held by any host the connection called), at once, before later calls.
   */
  releaseReference(connection: ConnectionInfo, ref: string, received?: number): void {
    const entry = received === undefined ? [this.remoteConnectionId(connection.id), ref] : [this.remoteConnectionId(connection.id), ref, received];
    if (this.connected) this.nc.publish(Subject.unref(this.id), jsonBytes([entry]));
  }

  /** Session instances and tracked resources for the connection are released on every host (batched per tick). */
  releaseConnection(connection: ConnectionInfo): void {
    this.callbacks.forget(connection.id);
    this.pins.release(connection.id);
    this.releasedConnections.push(this.remoteConnectionId(connection.id));
  }

  /** Streams of revoked identities end where they run: every host hears the revocation (onRevocation). */
  endStreams(): number {
    return 0;
  }

  streamStats(): { live: number; lingering: number } {
    let live = 0;
    for (const entry of this.entries.values()) if (entry instanceof RemoteStream) live++;
    return { live, lingering: 0 };
  }

  /** Every live host's objects that `identity` may see (each host filters by its access rules). */
  async listObjects(identity: Identity | undefined, pattern: string | undefined): Promise<string[]> {
    const hosts = this.hosts.live().filter((h) => h.state === 'up');
    const answers = await Promise.all(hosts.map((h) => this.ask<string[]>(Subject.list(h.id), identity, { pattern })));
    return [...new Set(answers.flatMap((ids) => (Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [])))].sort();
  }

  async describeObject(identity: Identity | undefined, id: string): Promise<ObjectMetadata | undefined> {
    const host = this.hosts.hostOf(id);
    if (!host) return undefined;
    return (await this.ask<{ ok?: ObjectMetadata }>(Subject.metadata(host), identity, { id }))?.ok;
  }

  /** A question to one host; a host that does not answer in time counts as having nothing to say. */
  private async ask<T>(subject: string, identity: Identity | undefined, question: object): Promise<T | undefined> {
    if (!this.connected) return undefined;
    const headers = controlHeaders('ask', {});
    if (identity) headers.set(Header.identity, b64json(identity));
    try {
      return bytesJson<T>((await this.nc.request(subject, jsonBytes(question), { headers, timeout: this.askTimeoutMs })).data);
    } catch {
      return undefined;
    }
  }

  /** Tells the other gateways (and the hosts, which end the identity's streams). */
  publishRevocation(target: SharedRevocation): void {
    if (this.connected) this.nc.publish(REVOCATIONS, jsonBytes({ ...target, origin: this.id }));
  }

  /** Revocations made on other gateways. */
  onRevocations(handler: (target: SharedRevocation) => void): void {
    this.revocationHandler = handler;
  }

  shutdown(): void {
    this.stopTicking();
    this.flushReleases();
    for (const s of this.subscriptions) s.unsubscribe();
    for (const entry of [...this.entries.values()]) entry.hostLost();
    this.entries.clear();
  }

  private get connected(): boolean {
    return !this.nc.isClosed() && !this.nc.isDraining() && (this.nc as { protocol?: { connected?: boolean } }).protocol?.connected !== false;
  }

  /**
   * The object's declared access rule (scopes, roles), checked here before anything is sent: a caller
   * who may not use the object or member gets the same answer as for a missing one, as from the host
   * (which checks the whole rule again, check functions included).
   */
  private refusal(call: HostCall): ErrorBody | undefined {
    const declared = this.hosts.accessOf(call.object);
    if (!declared) return undefined;
    const identity = call.context.identity;
    if (!accessAllows(declared.rule, identity, declared.claimNames, call.object, undefined)) return errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`);
    if (!accessAllows(declared.rule, identity, declared.claimNames, call.object, call.member)) return errorBody(ErrorCode.UNKNOWN_MEMBER, `'${call.object}' has no member '${call.member}'`);
    return undefined;
  }

  /**
   * Where a call goes, worked out once per call: the host its session is pinned to, else a live host
   * the gateway picks, else the queue group; or why it goes nowhere (no such object, not allowed, NATS
   * down, arguments larger than one message).
   */
  private route(call: HostCall): Route | ErrorBody {
    const ref = refOfTarget(call.object);
    if (ref !== undefined) return this.refRoute(call, ref);
    const queue = Subject.call(call.object);
    if (!queue || !this.hosts.mayServe(call.object)) return errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`);
    const refused = this.refusal(call);
    if (refused) return refused;
    if (!this.connected) return unavailable(call.object);
    const payload = packPayload(call.args);
    const budget = payloadBudget(this.nc);
    if (payload.byteLength > budget) return errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `the arguments are larger than one NATS message (${budget} bytes)`);
    const pinned = this.pins.get(call.context.connection.id, call.object);
    const direct = pinned ? undefined : this.hosts.pick(call.object);
    const host = pinned ?? direct;
    return { queue, subject: host ? Subject.pinnedCall(host, call.object) : queue, payload, pinned, direct };
  }

  /** A server reference's id names the host that holds it: the call goes there, or nowhere if it is gone. */
  private refRoute(call: HostCall, ref: string): Route | ErrorBody {
    const host = isServerRefId(ref) ? ref.slice(1, 1 + NODE_ID_LENGTH) : undefined;
    if (!host || !this.hosts.alive(host)) return errorBody(ErrorCode.REF_RELEASED, 'no such reference on this connection (released, dropped, or never handed out)');
    if (!this.connected) return unavailable(call.object);
    const payload = packPayload(call.args);
    const budget = payloadBudget(this.nc);
    if (payload.byteLength > budget) return errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `the arguments are larger than one NATS message (${budget} bytes)`);
    const subject = Subject.pinnedCall(host, call.object);
    return { queue: subject, subject, payload, pinned: host, direct: undefined };
  }

  private origin(call: HostCall, route: Route): CallOrigin {
    const connection = call.context.connection.id;
    return {
      object: call.object,
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

  private headersFor(call: HostCall, upTo?: number) {
    const { context } = call;
    const fields: CallContextFields = {
      connection: this.remoteConnectionId(context.connection.id), remoteAddress: context.connection.remoteAddress, correlationId: context.correlationId,
      ...(context.annotations ? { annotations: { ...context.annotations } } : {}),
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    };
    const timeoutMs = context.deadline === undefined ? undefined : context.deadline - this.clock.now();
    return callHeaders({ member: call.member, kind: upTo === undefined ? call.kind : 'stream', timeoutMs, identity: context.identity, context: fields, ...(upTo === undefined ? {} : { upTo }) });
  }

  /** Connection ids are per gateway; on hosts they carry the gateway's id. */
  private remoteConnectionId(id: string): string {
    return `${this.id}/${id}`;
  }

  private inboxLink(maxAttachments: number): InboxLink {
    return {
      gatewayId: this.id, maxAttachments,
      now: () => this.clock.now(),
      register: (entry) => {
        const reply = `${this.inbox}.${(this.nextId++).toString(36)}`;
        this.entries.set(reply, entry);
        return reply;
      },
      unregister: (reply) => void this.entries.delete(reply),
      control: (host, op, fields, options) => {
        if (!this.connected) return;
        const headers = controlHeaders(op, fields);
        if (options?.identity) headers.set(Header.identity, b64json(options.identity));
        this.nc.publish(Subject.control(host), undefined, { headers, ...(options?.reply ? { reply: options.reply } : {}) });
      },
      seen: (host) => this.hosts.seen(host),
    };
  }

  private onHostBeat(msg: Msg): void {
    let beat: HostBeat;
    try {
      beat = bytesJson<HostBeat>(msg.data);
    } catch {
      return;
    }
    if (typeof beat?.id !== 'string') return;
    const change = this.hosts.beat(beat);
    // A copy: a re-attaching stream moves to a new inbox id (a live Map iteration would visit it again).
    if (change.reconnected) for (const entry of [...this.entries.values()]) if (entry.host === beat.id) entry.reattach?.();
  }

  private onRevocation(msg: Msg): void {
    try {
      const target = bytesJson<SharedRevocation>(msg.data);
      if (target.origin !== this.id) this.revocationHandler?.({ ...(target.subject ? { subject: target.subject } : {}), ...(target.tokenId ? { tokenId: target.tokenId } : {}) });
    } catch {
      // a malformed revocation is ignored (only gateways may publish there)
    }
  }

  /** Once per heartbeat: beat, release closed connections, fail what ran on dead hosts. */
  private tick(): void {
    if (!this.connected) return;
    this.nc.publish(Subject.gatewayEvents(this.id), jsonBytes({ id: this.id }));
    this.flushReleases();
    this.hosts.sweep();
    const now = this.clock.now();
    for (const entry of [...this.entries.values()]) {
      const alive = entry.host !== undefined && this.hosts.alive(entry.host);
      if (!alive && now - entry.since > this.hosts.deadAfterMs) entry.hostLost();
      else if (alive && entry instanceof RemoteStream) entry.retry();
    }
  }

  private flushReleases(): void {
    if (this.releasedConnections.length === 0 || !this.connected) return;
    this.nc.publish(`${Subject.gatewayEvents(this.id)}.release`, jsonBytes(this.releasedConnections));
    this.releasedConnections = [];
  }

  /** After NATS comes back, frames sent in between may be lost: streams re-attach and replay from their ack. */
  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'reconnect') for (const entry of [...this.entries.values()]) entry.reattach?.();
    }
  }
}
