/**
 * One client connection: decoding, the hello handshake, token refresh and the socket's lifecycle.
 * Invariants: nothing is dispatched before the welcome; every admitted call settles exactly once
 * (InflightCall); nothing touches the socket after its close handler ran. The socket is a
 * ServerSocket (no uWS here); requests go to the Dispatcher, outbound frames through the Outbox,
 * token expiry through TokenLifetime.
 */
/*
 * About 400 lines: the inbound switch, the hello and refresh (they change the connection's identity
 * and state, which everything else here reads), the outbound side the dispatcher writes through, the
 * metric and log hooks of each, and the callbacks its outbox and token lifetime make (methods, not
 * closures, so an idle connection holds fewer objects). Callbacks, streams, calls, limits and
 * refusals of whole messages have files of their own.
 */
import type { HandshakeInfo } from '../../auth/authenticator.js';
import { asErrorBody, ErrorCode, errorBody, UplinkError, type ErrorBody } from '../../protocol/errors.js';
import { disposeResource, type ConnectionInfo, type Identity, type Resource } from '../../core/context.js';
import { CloseCode } from '../../protocol/close-codes.js';
import { EncodedData, type EncodedPayload } from '../../protocol/codec.js';
import { decodeClientFrame } from '../../protocol/frame-decoder.js';
import {
  writeBatchResult, writeError, writeGoodbye, writePong, writeRefreshed, writeResult, writeWelcome, type WireMessage,
} from '../../protocol/frame-writer.js';
import { negotiateVersion, SUPPORTED_VERSIONS, type ClientFrame, type HelloFrame } from '../../protocol/frames.js';
import { refreshCheck } from '../admission.js';
import type { ConnectionEnvironment, PeerInfo } from './connection-environment.js';
import type { ConnectionSummary } from '../admin-object.js';
import { Dispatcher } from './dispatcher.js';
import type { CallOwner, InflightCall } from './inflight-call.js';
import { escapeLogText, type Logger } from '../logger.js';
import { OutgoingCallbacks } from './callbacks.js';
import { OK } from '../metrics.js';
import { endSpan } from '../../core/tracing.js';
import { Outbox } from './outbox.js';
import { refuseMalformed } from './malformed-frames.js';
import { refuseFailed, refuseOverRate, refuseOversized } from './inbound-refusals.js';
import { MessageRate } from './rate-limit.js';
import type { ServerSocket } from './server-socket.js';
import { TokenLifetime } from './token-lifetime.js';

type State = 'hello' | 'authenticating' | 'open' | 'closed';

/** How a refused handshake closes, by the error code of the refusal. */
const HANDSHAKE_CLOSE: Partial<Record<ErrorCode, [number, string]>> = {
  [ErrorCode.FORBIDDEN]: [CloseCode.FORBIDDEN, 'forbidden'],
  [ErrorCode.LIMIT_EXCEEDED]: [CloseCode.CONNECTION_LIMIT, 'too many connections for this subject'],
};

export class Connection implements ConnectionInfo, CallOwner {
  readonly id: string;
  readonly remoteAddress: string;
  identity: Identity | undefined;
  private state: State = 'hello';
  private readonly dispatch: Dispatcher;
  private readonly outbox: Outbox;
  private readonly token: TokenLifetime;
  private resources: Set<Resource> | undefined;
  private helloTimer: unknown;
  private refreshing = false;
  /** maxMessagesPerSec. */
  private readonly messageRate: MessageRate | undefined;
  private readonly openedAt: number;
  /** Message bytes in and out (text out counted in UTF-16 units), for the admin view. */
  private bytesIn = 0;
  private bytesOut = 0;
  private callbacks: OutgoingCallbacks | undefined;

  constructor(
    private readonly socket: ServerSocket,
    private readonly remote: PeerInfo,
    private readonly env: ConnectionEnvironment,
    id: string,
  ) {
    const { options, clock } = env;
    this.id = id;
    this.remoteAddress = remote.remoteAddress;
    this.openedAt = clock.now();
    this.helloTimer = clock.setTimeout(() => this.close(CloseCode.HELLO_TIMEOUT, 'no hello in time'), options.helloTimeoutMs);
    const rate = options.maxMessagesPerSec;
    this.messageRate = rate > 0 ? new MessageRate(rate, clock) : undefined;
    this.outbox = new Outbox(socket, options.maxBackpressure, this, env.flushQueue);
    this.dispatch = new Dispatcher(this, env);
    const metrics = env.metrics;
    if (metrics) {
      metrics.totals.open++;
      metrics.totals.opened++;
    }
    this.token = new TokenLifetime(env.deadlines, clock, options.clockToleranceMs, options.expiryGraceMs, this);
  }

  // ---- owner callbacks (methods rather than closures: an idle connection keeps fewer objects) ----

  /** Outbox: queued frames were written; streams paused on the outbox size may go on. */
  written(): void {
    if (this.dispatch.streams.size > 0) this.onDrain();
  }

  /** Outbox: the client does not read. */
  slowConsumer(bufferedBytes: number): void {
    this.logger.warn({ bufferedBytes }, 'slow consumer: disconnected');
    this.env.metrics?.backpressureEvent('slow_consumer');
    this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
  }

  /** Dropped once the hello came (or the socket closed), so an idle connection does not keep it. */
  private stopHelloTimer(): void {
    this.env.clock.clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
  }

  /** TokenLifetime: expired, and no refresh came within the grace period. */
  tokenGraceOver(): void {
    this.close(CloseCode.TOKEN_EXPIRED, 'token expired');
  }

  /** Bytes waiting for the socket (queued here and in its buffer): streams pause above their high-water mark. */
  get pendingBytes(): number {
    return this.outbox.pendingBytes;
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Welcomed: past the hello and its admission, frames are handled as they come. */
  get welcomed(): boolean {
    return this.state === 'open';
  }

  /** Calls to this client (its callbacks), and releases: the host's way back. Made on first use (idle connections stay small). */
  get peer(): OutgoingCallbacks {
    const { env } = this;
    const metrics = env.metrics;
    return (this.callbacks ??= new OutgoingCallbacks(this, env.codec, env.clock, env.options.maxCallbacksInflight, metrics && ((code) => metrics.callback(code))));
  }

  /** This connection's logger: a pino child carrying its id and address (made on first use: idle connections stay small). */
  get logger(): Logger {
    return (this.childLogger ??= this.env.logs.logger.child({ conn: this.id, remote: this.remoteAddress }));
  }

  private childLogger: Logger | undefined;

  /** What the admin view shows of this connection. */
  describe(): ConnectionSummary {
    return {
      id: this.id, subject: this.identity?.subject ?? null, address: this.remoteAddress, ageSec: Math.round((this.env.clock.now() - this.openedAt) / 1000),
      calls: this.dispatch.admitted, inflight: this.dispatch.calls.weight, streams: this.dispatch.streams.size, bytesIn: this.bytesIn, bytesOut: this.bytesOut,
    };
  }

  track(resource: Resource): void {
    if (this.state === 'closed') {
      void disposeResource(resource);
      return;
    }
    (this.resources ??= new Set()).add(resource);
  }

  // ---- inbound ----

  /** uWS's message handler (the socket is corked meanwhile): what the message's sync work sends leaves in one write at the end. */
  receive(message: ArrayBuffer, isBinary: boolean): void {
    this.outbox.inHandler = true;
    try {
      this.onMessage(message, isBinary);
    } catch (error) {
      refuseFailed(this, this.env, error, message, isBinary);
    } finally {
      this.outbox.inHandler = false;
      this.flush();
    }
  }

  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (this.state !== 'open' && message.byteLength > this.env.options.maxPayloadBeforeWelcome) {
      this.close(CloseCode.PROTOCOL_ERROR, 'frame too large before welcome');
      return;
    }
    this.bytesIn += message.byteLength;
    if (this.env.metrics) this.env.metrics.totals.bytesReceived += message.byteLength;
    if (message.byteLength > this.env.options.maxPayloadLength) return refuseOversized(this, this.env, message, isBinary);
    let frame: ClientFrame;
    let body: string;
    let attachments: Uint8Array[] | undefined;
    try {
      ({ frame, body, attachments } = decodeClientFrame(message, isBinary, this.env.options.maxAttachments));
    } catch (error) {
      if (this.state !== 'open') this.close(CloseCode.PROTOCOL_ERROR, 'malformed frame before welcome');
      else refuseMalformed({ writeError: (where, body) => this.writeError(where, body), requests: this.dispatch, callbacks: this.callbacks }, error, asErrorBody(error, ErrorCode.BAD_FRAME, 'malformed frame'));
      return;
    }
    if (this.state !== 'open') {
      if (this.state === 'hello' && frame.t === 'hello') void this.onHello(frame);
      else this.close(CloseCode.PROTOCOL_ERROR, 'expected hello');
      return;
    }
    if (this.messageRate && !this.messageRate.take()) return refuseOverRate(this, this.env, this.messageRate, frame);
    switch (frame.t) {
      case 'call': return this.dispatch.call(frame, body, attachments);
      case 'oneway': return this.dispatch.oneway(frame, body, attachments);
      case 'batch': return this.dispatch.batch(frame, body, attachments);
      case 'ping': return this.send(writePong(frame.id));
      case 'pong': return;
      case 'cancel': return this.dispatch.cancel(frame.id);
      case 'stream': return this.dispatch.stream(frame, body, attachments);
      case 'credit': return this.dispatch.credit(frame);
      case 'resume': return this.dispatch.resume(frame);
      case 'goodbye': return this.close(CloseCode.NORMAL, 'goodbye');
      case 'refresh': return void this.onRefresh(frame.id, frame.token);
      case 'callback-result': return this.callbacks?.answered(frame.id, { text: body, attachments });
      case 'callback-error': return this.callbacks?.failed(frame.id, frame, body ? { text: body, attachments } : undefined);
      case 'release': return this.env.objectHost.releaseReference(this, frame.ref, frame.n);
      case 'hello': return this.close(CloseCode.PROTOCOL_ERROR, 'second hello');
    }
  }

  private async onHello(hello: HelloFrame): Promise<void> {
    this.stopHelloTimer();
    const version = negotiateVersion(hello.v);
    if (version === undefined) {
      this.env.metrics?.handshake('refused', ErrorCode.UNSUPPORTED_VERSION);
      this.writeError({}, { code: ErrorCode.UNSUPPORTED_VERSION, name: 'UplinkError', message: `no common protocol version; this gateway speaks ${SUPPORTED_VERSIONS.join(', ')}`, data: { supported: SUPPORTED_VERSIONS } });
      this.close(CloseCode.UNSUPPORTED_VERSION, 'unsupported protocol version');
      return;
    }
    this.state = 'authenticating';
    try {
      this.identity = await this.env.sessions.admitIdentity(hello.token, this.handshakeInfo(undefined), this.remote.identity);
      if (this.isOpen && !this.env.sessions.admitSubject(this.identity)) {
        throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `more than ${this.env.options.maxConnectionsPerSubject} connections for this subject`);
      }
    } catch (error) {
      if (!this.isOpen) return; // the socket closed while the token was being verified
      const body = asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed');
      this.env.metrics?.handshake('refused', body.code);
      this.env.logs.clientLog.warn({ conn: this.id, remote: this.remoteAddress, code: body.code, reason: body.message }, 'handshake refused');
      this.writeError({}, body);
      const [code, reason] = HANDSHAKE_CLOSE[body.code] ?? [CloseCode.UNAUTHENTICATED, 'unauthenticated'];
      this.close(code, reason);
      return;
    }
    if (!this.isOpen) return;
    this.state = 'open';
    this.env.metrics?.handshake('ok', 'hello');
    this.token.arm(this.identity?.expiresAt);
    const o = this.env.options;
    this.sendNow(writeWelcome({
      v: version, conn: this.id, server: o.server,
      limits: { maxPayload: o.maxPayloadLength, maxInflight: o.maxInflight, maxArgs: o.maxArgs, maxRefs: o.maxRefsPerConnection },
      ...this.token.fields(),
    }));
    this.env.sessions.opened(this);
  }

  // ---- in-band token refresh ----

  private handshakeInfo(identity: Identity | undefined): HandshakeInfo {
    const { origin, userAgent } = this.remote;
    return { remoteAddress: this.remoteAddress, origin, userAgent, identity };
  }

  /** A fresh token goes through the same admission as at hello, and must keep the subject and issuer. */
  private async onRefresh(id: number, token: string): Promise<void> {
    if (this.refreshing) return this.writeError({ id }, errorBody(ErrorCode.BUSY, 'a refresh is already in progress'));
    const previous = this.identity;
    let next: Identity | undefined;
    this.refreshing = true;
    try {
      next = await this.env.sessions.admitIdentity(token, this.handshakeInfo(previous), undefined, refreshCheck(previous));
    } catch (error) {
      const body = asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed');
      this.env.logs.clientLog.warn({ conn: this.id, sub: previous?.subject, code: body.code, reason: body.message }, 'token refresh refused');
      this.writeError({ id }, body);
      return;
    } finally {
      this.refreshing = false;
    }
    if (!this.isOpen) return;
    this.identity = next;
    this.token.arm(next?.expiresAt);
    this.send(writeRefreshed(id, this.token.fields()));
  }

  /** Why nothing new may start on this connection now (calls, streams and oneways alike), or undefined. */
  get refusal(): ErrorBody | undefined {
    return this.token.expired ? errorBody(ErrorCode.TOKEN_EXPIRED, 'the token expired; refresh it')
      : this.env.sessions.draining ? errorBody(ErrorCode.SHUTTING_DOWN, 'the gateway is shutting down')
      : undefined;
  }

  /** uWS drained the socket: streams waiting for room go on. */
  onDrain(): void {
    this.dispatch.streams.drained();
  }

  // ---- outbound (CallOwner) ----

  callSettled(call: InflightCall): void {
    this.dispatch.calls.settled(call);
    if (this.env.metrics) this.env.metrics.totals.inflight -= call.weight;
  }

  sendResult(call: InflightCall, value: EncodedPayload): void {
    this.env.metrics?.callDone(call.object, call.member, OK, (performance.now() - call.startedAt) / 1000);
    endSpan(call.context.span, OK);
    this.send(call.batchOutcomes
      ? writeBatchResult(call.id, call.clientCorrelationId, call.batchOutcomes, value)
      : writeResult(call.id, call.clientCorrelationId, call.context.resultAnnotations, value));
    if (this.env.logs.calls) {
      this.logger.debug({ call: escapeLogText(call.target), cid: escapeLogText(call.context.correlationId), durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000 }, 'call answered');
    }
  }

  sendError(call: InflightCall, error: ErrorBody): void {
    this.env.metrics?.callDone(call.object, call.member, error.code, (performance.now() - call.startedAt) / 1000);
    endSpan(call.context.span, error.code);
    this.writeError({ id: call.id, cid: call.clientCorrelationId }, error);
    const fields = {
      conn: this.id, call: call.target, cid: call.context.correlationId, code: error.code,
      durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
    };
    // A failure the server caused is a warning; one the caller caused (bad arguments, unknown names, limits) is not.
    if (error.code === ErrorCode.INTERNAL) this.env.logs.clientLog.warn(fields, 'call failed');
    else this.env.logs.clientLog.info(fields, 'call failed');
  }

  /** An error frame with the given header fields; the error's data is its body. */
  writeError(fields: { id?: number | undefined; cid?: string | undefined; seq?: number }, error: ErrorBody): void {
    this.send(writeError(fields, error, (data) => this.encodeData(data)));
  }

  private encodeData(data: unknown): EncodedPayload {
    return data instanceof EncodedData ? data.payload : this.env.codec.encode(data);
  }

  /** Sends at once, corked, unless frames are queued (they go first): for frames outside the call path. */
  private sendNow(frame: WireMessage): void {
    if (!this.outbox.isEmpty || this.state === 'closed') return this.send(frame);
    this.socket.cork(() => this.socket.send(frame));
  }

  /** Queues a frame; the gateway flushes all queued frames of all connections in one corked pass. */
  send(data: WireMessage): void {
    if (this.state === 'closed') return;
    const bytes = typeof data === 'string' ? data.length : data.byteLength;
    this.bytesOut += bytes;
    if (this.env.metrics) this.env.metrics.totals.bytesSent += bytes;
    this.outbox.push(data);
  }

  /** Writes queued frames; the caller has corked the socket (or is inside a uWS handler). */
  flush(): void {
    if (this.state === 'closed') return this.outbox.discard();
    if (this.outbox.flush()) this.written();
  }

  corkedFlush(): void {
    if (this.state !== 'closed') this.outbox.writeQueued();
  }

  /** Sends goodbye with reconnect advice (graceful shutdown step one). */
  sayGoodbye(reconnectMs: number): void {
    this.send(writeGoodbye('shutdown', reconnectMs));
  }

  /** Answers every call still running with SHUTTING_DOWN (graceful shutdown, after the drain period). */
  abortInflight(): void {
    this.dispatch.calls.abortAll();
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.corkedFlush();
    this.socket.end(code, reason);
  }

  /** uWS close handler: the socket is gone; release everything that belonged to it. */
  onClose(code: number): Promise<unknown[]> {
    const wasOpen = this.state === 'open';
    if (this.env.metrics) {
      this.env.metrics.totals.open--;
      this.env.metrics.connectionClosed(code);
    }
    this.state = 'closed';
    this.outbox.discard();
    this.env.flushQueue.forget(this.outbox);
    this.stopHelloTimer();
    this.token.stop();
    this.dispatch.connectionClosed();
    this.callbacks?.closeAll();
    this.env.objectHost.releaseConnection(this);
    if (wasOpen) this.env.sessions.closed(this.identity);
    // The check first: a child logger costs something to make, and idle gateways often log at warn.
    if ((wasOpen || this.dispatch.admitted > 0) && this.env.logs.logger.isLevelEnabled('info')) {
      this.logger.info({ sub: this.identity?.subject, code, calls: this.dispatch.admitted, durationMs: this.env.clock.now() - this.openedAt }, 'connection closed');
    }
    const resources = this.resources ? [...this.resources] : [];
    this.resources = undefined;
    return Promise.all(resources.map(disposeResource));
  }
}

