/**
 * Dispatch of one connection's requests to the object host: calls, batches, oneways, streams,
 * resumes, credits and cancels. The connection decodes frames and owns the socket's lifecycle; the
 * dispatcher owns what runs: the call table and the streams.
 *
 * Invariants: an id is either free, a call's or a stream's, never two; every admitted request is
 * answered exactly once under its id (a refusal included); a duplicate id is refused without an id,
 * since answering under it would settle the first request with the second's refusal.
 */
import { CallContext, type ConnectionInfo } from '../../core/context.js';
import { asErrorBody, ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import type { HostCall, ReplySink } from '../../host/object-host.js';
import type { EncodedPayload } from '../../protocol/codec.js';
import type { BatchFrame, CallFrame, CreditFrame, OnewayFrame, ResumeFrame, StreamFrame } from '../../protocol/frames.js';
import { runBatch, splitBatchPayloads } from './batch.js';
import { CallTable } from './call-table.js';
import type { ConnectionEnvironment } from './connection-environment.js';
import { ConnectionStreams, type StreamOutput } from './connection-streams.js';
import { InflightCall, type CallOwner } from './inflight-call.js';
import { endSpan, spanContextOf, startServerSpan, traceparentOf, tracingEnabled, type Span } from '../../core/tracing.js';
import type { StreamSink } from '../../host/object-host.js';

/** A stream sink that ends the stream's span with its outcome (end, error, or cancelled when released first). */
function tracedSink(sink: StreamSink, span: Span | undefined): StreamSink {
  if (!span?.isRecording()) return sink;
  let ended = false;
  const end = (code: string): void => {
    if (ended) return;
    ended = true;
    endSpan(span, code);
  };
  return {
    get writable() {
      return sink.writable;
    },
    ...(sink.beforeWrites ? { beforeWrites: (task: () => void) => sink.beforeWrites!(task) } : {}),
    opened: (key) => sink.opened(key),
    items: (seq, payload, count) => sink.items(seq, payload, count),
    end: (total) => {
      span.setAttribute('uplink.items', total);
      end('OK');
      sink.end(total);
    },
    fail: (error, delivered) => {
      end(error.code);
      sink.fail(error, delivered);
    },
    released: () => {
      end(ErrorCode.CANCELLED);
      sink.released();
    },
  };
}

/** The connection as the dispatcher uses it. */
export interface DispatchTarget extends ConnectionInfo, CallOwner, StreamOutput {
  writeError(fields: { id?: number | undefined; cid?: string | undefined; seq?: number }, error: ErrorBody): void;
  /** Why nothing new may start now (an expired token, a shutdown), or undefined. */
  readonly refusal: ErrorBody | undefined;
}

const EMPTY_ARGS: EncodedPayload = { text: '[]' };

function args(body: string, attachments: Uint8Array[] | undefined): EncodedPayload {
  return body ? { text: body, attachments } : EMPTY_ARGS;
}

export class Dispatcher {
  readonly calls = new CallTable();
  readonly streams: ConnectionStreams;
  private onewayRunning = 0;
  /** Requests admitted so far (for the connection's closing log line). */
  admitted = 0;

  constructor(private readonly target: DispatchTarget, private readonly env: ConnectionEnvironment) {
    this.streams = new ConnectionStreams(target, env.options.streamHighWaterMark, env.metrics?.totals, env.flushQueue);
  }

  call(frame: CallFrame, body: string, attachments: Uint8Array[] | undefined): void {
    const call = this.startCall(frame);
    if (!call) return;
    const hostCall: HostCall = { object: frame.o, member: frame.m, kind: frame.k ?? 'call', oneway: false, args: args(body, attachments), context: call.context };
    this.env.objectHost.invoke(hostCall, call);
  }

  batch(frame: BatchFrame, body: string, attachments: Uint8Array[] | undefined): void {
    let payloads: EncodedPayload[];
    try {
      payloads = splitBatchPayloads(frame, body, attachments);
    } catch (error) {
      this.target.writeError({ id: frame.id }, asErrorBody(error, ErrorCode.BAD_FRAME, 'malformed frame'));
      return;
    }
    const call = this.startCall(frame);
    if (call) runBatch(this.env.objectHost, call, frame, payloads);
  }

  stream(frame: StreamFrame, body: string, attachments: Uint8Array[] | undefined): void {
    if (!this.admit(frame.id, frame.cid, true)) return;
    const context = new CallContext(this.target, frame.cid ?? frame.id, frame.ann, undefined);
    this.trace(context, frame.o, frame.m, true);
    const call: HostCall = { object: frame.o, member: frame.m, kind: 'call', oneway: false, args: args(body, attachments), context };
    this.streams.reserve(frame.id);
    const control = this.env.objectHost.openStream(call, frame.upTo, tracedSink(this.streams.sink(frame.id), context.span));
    this.streams.attach(frame.id, control);
  }

  resume(frame: ResumeFrame): void {
    if (!this.admit(frame.id, undefined, true)) return;
    const sink = this.streams.sink(frame.id);
    this.streams.reserve(frame.id);
    const control = this.env.objectHost.resumeStream(frame.key, this.target.identity, frame.ack, frame.upTo, sink);
    if (!control) sink.fail(errorBody(ErrorCode.STREAM_LOST, 'no stream to resume for this key'), frame.ack);
    this.streams.attach(frame.id, control);
  }

  credit(frame: CreditFrame): void {
    this.streams.grant(frame.id, frame.upTo, frame.ack);
  }

  cancel(id: number): void {
    if (!this.streams.cancel(id)) this.calls.cancel(id);
  }

  /** Oneway calls pass the same admission as calls (expired token, shutdown, a cap); a refused one is dropped and logged. */
  oneway(frame: OnewayFrame, body: string, attachments: Uint8Array[] | undefined): void {
    const { env, target } = this;
    const refusal = target.refusal?.code ?? (this.onewayRunning >= env.options.maxOnewayInflight ? ErrorCode.BUSY : undefined);
    if (refusal) {
      env.logs.clientLog.warn({ conn: target.id, object: frame.o, method: frame.m, code: refusal }, 'oneway call dropped');
      return;
    }
    const context = new CallContext(target, frame.cid ?? `${target.id}.oneway`, frame.ann, undefined);
    const call: HostCall = { object: frame.o, member: frame.m, kind: 'call', oneway: true, args: args(body, attachments), context };
    this.onewayRunning++;
    const done: ReplySink = {
      resolve: () => void this.onewayRunning--,
      reject: (error) => {
        this.onewayRunning--;
        env.logs.clientLog.warn({ conn: target.id, object: frame.o, method: frame.m, code: error.code, cid: context.correlationId }, 'oneway call failed');
      },
    };
    env.objectHost.invoke(call, done);
  }

  /** The connection is gone: calls are orphaned (signals abort), streams detach and linger for a resume. */
  connectionClosed(): void {
    this.calls.orphanAll();
    this.streams.detachAll();
  }

  /**
   * The call's span (OpenTelemetry; none without an SDK), child of the client's
   * `traceparent` annotation; when it records, user code runs in its context and a host elsewhere
   * gets its traceparent.
   */
  private trace(context: CallContext, object: string, member: string, stream: boolean): void {
    if (!tracingEnabled()) return; // no SDK: no span (endSpan and tracedSink take undefined)
    const span = startServerSpan(`${object}/${member}`, context.annotations?.traceparent, {
      'rpc.system': 'uplink', 'rpc.service': object, 'rpc.method': member, 'uplink.connection': this.target.id,
      ...(stream ? { 'uplink.stream': true } : {}), ...(this.target.identity ? { 'enduser.id': this.target.identity.subject } : {}),
    });
    context.span = span;
    context.traceContext = spanContextOf(span);
    context.traceparent = traceparentOf(span);
  }

  /** Whether a call or stream with this id may start; otherwise the refusal is written. */
  private admit(id: number, cid: string | undefined, stream: boolean, weight = 1): boolean {
    if (this.calls.has(id) || this.streams.has(id)) {
      this.target.writeError({}, errorBody(ErrorCode.BAD_FRAME, `id ${id} is already in use`));
      return false;
    }
    const o = this.env.options;
    const refusal = this.target.refusal ?? (
      this.calls.weight + weight > o.maxInflight ? errorBody(ErrorCode.BUSY, `more than ${o.maxInflight} calls in flight`)
        : stream && this.streams.size >= o.maxStreams ? errorBody(ErrorCode.LIMIT_EXCEEDED, `more than ${o.maxStreams} streams open`)
          : undefined);
    if (refusal) this.target.writeError({ id, cid }, refusal);
    else this.admitted++;
    return refusal === undefined;
  }

  private startCall(frame: CallFrame | BatchFrame): InflightCall | undefined {
    const weight = frame.t === 'batch' ? frame.calls.length : 1;
    if (!this.admit(frame.id, frame.cid, false, weight)) return undefined;
    const { clock } = this.env;
    const deadline = frame.dl === undefined ? undefined : clock.now() + frame.dl;
    const context = new CallContext(this.target, frame.cid ?? frame.id, frame.ann, deadline);
    this.trace(context, frame.t === 'call' ? frame.o : '$batch', frame.t === 'call' ? frame.m : 'batch', false);
    const call = new InflightCall(this.target, frame.id, frame.cid, context, frame.t === 'call' ? frame.o : '$batch', frame.t === 'call' ? frame.m : 'batch', weight);
    if (this.env.metrics || this.env.logs.calls) call.startedAt = performance.now();
    this.calls.add(call);
    if (this.env.metrics) this.env.metrics.totals.inflight += weight;
    if (frame.dl !== undefined) call.armDeadline(this.env.deadlines, frame.dl);
    return call;
  }
}
