/**
 * One client connection: the hello handshake, frame dispatch, the in-flight table, and outbound
 * frames. Invariants: nothing is dispatched before the welcome; every admitted call settles exactly
 * once (InflightCall); nothing touches the uWS socket after its close handler ran.
 */
/*
 * Over 350 lines: hello/expiry/refresh, the outbox and dispatch split apart with #11 (item 4), behind
 * the server-socket interface that split needs; kept whole until then.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { HandshakeInfo } from '../auth/authenticator.js';
import { asErrorBody, ErrorCode, errorBody, UplinkError, type ErrorBody } from '../errors.js';
import { CallContext, disposeResource, type ConnectionInfo, type Identity, type Resource } from '../core/context.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from '../host/object-host.js';
import { packBinary, unpackBinary } from '../protocol/binary.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';
import {
  joinFrame, negotiateVersion, parseClientHeader, splitFrame, SUPPORTED_VERSIONS,
  type BatchFrame, type CallFrame, type ClientFrame, type HelloFrame, type OnewayFrame, type ResumeFrame, type StreamFrame,
} from '../protocol/frames.js';
import { runBatch, splitBatchPayloads } from './batch.js';
import { definedOnly, type gatewayDefaults } from './config.js';
import { InflightCall, type CallOwner } from './inflight-call.js';
import { escapeLogText, type ClientLog, type Logger } from './logger.js';
import { TokenBucket } from './rate-limit.js';

export type ResolvedOptions = typeof gatewayDefaults & { server: string; maxAttachments: number; clockToleranceMs: number };

/** What a connection needs from its gateway. */
export interface ConnectionEnvironment {
  readonly objectHost: ObjectHost;
  readonly codec: Codec;
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** Log a debug line per answered call (only when the log level is debug or lower). */
  readonly logCalls: boolean;
  readonly draining: boolean;
  /**
   * The one admission path for every new identity, at hello and on refresh alike: the token is
   * verified (unless the upgrade request did it: `verified`), `check` runs on the result, then
   * revocation and the handshake hook. Rejects with the refusal.
   */
  admitIdentity(token: string | undefined, info: HandshakeInfo, verified?: Identity, check?: (identity: Identity | undefined) => void): Promise<Identity | undefined>;
  /** Log lines a client can cause: rate-limited, client text escaped. */
  readonly clientLog: ClientLog;
  /** Counts the connection against its subject's connection cap; false when the cap is reached. */
  admitSubject(connection: Connection): boolean;
  releaseSubject(connection: Connection): void;
  scheduleFlush(connection: Connection): void;
  connectionOpened(connection: Connection): void;
}

/** Per-socket data uWS keeps for us (set at upgrade, completed at open). */
export interface SocketData {
  remoteAddress: string;
  origin: string | undefined;
  userAgent: string | undefined;
  /** Set when the token came with the upgrade request (Authorization header or query string). */
  identity?: Identity | undefined;
  connection?: Connection;
}

type State = 'hello' | 'authenticating' | 'open' | 'closed';
/** How a refused handshake closes, by the error code of the refusal. */
const HANDSHAKE_CLOSE: Partial<Record<ErrorCode, [number, string]>> = {
  [ErrorCode.FORBIDDEN]: [CloseCode.FORBIDDEN, 'forbidden'],
  [ErrorCode.LIMIT_EXCEEDED]: [CloseCode.CONNECTION_LIMIT, 'too many connections for this subject'],
};
const EMPTY_ARGS: EncodedPayload = { text: '[]' };
/** uWS send status: written (0 means buffered with backpressure, 2 dropped over uWS's own limit). */
const SENT = 1;

/**
 * The empty tables connections share until their first call or stream. Plain Maps, so every table
 * access stays monomorphic on the hot path; the only writes (startCall, reserveStream) replace the
 * shared table with the connection's own first.
 */
const NO_CALLS = new Map<number, InflightCall>();
const NO_STREAMS = new Map<number, StreamControl | null>();

export class Connection implements ConnectionInfo, CallOwner {
  readonly id: string;
  readonly remoteAddress: string;
  identity: Identity | undefined;
  private state: State = 'hello';
  /** Calls in flight by id; the shared empty table until the first call (idle connections stay small). */
  private inflight: Map<number, InflightCall> = NO_CALLS;
  /** Calls in flight, a batch counting as its number of calls (what maxInflight caps). */
  private callsInFlight = 0;
  /**
   * Streams attached to this connection, by the client's id; null while the host is opening one. The
   * sink's released() removes the entry, so a refused or closed stream never lingers here. Shared and
   * empty until the first stream.
   */
  private streams: Map<number, StreamControl | null> = NO_STREAMS;
  /** Bytes queued in the outbox, counted with the socket's buffer for stream flow control. */
  private outboxBytes = 0;
  private onewayRunning = 0;
  private resources: Set<Resource> | undefined;
  /** Frames produced outside the uWS message handler, sent together in one corked flush. */
  private outbox: Array<string | Uint8Array> | undefined;
  private helloTimer: ReturnType<typeof setTimeout> | undefined;
  /** Fires when the token expires; then the grace timer closes the socket unless a refresh arrives. */
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  private tokenExpired = false;
  private refreshing = false;
  /** maxMessagesPerSec; frames refused in a row since the bucket last had a token. */
  private readonly messageRate: TokenBucket | undefined;
  private refusedInARow = 0;
  private readonly openedAt = Date.now();
  private calls = 0;

  constructor(
    private readonly ws: WebSocket<SocketData>,
    private readonly env: ConnectionEnvironment,
    id: string,
  ) {
    const data = ws.getUserData();
    this.id = id;
    this.remoteAddress = data.remoteAddress;
    this.helloTimer = setTimeout(() => this.close(CloseCode.HELLO_TIMEOUT, 'no hello in time'), env.options.helloTimeoutMs);
    const rate = env.options.maxMessagesPerSec;
    this.messageRate = rate > 0 ? new TokenBucket(rate, rate) : undefined;
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  track(resource: Resource): void {
    if (this.state === 'closed') {
      void disposeResource(resource);
      return;
    }
    (this.resources ??= new Set()).add(resource);
  }

  // ---- inbound ----

  onMessage(message: ArrayBuffer, isBinary: boolean): void {
    if (this.state !== 'open' && message.byteLength > this.env.options.maxPayloadBeforeWelcome) {
      this.close(CloseCode.PROTOCOL_ERROR, 'frame too large before welcome');
      return;
    }
    let frame: ClientFrame;
    let body: string;
    let attachments: Uint8Array[] | undefined;
    try {
      let text: string;
      if (isBinary) ({ text, attachments } = unpackBinary(message, this.env.options.maxAttachments));
      else text = Buffer.from(message).toString('utf8');
      const split = splitFrame(text);
      body = split.body;
      frame = parseClientHeader(split.header);
    } catch (error) {
      if (this.state !== 'open') this.close(CloseCode.PROTOCOL_ERROR, 'malformed frame before welcome');
      else this.writeError({}, asErrorBody(error, ErrorCode.BAD_FRAME, 'malformed frame'));
      return;
    }
    if (this.state !== 'open') {
      if (this.state === 'hello' && frame.t === 'hello') void this.onHello(frame);
      else this.close(CloseCode.PROTOCOL_ERROR, 'expected hello');
      return;
    }
    if (this.messageRate && !this.messageRate.take()) return this.refuseOverRate(frame);
    this.refusedInARow = 0;
    switch (frame.t) {
      case 'call': return this.onCall(frame, body, attachments);
      case 'oneway': return this.onOneway(frame, body, attachments);
      case 'batch': return this.onBatch(frame, body, attachments);
      case 'ping': return this.send(`{"t":"pong","id":${frame.id}}`);
      case 'pong': return;
      case 'cancel': return this.onCancel(frame.id);
      case 'stream': return this.onStream(frame, body, attachments);
      case 'credit': return this.streams.get(frame.id)?.grant(frame.upTo, frame.ack);
      case 'resume': return this.onResume(frame);
      case 'goodbye': return this.close(CloseCode.NORMAL, 'goodbye');
      case 'refresh': return void this.onRefresh(frame.id, frame.token);
      case 'hello': return this.close(CloseCode.PROTOCOL_ERROR, 'second hello');
    }
  }

  /**
   * Over maxMessagesPerSec: frames that expect an answer get RATE_LIMITED, the rest are dropped; a
   * client that goes on sending a whole burst's worth while refused is disconnected (4529).
   */
  private refuseOverRate(frame: ClientFrame): void {
    if (++this.refusedInARow > this.env.options.maxMessagesPerSec) {
      this.env.clientLog.warn({ conn: this.id, remote: this.remoteAddress, sub: this.identity?.subject }, 'message flood: disconnected');
      this.close(CloseCode.RATE_LIMITED, 'too many requests');
      return;
    }
    if (frame.t === 'call' || frame.t === 'batch' || frame.t === 'stream' || frame.t === 'refresh') {
      this.writeError({ id: frame.id }, errorBody(ErrorCode.RATE_LIMITED, `more than ${this.env.options.maxMessagesPerSec} frames per second`));
    }
  }

  private async onHello(hello: HelloFrame): Promise<void> {
    clearTimeout(this.helloTimer);
    const version = negotiateVersion(hello.v);
    if (version === undefined) {
      this.writeError({}, { code: ErrorCode.UNSUPPORTED_VERSION, name: 'UplinkError', message: `no common protocol version; this gateway speaks ${SUPPORTED_VERSIONS.join(', ')}`, data: { supported: SUPPORTED_VERSIONS } });
      this.close(CloseCode.UNSUPPORTED_VERSION, 'unsupported protocol version');
      return;
    }
    this.state = 'authenticating';
    try {
      this.identity = await this.env.admitIdentity(hello.token, this.handshakeInfo(undefined), this.ws.getUserData().identity);
      if (this.isOpen && !this.env.admitSubject(this)) {
        throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `more than ${this.env.options.maxConnectionsPerSubject} connections for this subject`);
      }
    } catch (error) {
      if (!this.isOpen) return; // the socket closed while the token was being verified
      const body = asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed');
      this.env.clientLog.warn({ conn: this.id, remote: this.remoteAddress, code: body.code, reason: body.message }, 'handshake refused');
      this.writeError({}, body);
      const [code, reason] = HANDSHAKE_CLOSE[body.code] ?? [CloseCode.UNAUTHENTICATED, 'unauthenticated'];
      this.close(code, reason);
      return;
    }
    if (!this.isOpen) return;
    this.state = 'open';
    const o = this.env.options;
    this.sendNow(joinFrame({
      t: 'welcome', v: version, conn: this.id, server: o.server,
      limits: { maxPayload: o.maxPayloadLength, maxInflight: o.maxInflight, maxArgs: o.maxArgs },
      ...this.expiryFields(),
    }));
    this.armExpiry();
    this.env.connectionOpened(this);
  }

  // ---- token expiry and in-band refresh ----

  private expiryFields(): { exp?: number; expIn?: number } {
    const exp = this.identity?.expiresAt;
    return exp === undefined ? {} : { exp, expIn: exp - Date.now() };
  }

  /** At expiry (plus the clock tolerance) calls start failing with TOKEN_EXPIRED; after the grace period the socket closes. */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.tokenExpired = false;
    const exp = this.identity?.expiresAt;
    if (exp === undefined) return;
    const delay = exp + this.env.options.clockToleranceMs - Date.now();
    this.expiryTimer = setTimeout(() => {
      if (Date.now() < exp + this.env.options.clockToleranceMs) return this.armExpiry(); // timers cap at ~24.8 days
      this.tokenExpired = true;
      this.expiryTimer = setTimeout(() => this.close(CloseCode.TOKEN_EXPIRED, 'token expired'), this.env.options.expiryGraceMs);
    }, Math.min(Math.max(0, delay), 2_147_483_647));
  }

  private handshakeInfo(identity: Identity | undefined): HandshakeInfo {
    const data = this.ws.getUserData();
    return { remoteAddress: this.remoteAddress, origin: data.origin, userAgent: data.userAgent, identity };
  }

  /** A fresh token goes through the same admission as at hello, and must keep the subject and issuer. */
  private async onRefresh(id: number, token: string): Promise<void> {
    if (this.refreshing) return this.writeError({ id }, errorBody(ErrorCode.BUSY, 'a refresh is already in progress'));
    const previous = this.identity;
    let next: Identity | undefined;
    this.refreshing = true;
    try {
      next = await this.env.admitIdentity(token, this.handshakeInfo(previous), undefined, (candidate) => {
        if (!candidate || candidate.subject !== previous?.subject || candidate.issuer !== previous?.issuer) {
          throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'a refreshed token must have the same subject and issuer', { reason: 'ERR_SUBJECT_CHANGED' });
        }
        if ((candidate.expiresAt ?? Infinity) < (previous.expiresAt ?? 0)) {
          throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'a refreshed token must not expire before the current one', { reason: 'ERR_EXPIRY_SHORTENED' });
        }
      });
    } catch (error) {
      const body = asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed');
      this.env.clientLog.warn({ conn: this.id, sub: previous?.subject, code: body.code, reason: body.message }, 'token refresh refused');
      this.writeError({ id }, body);
      return;
    } finally {
      this.refreshing = false;
    }
    if (!this.isOpen) return;
    this.identity = next;
    this.armExpiry();
    this.send(joinFrame({ t: 'refreshed', id, ...this.expiryFields() }));
  }

  /**
   * Whether a call or stream with this id may start; otherwise the refusal is written. A duplicate id
   * is refused without an id (BAD_FRAME): answering under that id would settle the first call with
   * the second's refusal, and every id gets exactly one answer.
   */
  private admit(id: number, cid: string | undefined, stream: boolean, weight = 1): boolean {
    if (this.inflight.has(id) || this.streams.has(id)) {
      this.writeError({}, errorBody(ErrorCode.BAD_FRAME, `id ${id} is already in use`));
      return false;
    }
    const o = this.env.options;
    const refusal = this.connectionRefusal() ?? (
      this.callsInFlight + weight > o.maxInflight ? errorBody(ErrorCode.BUSY, `more than ${o.maxInflight} calls in flight`)
        : stream && this.streams.size >= o.maxStreams ? errorBody(ErrorCode.LIMIT_EXCEEDED, `more than ${o.maxStreams} streams open`)
          : undefined);
    if (refusal) this.writeError({ id, cid }, refusal);
    return refusal === undefined;
  }

  /** Why nothing new may start on this connection now (calls, streams and oneways alike), or undefined. */
  private connectionRefusal(): ErrorBody | undefined {
    return this.tokenExpired ? errorBody(ErrorCode.TOKEN_EXPIRED, 'the token expired; refresh it')
      : this.env.draining ? errorBody(ErrorCode.SHUTTING_DOWN, 'the gateway is shutting down')
      : undefined;
  }

  private startCall(frame: CallFrame | BatchFrame): InflightCall | undefined {
    const weight = frame.t === 'batch' ? frame.calls.length : 1;
    if (!this.admit(frame.id, frame.cid, false, weight)) return undefined;
    this.calls++;
    const deadline = frame.dl === undefined ? undefined : Date.now() + frame.dl;
    const context = new CallContext(this, frame.cid ?? `${this.id}.${frame.id}`, frame.ann, deadline);
    const call = new InflightCall(this, frame.id, frame.cid, context, frame.t === 'call' ? `${frame.o}.${frame.m}` : 'batch', weight);
    if (this.inflight === NO_CALLS) this.inflight = new Map();
    this.inflight.set(frame.id, call);
    this.callsInFlight += weight;
    if (frame.dl !== undefined) call.armDeadline(frame.dl);
    return call;
  }

  private onCall(frame: CallFrame, body: string, attachments: Uint8Array[] | undefined): void {
    const call = this.startCall(frame);
    if (!call) return;
    this.env.objectHost.invoke(
      { object: frame.o, member: frame.m, kind: frame.k ?? 'call', oneway: false, args: body ? { text: body, attachments } : EMPTY_ARGS, context: call.context },
      call,
    );
  }

  private onCancel(id: number): void {
    const stream = this.streams.get(id);
    if (stream !== undefined) {
      this.streams.delete(id);
      stream?.cancel();
    } else {
      this.inflight.get(id)?.abort(ErrorCode.CANCELLED, 'cancelled by the caller');
    }
  }

  // ---- streams ----

  private onStream(frame: StreamFrame, body: string, attachments: Uint8Array[] | undefined): void {
    if (!this.admit(frame.id, frame.cid, true)) return;
    this.calls++;
    const context = new CallContext(this, frame.cid ?? `${this.id}.${frame.id}`, frame.ann, undefined);
    const call: HostCall = { object: frame.o, member: frame.m, kind: 'call', oneway: false, args: body ? { text: body, attachments } : EMPTY_ARGS, context };
    this.reserveStream(frame.id);
    const control = this.env.objectHost.openStream(call, frame.upTo, this.streamSink(frame.id));
    this.attachStream(frame.id, control);
  }

  private onResume(frame: ResumeFrame): void {
    if (!this.admit(frame.id, undefined, true)) return;
    const sink = this.streamSink(frame.id);
    this.reserveStream(frame.id);
    const control = this.env.objectHost.resumeStream(frame.key, this.identity, frame.ack, frame.upTo, sink);
    if (!control) sink.fail(errorBody(ErrorCode.STREAM_LOST, 'no stream to resume for this key'), frame.ack);
    this.attachStream(frame.id, control);
  }

  private reserveStream(id: number): void {
    if (this.streams === NO_STREAMS) this.streams = new Map();
    this.streams.set(id, null);
  }

  /** Records the stream under its id, unless it was refused or already closed while it opened. */
  private attachStream(id: number, control: StreamControl | undefined): void {
    if (control?.live && this.streams.has(id)) this.streams.set(id, control);
    else this.streams.delete(id);
  }

  /** The sink a stream writes to while attached to this connection. */
  private streamSink(id: number): StreamSink {
    const connection = this;
    return {
      get writable() {
        return connection.isOpen && connection.ws.getBufferedAmount() + connection.outboxBytes < connection.env.options.streamHighWaterMark;
      },
      opened(key) {
        connection.send(`{"t":"stream-open","id":${id},"key":"${key}"}`); // key is base64url: safe in JSON as is
      },
      items(seq, payload) {
        const text = `{"t":"items","id":${id},"seq":${seq}}\n${payload.text}`;
        connection.send(payload.attachments ? packBinary(text, payload.attachments) : text);
      },
      end(total) {
        connection.send(`{"t":"end","id":${id},"seq":${total}}`);
      },
      fail(error, delivered) {
        connection.writeError({ id, seq: delivered }, error);
      },
      released() {
        connection.streams.delete(id);
      },
    };
  }

  /** uWS drained the socket: streams waiting for room go on. */
  onDrain(): void {
    for (const stream of this.streams.values()) stream?.drained();
  }

  private onBatch(frame: BatchFrame, body: string, attachments: Uint8Array[] | undefined): void {
    let payloads: EncodedPayload[];
    try {
      payloads = splitBatchPayloads(frame, body, attachments);
    } catch (error) {
      this.writeError({ id: frame.id }, asErrorBody(error, ErrorCode.BAD_FRAME, 'malformed frame'));
      return;
    }
    const call = this.startCall(frame);
    if (call) runBatch(this.env.objectHost, call, frame, payloads);
  }

  /** Oneway calls pass the same admission as calls (expired token, shutdown, a cap); a refused one is dropped and logged. */
  private onOneway(frame: OnewayFrame, body: string, attachments: Uint8Array[] | undefined): void {
    const refusal = this.connectionRefusal()?.code
      ?? (this.onewayRunning >= this.env.options.maxOnewayInflight ? ErrorCode.BUSY : undefined);
    if (refusal) {
      this.env.clientLog.warn({ conn: this.id, object: frame.o, method: frame.m, code: refusal }, 'oneway call dropped');
      return;
    }
    const context = new CallContext(this, frame.cid ?? `${this.id}.oneway`, frame.ann, undefined);
    const call: HostCall = { object: frame.o, member: frame.m, kind: 'call', oneway: true, args: body ? { text: body, attachments } : EMPTY_ARGS, context };
    this.onewayRunning++;
    const done: ReplySink = {
      resolve: () => void this.onewayRunning--,
      reject: (error) => {
        this.onewayRunning--;
        this.env.clientLog.warn({ conn: this.id, object: frame.o, method: frame.m, code: error.code, cid: context.correlationId }, 'oneway call failed');
      },
    };
    this.env.objectHost.invoke(call, done);
  }

  // ---- outbound (CallOwner) ----

  callSettled(call: InflightCall): void {
    if (this.inflight.delete(call.id)) this.callsInFlight -= call.weight;
  }

  sendResult(call: InflightCall, value: EncodedPayload): void {
    const annotations = call.context.resultAnnotations;
    let header: string;
    if (call.batchOutcomes) {
      header = JSON.stringify({ t: 'batch-result', id: call.id, results: call.batchOutcomes, ...(call.clientCorrelationId ? { cid: call.clientCorrelationId } : {}) });
    } else if (call.clientCorrelationId === undefined && annotations === undefined) {
      header = `{"t":"result","id":${call.id}}`; // the hot path: id is a validated safe integer
    } else {
      header = JSON.stringify({ t: 'result', id: call.id, cid: call.clientCorrelationId, ann: annotations });
    }
    const text = header + '\n' + value.text;
    this.send(value.attachments ? packBinary(text, value.attachments) : text);
    if (this.env.logCalls) {
      this.env.logger.debug({ conn: this.id, call: escapeLogText(call.target), cid: escapeLogText(call.context.correlationId), durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000 }, 'call answered');
    }
  }

  sendError(call: InflightCall, error: ErrorBody): void {
    this.writeError({ id: call.id, cid: call.clientCorrelationId }, error);
    const fields = {
      conn: this.id, call: call.target, cid: call.context.correlationId, code: error.code,
      durationMs: Math.round((performance.now() - call.startedAt) * 1000) / 1000,
    };
    // A failure the server caused is a warning; one the caller caused (bad arguments, unknown names, limits) is not.
    if (error.code === ErrorCode.INTERNAL) this.env.clientLog.warn(fields, 'call failed');
    else this.env.clientLog.info(fields, 'call failed');
  }

  /** An error frame: the given header fields, the error, and its data as the body (dropped, never the error, if it cannot be encoded). */
  private writeError(fields: { id?: number | undefined; cid?: string | undefined; seq?: number }, error: ErrorBody): void {
    const { data, ...rest } = error;
    const header = JSON.stringify({ t: 'error', ...definedOnly(fields), ...rest });
    let encoded: EncodedPayload | undefined;
    if (data !== undefined) {
      try {
        encoded = this.env.codec.encode(data);
      } catch {
        encoded = undefined; // error data that cannot be encoded is dropped, never the error itself
      }
    }
    const text = encoded ? header + '\n' + encoded.text : header;
    this.send(encoded?.attachments ? packBinary(text, encoded.attachments) : text);
  }

  /** Sends at once, corked, unless frames are queued (they go first): for frames outside the call path. */
  private sendNow(frame: string): void {
    if (this.outbox || this.state === 'closed') return this.send(frame);
    this.ws.cork(() => this.ws.send(frame));
  }

  /** Queues a frame; the gateway flushes all queued frames of all connections in one corked pass. */
  send(data: string | Uint8Array): void {
    if (this.state === 'closed') return;
    if (!this.outbox) {
      this.outbox = [];
      this.env.scheduleFlush(this);
    }
    this.outbox.push(data);
    this.outboxBytes += typeof data === 'string' ? data.length : data.byteLength;
  }

  /** Writes queued frames; the caller has corked the socket (or is inside a uWS handler). */
  flush(): void {
    const frames = this.outbox;
    this.outbox = undefined;
    this.outboxBytes = 0;
    if (!frames || this.state === 'closed') return;
    let backpressure = false;
    for (const f of frames) backpressure = this.ws.send(f, typeof f !== 'string') !== SENT || backpressure;
    // Only a send that built up backpressure can have pushed the buffer past the budget.
    if (backpressure && this.ws.getBufferedAmount() > this.env.options.maxBackpressure) {
      // The client does not read: stop buffering for it (its socket buffer is full, uWS's holds the rest).
      this.env.logger.warn({ conn: this.id, remote: this.remoteAddress, bufferedBytes: this.ws.getBufferedAmount() }, 'slow consumer: disconnected');
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer');
      return;
    }
    if (this.streams.size > 0) this.onDrain(); // streams paused on the outbox size may go on
  }

  corkedFlush(): void {
    if (this.state !== 'closed' && this.outbox) this.ws.cork(() => this.flush());
  }

  /** Sends goodbye with reconnect advice (graceful shutdown step one). */
  sayGoodbye(reconnectMs: number): void {
    this.send(joinFrame({ t: 'goodbye', reason: 'shutdown', reconnectMs }));
  }

  /** Answers every call still running with SHUTTING_DOWN (graceful shutdown, after the drain period). */
  abortInflight(): void {
    for (const call of [...this.inflight.values()]) call.abort(ErrorCode.SHUTTING_DOWN, 'the gateway shut down before the call finished');
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.corkedFlush();
    this.ws.end(code, reason);
  }

  /** uWS close handler: the socket is gone; release everything that belonged to it. */
  onClose(code: number): Promise<unknown[]> {
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.outbox = undefined;
    clearTimeout(this.helloTimer);
    clearTimeout(this.expiryTimer);
    for (const call of this.inflight.values()) call.orphan();
    this.inflight.clear();
    this.callsInFlight = 0;
    for (const stream of this.streams.values()) stream?.detach();
    this.streams.clear();
    this.env.objectHost.releaseConnection(this);
    if (wasOpen) this.env.releaseSubject(this);
    if (wasOpen || this.calls > 0) {
      this.env.logger.info({ conn: this.id, remote: this.remoteAddress, sub: this.identity?.subject, code, calls: this.calls, durationMs: Date.now() - this.openedAt }, 'connection closed');
    }
    const resources = this.resources ? [...this.resources] : [];
    this.resources = undefined;
    return Promise.all(resources.map(disposeResource));
  }
}

