/**
 * An object host process's side of NATS (docs/scale-out.md): the objects of a LocalObjectHost served
 * on `uplink.call.<object>` in the queue group `uplink` (several hosts share an object), plus one
 * subscription `uplink.host.<id>.>` for what is meant for this host only (calls of pinned sessions,
 * control messages, listings). A call runs with the identity and context the gateway put in its
 * headers, and the host checks access again on that identity.
 *
 * Invariants: a call that waited past its deadline never starts; every call with a reply subject
 * gets exactly one answer (or `accepted` first, when it runs past one accept tick); one heartbeat
 * per period says this host is alive, and gateways not heard from within the liveness bound lose
 * their streams (they linger for a resume elsewhere) and their connections (released here).
 * Answers go only to inboxes: calls and resumes to a gateway's `_U.<gateway>.<id>`, listings and
 * service discovery to a requester's `_INBOX.`; a request whose reply subject names anything else
 * (a heartbeat subject, a gateway's callback subject) is not answered. While NATS is down, gateways
 * are not declared gone; after it comes back each gets a whole liveness bound again.
 */
/*
 * About 400 lines: one host's life on NATS (serve, drain, stop, beat, tick) and the call path it
 * owns (parse, verify, admit, run, answer), kept together because each step hands the next its state; streams, callbacks, connections, listings and gateway events,
 * discovery, assertions and publishing have files of their own.
 */
import { nuid, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { KeyObject } from 'node:crypto';
import { Revocations } from '../auth/revocations.js';
import { repeat, systemClock, type Clock } from '../clock.js';
import { CallContext, type Identity } from '../core/context.js';
import { remoteParent } from '../core/tracing.js';
import type { Logger } from 'pino';
import { ErrorCode, errorBody, withData, type ErrorBody } from '../protocol/errors.js';
import type { CallKind, ReplySink } from '../host/object-host.js';
import type { LocalObjectHost } from '../host/local-host.js';
import type { EncodedPayload } from '../protocol/codec.js';
import {
  bytesJson, count, errorPayload, GATEWAY_EVENTS, gatewayOfReply, Header, isGatewayReply,
  jsonBytes, Op, packedSize, payloadBudget, QUEUE_GROUP, readIdentity, REVOCATIONS, Subject, type OutgoingCall,
} from './envelope.js';
import { AssertionVerifier } from './identity-assertion.js';
import { NatsLink } from './nats-link.js';
import { publish, type Sent } from './publish.js';
import { decodeCall, encodeAnswer, type AnswerHead } from './call-envelope.js';
import { HostCallbacks } from './host-callbacks.js';
import { applyGatewayEvent, listingAnswer, revocationOf } from './host-requests.js';
import { HostTable, type HostBeat, type HostState } from './host-table.js';
import { HostStreams } from './host-streams.js';
import { RemoteConnections } from './remote-connections.js';
import { RunningCalls } from './running-calls.js';
import { ServiceDiscovery, type EndpointStats } from './service-discovery.js';

export interface NatsHostOptions {
  /** A name for logs and discovery (default: the host id). */
  name?: string;
  clock?: Clock;
  /** How often the host beats and checks its gateways (ms). */
  heartbeatMs?: number;
  /** Beats a gateway may miss before it counts as gone. */
  missedBeats?: number;
  /** A call running longer than this is announced to its gateway (ms). */
  acceptMs?: number;
  maxAttachments?: number;
  /** Failures that have no caller to go to (a tracked resource that failed to close). */
  onError?: (error: unknown) => void;
  /** Adds the annotation `uplink-host` (this host's name) to every result, so clients see where calls ran. */
  tagAnswers?: boolean;
  /** Where user code's lines go (callContext().log, with the connection and correlation ids). */
  logger?: Logger;
  /** Told of every answered call: object, member, result code (OK for a result), seconds (metrics). */
  observeCall?: (object: string, member: string, code: string, seconds: number) => void;
  /**
   * The cluster's Ed25519 public key: calls run only with the identity a gateway signed for them
   * (identity-assertion.ts); the plain Uplink-Identity header is then ignored.
   */
  verifyKey?: KeyObject;
}

export class NatsHostService {
  readonly id = nuid.next();
  readonly name: string;
  private state: HostState = 'up';
  private readonly callSubscriptions: Subscription[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly clock: Clock;
  private readonly gateways: HostTable;
  private readonly running: RunningCalls;
  private readonly streams: HostStreams;
  private readonly connections: RemoteConnections;
  private readonly callbacks: HostCallbacks;
  private readonly stats = new Map<string, EndpointStats>();
  private readonly discovery: ServiceDiscovery;
  private readonly stopTicking: () => void;
  private readonly maxAttachments: number;
  private readonly nats: NatsLink;
  private readonly revocations: Revocations;
  private readonly verifier: AssertionVerifier | undefined;
  private readonly tagAnswers: boolean;
  private readonly observeCall: NatsHostOptions['observeCall'];
  private served: string[] = [];
  /** The members each served object exposes (in beats: gateways label metrics only with these). */
  private readonly members: Record<string, string[]> = {};
  private readonly declaredAccess: NonNullable<HostBeat['access']> = {};
  /** Served objects with one instance per connection: their calls answer with a pin to this host. */
  private readonly sessionObjects = new Set<string>();

  constructor(private readonly nc: NatsConnection, private readonly host: LocalObjectHost, options: NatsHostOptions = {}) {
    this.name = options.name ?? this.id;
    this.clock = options.clock ?? systemClock;
    this.maxAttachments = options.maxAttachments ?? 16;
    this.tagAnswers = options.tagAnswers ?? false;
    this.observeCall = options.observeCall;
    const heartbeatMs = options.heartbeatMs ?? 1_000;
    this.gateways = new HostTable(this.clock, heartbeatMs * (options.missedBeats ?? 3));
    this.nats = new NatsLink(nc, 'host', { reconnected: () => this.reconnected() });
    this.nats.logger = options.logger;
    this.revocations = new Revocations(this.clock);
    this.verifier = options.verifyKey && new AssertionVerifier(options.verifyKey, this.revocations, this.clock);
    this.running = new RunningCalls(this.clock, options.acceptMs ?? 50, (reply) => this.answer(reply, { e: 'accepted', h: this.id }));
    this.streams = new HostStreams(nc, this.id, host);
    this.callbacks = new HostCallbacks(nc, this.id, this.clock, host.codec, this.maxAttachments, this.verifier);
    this.connections = new RemoteConnections(host, options.onError ?? (() => {}), (id) => this.callbacks.peer(id), options.logger);
    host.references.idPrefix = this.id; // references made here name this host: gateways route their calls back here
    const on = (subject: string, handle: (msg: Msg) => void) => this.subscriptions.push(this.nats.subscribe(subject, handle));
    const own = `uplink.host.${this.id}.`;
    on(`${own}>`, (msg) => this.onDirect(msg, msg.subject.slice(own.length)));
    on(`${GATEWAY_EVENTS.slice(0, -1)}>`, (msg) => this.onGatewayEvent(msg));
    on(REVOCATIONS, (msg) => this.onRevocation(msg));
    this.discovery = new ServiceDiscovery(this.nats, { id: this.id, name: this.name, started: new Date(this.clock.now()), objects: () => this.served, stats: (o) => this.statsOf(o) });
    this.stopTicking = repeat(this.clock, heartbeatMs, () => this.tick());
  }

  /** Serves these object ids (default: every object of the host); each must be a valid subject token sequence. */
  serve(ids: string[] = this.host.ids()): void {
    for (const id of ids) {
      const subject = Subject.call(id);
      if (!subject) throw new TypeError(`object id '${id}' cannot be served on NATS (use letters, digits, _ and -, dots between)`);
      // What is declared here (members, access, session mode) is read once: serve what is registered.
      const declaration = this.host.declaration(id);
      if (!declaration) throw new TypeError(`object '${id}' is not registered on this host: register it before serving it`);
      this.callSubscriptions.push(this.nats.subscribe(subject, (msg) => this.onCall(id, msg, false), { queue: QUEUE_GROUP }));
      this.served.push(id);
      this.members[id] = declaration.members;
      if (declaration.access) this.declaredAccess[id] = declaration.access;
      if (declaration.session) this.sessionObjects.add(id);
    }
    this.beat();
  }

  /** 'ok' while serving with NATS connected; otherwise why not (a host's GET /ready). */
  readiness(): string {
    if (this.state !== 'up') return this.state;
    if (this.nc.isClosed()) return 'NATS connection closed';
    return this.nats.connected ? 'ok' : 'NATS disconnected';
  }

  /** NATS connection state and live gateways (metrics gauges). */
  clusterState(): { connected: boolean; peers: number } {
    return { connected: this.nats.connected, peers: this.gateways.size };
  }

  /** Calls and streams running here now. */
  load(): { calls: number; streams: number; connections: number } {
    return { calls: this.running.size, streams: this.streams.size, connections: this.connections.size };
  }

  /**
   * Stops taking calls (NATS routes new ones to the other hosts; gateways see `draining`), lets calls
   * and streams in flight finish for up to `budgetMs`, then ends what is left with SHUTTING_DOWN
   * (retryable) and leaves. Resolves once this host is gone.
   */
  async drain(budgetMs: number): Promise<void> {
    if (this.state !== 'up') return;
    this.state = 'draining';
    await Promise.all(this.callSubscriptions.map((s) => s.drain().catch(() => {})));
    this.beat();
    const until = this.clock.now() + budgetMs;
    while ((this.running.size > 0 || this.streams.size > 0) && this.clock.now() < until) {
      await new Promise<void>((done) => this.clock.setTimeout(() => done(), 20));
    }
    const stopped = withData(errorBody(ErrorCode.SHUTTING_DOWN, 'the object host is shutting down; retry'), { retryable: true });
    for (const reply of this.running.replies()) {
      this.running.end(reply);
      this.running.finish(reply);
      this.answer(reply, { e: 'error' }, errorPayload(stopped, this.host.codec));
    }
    this.streams.endAll(stopped);
    await this.stop();
  }

  /** Leaves at once: gateways hear `gone` and fail what ran here with HOST_LOST; every stream of the host ends. */
  async stop(): Promise<void> {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.host.shutdown();
    this.beat();
    this.stopTicking();
    this.running.stop();
    this.discovery.stop();
    for (const s of [...this.callSubscriptions, ...this.subscriptions]) s.unsubscribe();
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => {});
  }

  /** `direct`: sent to this host by name (a pinned session or a host the gateway picked), not to the group. */
  private onCall(object: string, msg: Msg, direct: boolean): void {
    const reply = msg.reply || undefined;
    if (reply !== undefined && !isGatewayReply(reply)) return; // answers go to a gateway's inbox, nowhere else
    const pin = this.sessionObjects.has(object);
    let call: OutgoingCall;
    let args: EncodedPayload;
    try {
      ({ call, args } = decodeCall(msg.data, this.maxAttachments, !this.verifier));
    } catch {
      // With cluster keys nothing unproven is answered: a reply subject can name another caller's call.
      if (!this.verifier) this.refuse(reply, errorBody(ErrorCode.BAD_FRAME, 'a malformed call'));
      return;
    }
    if (!this.verifier) return this.admit(object, call, args, reply, pin, direct, call.identity);
    // With cluster keys, the identity is the one the gateway signed for this connection, and nothing else.
    const received = this.clock.now();
    this.verifier.identity(call.assertion, call.context.connection).then(
      (identity) => {
        if (call.timeoutMs !== undefined) call.timeoutMs -= this.clock.now() - received;
        this.admit(object, call, args, reply, pin, direct, identity);
      },
      () => this.nats.logger?.warn({ object, connection: call.context.connection }, 'a call without a valid identity assertion was dropped'),
    ).catch((error: unknown) => this.nats.logger?.warn({ err: (error as Error)?.message }, 'a NATS call could not run'));
  }

  /** A call whose sender is proven (or believed): refused while not serving or past its deadline, else run. */
  private admit(object: string, call: OutgoingCall, args: EncodedPayload, reply: string | undefined, pin: boolean, direct: boolean, identity: Identity | undefined): void {
    if (this.state !== 'up') {
      return this.refuse(reply, direct && pin ? errorBody(ErrorCode.HOST_LOST, `the object host holding this session of '${object}' is shutting down`) : errorBody(ErrorCode.OBJECT_UNAVAILABLE, 'the object host is shutting down; retry'));
    }
    if (call.timeoutMs !== undefined && call.timeoutMs <= 0) return this.refuse(reply, errorBody(ErrorCode.DEADLINE_EXCEEDED, 'the deadline passed before the call started'));
    const gateway = reply && gatewayOfReply(reply);
    if (gateway) this.gateways.seen(gateway);
    this.run(object, call, args, reply, pin, identity);
  }

  private refuse(reply: string | undefined, error: ErrorBody): void {
    if (reply) this.answer(reply, { e: 'error' }, errorPayload(error, this.host.codec));
  }

  private run(object: string, call: OutgoingCall, args: EncodedPayload, reply: string | undefined, pin: boolean, identity: Identity | undefined): void {
    const connection = this.connections.info(call.context.connection, call.context.remoteAddress, identity, call.context.noPeer !== true);
    const deadline = call.timeoutMs === undefined ? undefined : this.clock.now() + call.timeoutMs;
    const context = new CallContext(connection, call.context.correlationId, call.context.annotations, deadline);
    if (typeof call.context.traceparent === 'string') context.traceContext = remoteParent(call.context.traceparent);
    const hostCall = { object, member: call.member, kind: (call.kind === 'stream' ? 'call' : call.kind) as CallKind, oneway: !reply, args, context };
    const stats = this.statsOf(object.startsWith('~') ? '~' : object); // references share one entry
    stats.requests++;
    if (call.kind === 'stream') {
      if (reply) this.streams.open(hostCall, call.upTo ?? 0, reply, pin, this.verifier ? call.assertion : undefined);
      return;
    }
    if (reply) this.running.add(reply, context, this.verifier ? call.assertion : undefined);
    const started = performance.now();
    const observe = this.observeCall;
    const sink: ReplySink = {
      resolve: (value) => {
        if (this.tagAnswers) context.annotate('uplink-host', this.name);
        observe?.(object, hostCall.member, 'OK', (performance.now() - started) / 1000);
        this.answered(reply, stats, started, pin, undefined, value, context.resultAnnotations);
      },
      reject: (error) => {
        observe?.(object, hostCall.member, error.code, (performance.now() - started) / 1000);
        this.answered(reply, stats, started, pin, error);
      },
    };
    this.host.invoke(hostCall, sink);
  }

  private answered(
    reply: string | undefined, stats: EndpointStats, started: number, pin: boolean, error: ErrorBody | undefined,
    value?: EncodedPayload, annotations?: Readonly<Record<string, string>>,
  ): void {
    stats.processingNs += Math.round((performance.now() - started) * 1e6);
    if (error) {
      stats.errors++;
      stats.lastError = error.code;
    }
    if (!reply) return;
    this.running.finish(reply);
    const session: Omit<AnswerHead, 'e'> = pin ? { h: this.id, pin: 1 } : {};
    const resultBytes = error ? 0 : packedSize(value!);
    const budget = payloadBudget(this.nc);
    const sent = resultBytes > budget ? 'too-large'
      : error ? this.answer(reply, { e: 'error', ...session }, errorPayload(error, this.host.codec))
      : this.answer(reply, { e: 'ok', ...session, ...(annotations ? { n: annotations } : {}) }, value, resultBytes);
    if (sent !== 'too-large') return;
    // With its annotations or error data the answer does not fit one message: the caller gets a typed error.
    const tooLarge = errorBody(ErrorCode.LIMIT_EXCEEDED, `the ${error ? 'error' : 'result'} is larger than one NATS message (${budget} bytes)`);
    this.answer(reply, { e: 'error', ...session }, errorPayload(tooLarge));
  }

  /** An answer to a unary call (call-envelope.ts: no NATS headers). */
  private answer(reply: string, head: AnswerHead, body?: EncodedPayload | Uint8Array, bodyBytes?: number): Sent {
    return this.nc.isClosed() ? 'failed' : publish(this.nc, reply, encodeAnswer(head, body, bodyBytes));
  }

  /** `call.<object>` (a pinned session), `ctl`, `list` or `meta`. */
  private onDirect(msg: Msg, rest: string): void {
    if (rest.startsWith('call.')) return this.onCall(rest.slice(5), msg, true);
    const h = msg.headers;
    if (rest === 'ctl' && h) return this.onControl(msg, h);
    // Listings are answered to the asking gateway's inbox only (never onto another Uplink subject).
    if (!isGatewayReply(msg.reply) || !h) return;
    const reply = msg.reply;
    const question = msg.data.length > 0 ? bytesJson<{ pattern?: unknown; id?: unknown }>(msg.data) : {};
    if (!this.verifier) return this.answerListing(rest, reply, readIdentity(h), question);
    this.verifier.identity(h.get(Header.assertion), reply).then(
      (identity) => this.answerListing(rest, reply, identity, question),
      () => this.answerListing(rest, reply, undefined, question), // an unproven caller sees what anonymous callers see
    ).catch((error: unknown) => this.nats.logger?.warn({ err: (error as Error)?.message }, 'a listing could not be answered'));
  }

  private answerListing(rest: string, reply: string, identity: Identity | undefined, question: { pattern?: unknown; id?: unknown }): void {
    const answer = listingAnswer(this.host, this.served, rest, identity, question);
    if (answer !== undefined) publish(this.nc, reply, jsonBytes(answer));
  }

  private onControl(msg: Msg, h: MsgHdrs): void {
    const op = h.get(Header.op);
    if (op === Op.cancel) return this.running.cancel(h.get(Header.call), this.verifier ? h.get(Header.assertion) : undefined);
    if (op === Op.callbackOk || op === Op.callbackError) return this.callbacks.answered(op, h, msg.data);
    const key = h.get(Header.key);
    if (op === Op.resume) return this.onResume(msg, h, key);
    const stream = this.streams.control(key, h.get(Header.call), this.verifier ? h.get(Header.assertion) : undefined);
    if (op === Op.grant) stream?.grant(count(h.get(Header.upTo)), count(h.get(Header.ack)));
    else if (op === Op.cancelStream) stream?.cancel();
    else if (op === Op.detach) stream?.detach();
  }

  /** A gateway asks for a stream (a client resumed there): to that gateway's inbox, as the identity it asserts. */
  private onResume(msg: Msg, h: MsgHdrs, key: string): void {
    const reply = msg.reply;
    if (!isGatewayReply(reply)) return;
    const ack = count(h.get(Header.ack));
    const upTo = count(h.get(Header.upTo));
    this.gateways.seen(gatewayOfReply(reply)!);
    if (!this.verifier) return this.streams.resume(key, readIdentity(h), ack, upTo, reply);
    const assertion = h.get(Header.assertion);
    this.verifier.identity(assertion, reply).then(
      (identity) => this.streams.resume(key, identity, ack, upTo, reply, assertion),
      () => this.nats.logger?.warn({ reply }, 'a resume without a valid identity assertion was dropped'), // nothing unproven is answered
    ).catch((error: unknown) => this.nats.logger?.warn({ err: (error as Error)?.message }, 'a stream resume failed'));
  }

  /** `uplink.evt.gw.<gateway>` (a beat), `.release` (closed connections) or `.unref` (references let go of). */
  /** `uplink.evt.gw.<gateway>` (a beat), `.release` (closed connections) or `.unref` (references let go of). */
  private onGatewayEvent(msg: Msg): void {
    // With cluster keys a gateway's word about its connections must be signed: the subject alone is
    // anyone's to write who holds the gateway credential.
    if (this.verifier && !this.verifier.eventSigned(msg.subject, msg.data, msg.headers?.get(Header.signature))) return;
    const gateway = applyGatewayEvent(msg, this.connections);
    if (gateway) this.gateways.seen(gateway);
  }

  private onRevocation(msg: Msg): void {
    const target = revocationOf(msg.data);
    if (!target) return;
    this.revocations.add(target);
    this.host.endStreams((owner) => this.revocations.matches(target, owner), 'revoked');
  }

  private tick(): void {
    this.beat();
    // While disconnected nothing is heard: silence then says nothing about gateways (restartClock on reconnect).
    if (!this.nats.connected) return;
    for (const gateway of this.gateways.sweep()) {
      this.nats.logger?.warn({ gateway }, 'gateway lost: no beat within the liveness bound; its streams linger for a resume');
      this.callbacks.gatewayGone(gateway);
      this.streams.detachGateway(gateway);
      this.connections.releaseGateway(gateway);
    }
  }

  private beat(): void {
    if (this.nc.isClosed()) return;
    const beat: HostBeat = {
      id: this.id, name: this.name, state: this.state, objects: this.served, calls: this.running.size, streams: this.streams.size,
      reconnects: this.nats.reconnects, access: this.declaredAccess, members: this.members,
    };
    publish(this.nc, Subject.hostEvents(this.id), jsonBytes(beat));
  }

  private statsOf(object: string): EndpointStats {
    let stats = this.stats.get(object);
    if (!stats) this.stats.set(object, (stats = { requests: 0, errors: 0, lastError: '', processingNs: 0 }));
    return stats;
  }

  /**
   * NATS came back: frames sent in between may be lost (a beat at once lets gateways re-attach), and
   * gateways get a whole liveness bound again (their silence was our outage).
   */
  private reconnected(): void {
    this.gateways.restartClock();
    this.beat();
  }
}
