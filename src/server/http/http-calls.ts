/**
 * Calls over plain HTTP (docs/protocol.md, "Calls over HTTP"): `POST /rpc/<object>/<member>` with a
 * JSON array of arguments answers the result; `GET` reads a property, `PUT` sets one; `Uplink-Oneway: 1`
 * answers 202 at once. Each request passes what a WebSocket call passes: the Host and origin checks,
 * the same admission of its bearer token (verification, revocation, the handshake hook), the access
 * rules and codec limits of the object host, a deadline, metrics; objects on NATS are reached the same way.
 *
 * Invariants: a token is taken from the Authorization header only (never a cookie, so no CSRF; never
 * the query string, which lands in logs); a request answers exactly once (ReplySink settles once, an
 * abort or the deadline wins over a late result); every call's per-request connection is released
 * when it settles, so session instances and tracked resources never outlive their request.
 */
import type { HandshakeInfo } from '../../auth/authenticator.js';
import { MAX_TIMER_MS, type Clock } from '../../clock.js';
import { CallContext, type ConnectionInfo, type Identity, type Resource, disposeResource } from '../../core/context.js';
import type { CallKind, ObjectHost, ReplySink } from '../../host/object-host.js';
import { EncodedData, type Codec, type EncodedPayload } from '../../protocol/codec.js';
import { asErrorBody, ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import { isName } from '../../protocol/frames.js';
import type { GatewayMetrics } from '../metrics.js';
import { endSpan, spanContextOf, startServerSpan, traceparentOf, tracingEnabled, type Span } from '../../core/tracing.js';
import type { ClientLog } from '../logger.js';
import type { HttpExchange } from './exchange.js';
import { errorText, httpStatusOf } from './http-errors.js';
import { batchJson, parseBatch, runHttpBatch } from './http-batch.js';
import { SseStreams, wantsEventStream } from './sse-streams.js';
import { cancelSseStream } from './sse-cancel.js';

export const RPC_PREFIX = '/rpc/';
const NO_STORE = { 'Cache-Control': 'no-store' };
/** The payload form with the codec's meta line (docs/protocol.md section 3); plain JSON is application/json. */
export const PAYLOAD_TYPE = 'application/vnd.uplink.payload';
/** Body types a call may carry: curl's `-d` sends the form type and fetch a string as text/plain, read here as the same JSON. */
const BODY_TYPES = new Set(['application/json', PAYLOAD_TYPE, 'application/x-www-form-urlencoded', 'text/plain', '']);

/** What HTTP calls need from their gateway. */
export interface HttpCallGate {
  readonly objectHost: ObjectHost;
  readonly codec: Codec;
  readonly clock: Clock;
  readonly metrics: GatewayMetrics | undefined;
  readonly clientLog: ClientLog;
  /** The stream limits SSE streams read are optional (defaults: 1 MiB of replay, 128 anonymous streams per address). */
  readonly options: { maxPayloadLength: number; maxInflight: number; maxArgs: number; server: string; streamMaxReplayBytes?: number; maxStreams?: number };
  /** Why no call is taken now (draining), or undefined. */
  refusal(): ErrorBody | undefined;
  admitIdentity(token: string | undefined, info: HandshakeInfo): Promise<Identity | undefined>;
  /** The client's address (forwarding headers count only from trusted proxies). */
  clientAddress(exchange: HttpExchange): string;
  nextConnectionId(): string;
}

/** A request as a call: the object, member and kind its method and path name. */
interface Target { object: string; member: string; kind: CallKind }

/** `/rpc/<object>/<member>` with a method that names a kind, or an error body. */
export function targetOf(exchange: HttpExchange): Target | ErrorBody {
  const parts = exchange.path.slice(RPC_PREFIX.length).split('/');
  if (parts.length !== 2) return errorBody(ErrorCode.BAD_FRAME, 'the path is /rpc/<object>/<member>');
  let object: string;
  let member: string;
  try {
    [object, member] = parts.map(decodeURIComponent) as [string, string];
  } catch {
    return errorBody(ErrorCode.BAD_FRAME, 'the path is not valid percent-encoding');
  }
  if (!isName(object) || !isName(member)) return errorBody(ErrorCode.BAD_FRAME, 'object and member are names of 1 to 256 characters');
  // References and callbacks need the way back a WebSocket gives (docs/protocol.md).
  if (object.startsWith('~')) return errorBody(ErrorCode.REF_RELEASED, 'references are used over WebSocket only');
  const kind: CallKind | undefined = exchange.method === 'POST' ? 'call' : exchange.method === 'GET' ? 'get' : exchange.method === 'PUT' ? 'set' : undefined;
  if (!kind) return errorBody(ErrorCode.BAD_FRAME, 'POST calls a method, GET reads a property, PUT sets one');
  return { object, member, kind };
}

/** The deadline a request asks for (`Uplink-Timeout`, ms, as a frame's `dl`); undefined: none asked. */
function timeoutOf(exchange: HttpExchange): number | undefined | ErrorBody {
  const text = exchange.header('uplink-timeout');
  if (text === '') return undefined;
  const ms = Number(text);
  if (!/^\d{1,10}$/.test(text) || ms < 1 || ms > MAX_TIMER_MS) return errorBody(ErrorCode.BAD_FRAME, 'Uplink-Timeout is a whole number of milliseconds');
  return ms;
}

/** A bearer token from the Authorization header; '' when there is none; undefined when the header is not one. */
export function bearerToken(exchange: HttpExchange): string | undefined {
  const header = exchange.header('authorization');
  if (header === '') return '';
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/i.exec(header);
  return match ? match[1] : undefined;
}

/**
 * The call's span (OpenTelemetry; none without an SDK), child of the request's W3C `traceparent`
 * header, as a WebSocket call's is of its `traceparent` annotation.
 */
function traceCall(context: CallContext, exchange: HttpExchange, target: Target): Span | undefined {
  if (!tracingEnabled()) return undefined;
  const span = startServerSpan(`${target.object}/${target.member}`, exchange.header('traceparent') || undefined, {
    'rpc.system': 'uplink', 'rpc.service': target.object, 'rpc.method': target.member, 'uplink.transport': 'http',
    ...(context.identity ? { 'enduser.id': context.identity.subject } : {}),
  });
  context.span = span;
  context.traceContext = spanContextOf(span);
  context.traceparent = traceparentOf(span);
  return span;
}

/** One request's stand-in for a connection: what the object host keeps per connection lives as long as the call. */
class RequestConnection implements ConnectionInfo {
  private resources: Resource[] | undefined;
  constructor(readonly id: string, readonly remoteAddress: string, readonly identity: Identity | undefined) {}
  track(resource: Resource): void {
    (this.resources ??= []).push(resource);
  }
  release(): void {
    for (const resource of this.resources?.splice(0) ?? []) void disposeResource(resource);
  }
}

export class HttpCalls {
  private inflight = 0;
  /** Streams over SSE: the same URL with `Accept: text/event-stream` (sse-streams.ts). */
  private readonly sse: SseStreams;

  constructor(private readonly gate: HttpCallGate) {
    const context = {
      objectHost: gate.objectHost, codec: gate.codec, clock: gate.clock, retainBytes: Math.floor((gate.options.streamMaxReplayBytes ?? 1024 * 1024) / 2),
      refuse: (exchange: HttpExchange, error: ErrorBody, status?: number) => this.fail(exchange, error, status),
    };
    this.sse = new SseStreams(context, gate.options.maxStreams ?? 128);
  }

  /** Handles one request under /rpc/ (the caller checked Host and origin). */
  async handle(exchange: HttpExchange): Promise<void> {
    if (exchange.path === RPC_PREFIX) return exchange.method === 'POST' ? this.batch(exchange) : this.hello(exchange);
    if (exchange.method === 'DELETE') return this.cancelStream(exchange);
    const target = targetOf(exchange);
    if ('code' in target) return this.fail(exchange, target);
    const request = await this.admit(exchange);
    if (!request) return;
    if (wantsEventStream(exchange)) return this.stream(exchange, target, { text: request.text }, request.connection);
    this.invoke(exchange, target, { text: request.text }, request.connection, request.timeoutMs);
  }

  /** `DELETE /rpc/...` with Last-Event-ID: the reader cancels its SSE stream (sse-cancel.ts). */
  private async cancelStream(exchange: HttpExchange): Promise<void> {
    const request = await this.admit(exchange);
    if (!request) return;
    const refusal = cancelSseStream(this.gate.objectHost, request.connection.identity, exchange.header('last-event-id'));
    if (refusal) this.fail(exchange, refusal);
    else exchange.respond(204, NO_STORE);
    request.connection.release();
  }

  /** `POST /rpc/`: a batch of calls (http-batch.ts), through the same admission as one call. */
  private async batch(exchange: HttpExchange): Promise<void> {
    const request = await this.admit(exchange);
    if (!request) return;
    const batch = parseBatch(request.text, this.gate.options.maxInflight);
    if ('code' in batch) return this.fail(exchange, batch);
    const { gate } = this;
    const deadline = request.timeoutMs === undefined ? undefined : gate.clock.now() + request.timeoutMs;
    const context = new CallContext(request.connection, request.connection.id, undefined, deadline);
    let answered = false;
    const answer = (respond: () => void): void => {
      if (answered) return;
      answered = true;
      gate.clock.clearTimeout(timer);
      respond();
      gate.objectHost.releaseConnection(request.connection);
      request.connection.release();
    };
    const timer = request.timeoutMs === undefined ? undefined : gate.clock.setTimeout(() => {
      context.abort(ErrorCode.DEADLINE_EXCEEDED, 'deadline exceeded');
      answer(() => this.fail(exchange, errorBody(ErrorCode.DEADLINE_EXCEEDED, `no answer within ${request.timeoutMs} ms`)));
    }, request.timeoutMs);
    exchange.onAborted(() => {
      context.abort(ErrorCode.CANCELLED, 'the HTTP request was aborted');
      answer(() => {});
    });
    runHttpBatch(gate.objectHost, batch, context, (answers) => answer(() => exchange.respond(200, { 'Content-Type': 'application/json', ...NO_STORE }, batchJson(answers, (data) => this.encodeData(data)))));
  }

  /**
   * What every call request passes before it runs: not draining, no token in the URL, a body type,
   * a bearer token that passes admission, a deadline header that parses, a body within the limit.
   * Undefined when the request was answered (refused) or went away.
   */
  private async admit(exchange: HttpExchange): Promise<{ text: string; connection: RequestConnection; timeoutMs: number | undefined } | undefined> {
    const refusal = this.gate.refusal() ?? (exchange.query.includes('token=') ? errorBody(ErrorCode.UNAUTHENTICATED, 'send the token in the Authorization header, never the URL') : undefined);
    if (refusal) return void this.fail(exchange, refusal);
    const contentType = exchange.header('content-type').split(';')[0]!.trim().toLowerCase();
    if (!BODY_TYPES.has(contentType)) return void this.fail(exchange, errorBody(ErrorCode.BAD_FRAME, `a call's body is application/json or ${PAYLOAD_TYPE}`), 415);
    const token = bearerToken(exchange);
    if (token === undefined) return void this.fail(exchange, errorBody(ErrorCode.UNAUTHENTICATED, 'the Authorization header is not a bearer token'));
    const timeoutMs = timeoutOf(exchange);
    if (typeof timeoutMs === 'object') return void this.fail(exchange, timeoutMs);
    const remoteAddress = this.gate.clientAddress(exchange);
    let identity: Identity | undefined;
    try {
      identity = await this.gate.admitIdentity(token || undefined, { remoteAddress, origin: exchange.header('origin') || undefined, userAgent: exchange.header('user-agent') || undefined, identity: undefined });
    } catch (error) {
      const body = asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed');
      this.gate.clientLog.warn({ remote: remoteAddress, code: body.code }, 'HTTP call refused');
      return void this.fail(exchange, body);
    }
    const read = await exchange.body(this.gate.options.maxPayloadLength);
    if ('aborted' in read) return undefined;
    if ('tooLarge' in read) return void this.fail(exchange, errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `the body is over ${this.gate.options.maxPayloadLength} bytes`));
    let text = read.bytes.byteLength === 0 ? '[]' : Buffer.from(read.bytes).toString('utf8');
    // Plain JSON may be written over several lines; a raw line break in JSON is only ever whitespace,
    // and the codec reads a line break as the start of the meta line (which only PAYLOAD_TYPE carries).
    if (contentType !== PAYLOAD_TYPE) text = text.replace(/[\r\n]/g, ' ');
    return { text, connection: new RequestConnection(this.gate.nextConnectionId(), remoteAddress, identity), timeoutMs };
  }

  /**
   * `GET /rpc/`, the HTTP hello: the token passes admission as at a WebSocket hello, and the answer is
   * what a welcome says (protocol version, limits, the token's expiry), so an HTTP client learns both
   * before its first call.
   */
  private async hello(exchange: HttpExchange): Promise<void> {
    if (exchange.method !== 'GET') return this.fail(exchange, errorBody(ErrorCode.BAD_FRAME, 'the HTTP hello is GET /rpc/'), 405);
    const token = bearerToken(exchange);
    if (token === undefined) return this.fail(exchange, errorBody(ErrorCode.UNAUTHENTICATED, 'the Authorization header is not a bearer token'));
    let identity: Identity | undefined;
    try {
      identity = await this.gate.admitIdentity(token || undefined, { remoteAddress: this.gate.clientAddress(exchange), origin: exchange.header('origin') || undefined, userAgent: exchange.header('user-agent') || undefined, identity: undefined });
    } catch (error) {
      return this.fail(exchange, asErrorBody(error, ErrorCode.UNAUTHENTICATED, 'authentication failed'));
    }
    const o = this.gate.options;
    const exp = identity?.expiresAt;
    exchange.respond(200, { 'Content-Type': 'application/json', ...NO_STORE }, JSON.stringify({
      v: 1, server: o.server, limits: { maxPayload: o.maxPayloadLength, maxInflight: o.maxInflight, maxArgs: o.maxArgs, maxRefs: 0 },
      ...(exp === undefined ? {} : { exp, expIn: exp - this.gate.clock.now() }),
    }));
  }

  /** A stream method over SSE; the request's connection is released when its response is over. */
  private stream(exchange: HttpExchange, target: Target, args: EncodedPayload, connection: RequestConnection): void {
    const context = new CallContext(connection, connection.id, undefined, undefined);
    this.sse.serve(exchange, { object: target.object, member: target.member, kind: 'call', oneway: false, args, context }, () => {
      this.gate.objectHost.releaseConnection(connection);
      connection.release();
    });
  }

  private invoke(exchange: HttpExchange, target: Target, args: EncodedPayload, connection: RequestConnection, timeoutMs: number | undefined): void {
    const { gate } = this;
    if (this.inflight >= gate.options.maxInflight * 64) return this.fail(exchange, errorBody(ErrorCode.BUSY, 'too many HTTP calls in flight'));
    const oneway = exchange.header('uplink-oneway') === '1' && target.kind === 'call';
    const started = performance.now();
    const deadline = timeoutMs === undefined ? undefined : gate.clock.now() + timeoutMs;
    const context = new CallContext(connection, connection.id, undefined, deadline);
    const span = traceCall(context, exchange, target);
    let settled = false;
    let timer: unknown;
    const settle = (answer: () => void, code: string): void => {
      if (settled) return;
      settled = true;
      this.inflight--;
      gate.clock.clearTimeout(timer);
      gate.metrics?.callDone(target.object, target.member, code, (performance.now() - started) / 1000);
      endSpan(span, code);
      answer();
      gate.objectHost.releaseConnection(connection);
      connection.release();
    };
    const reply: ReplySink = {
      // A oneway call answers 202 once accepted; a refusal before that (not a oneway method, no access) is answered.
      resolve: (value) => settle(() => (oneway ? exchange.respond(202, NO_STORE) : this.succeed(exchange, value)), 'OK'),
      reject: (error) => settle(() => this.fail(exchange, error), error.code),
    };
    this.inflight++;
    if (timeoutMs !== undefined) {
      timer = gate.clock.setTimeout(() => {
        context.abort(ErrorCode.DEADLINE_EXCEEDED, 'deadline exceeded');
        reply.reject(errorBody(ErrorCode.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    exchange.onAborted(() => {
      context.abort(ErrorCode.CANCELLED, 'the HTTP request was aborted');
      reply.reject(errorBody(ErrorCode.CANCELLED, 'the HTTP request was aborted'));
    });
    gate.objectHost.invoke({ object: target.object, member: target.member, kind: target.kind, oneway, args, context }, reply);
    if (oneway) exchange.respond(202, NO_STORE); // a no-op when the host already refused it
  }

  private succeed(exchange: HttpExchange, value: EncodedPayload): void {
    if (value.attachments && value.attachments.length > 0) {
      return this.fail(exchange, errorBody(ErrorCode.TYPE_NOT_ALLOWED, 'binary values travel over WebSocket only'));
    }
    const rich = value.text.includes('\n');
    exchange.respond(200, { 'Content-Type': rich ? PAYLOAD_TYPE : 'application/json', 'Cache-Control': 'no-store' }, value.text);
  }

  /** Error data as plain JSON (the payload's JSON line); undefined when the codec refuses it (the code and message still say what failed). */
  private encodeData(data: unknown): string | undefined {
    try {
      // Data a host in another process encoded already is forwarded as it is.
      const text = data instanceof EncodedData ? data.payload.text : this.gate.codec.encode(data).text;
      const newline = text.indexOf('\n');
      return newline < 0 ? text : text.slice(0, newline);
    } catch {
      return undefined;
    }
  }

  fail(exchange: HttpExchange, error: ErrorBody, status = httpStatusOf(error.code)): void {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
    if (status === 429) headers['Retry-After'] = '1';
    exchange.respond(status, headers, errorText(error, this.gate.codec));
  }
}
