/**
 * OpenTelemetry tracing through the API only (@opentelemetry/api): with no SDK registered every call
 * here is the API's no-op, and nothing is recorded or sent. With an SDK, the gateway makes a span per
 * call and per stream, a parent W3C `traceparent` comes from the client (the call's annotations), and
 * user code runs inside the span's context, so that its own spans nest under it, in one process or on
 * an object host across NATS (the span's traceparent travels with the call).
 */
import { formatTraceparent, parseTraceparent } from '../protocol/traceparent.js';
import { context as otel, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type SpanContext } from '@opentelemetry/api';

export type { Span };
export const tracer = trace.getTracer('uplink', '0.1.0');

/** The API's no-op provider: what the global proxy hands out until an SDK registers one. */
const NO_SDK = new ProxyTracerProvider().getDelegate();

/**
 * Whether an SDK is registered. Without one every span is the API's no-op, so the gateway skips
 * making them (an attributes object, a span and a name string per call). Another copy of the API
 * registered globally counts as an SDK: spans are then made as before.
 */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_SDK;
}

/** A W3C traceparent as a remote span context, or undefined when it is absent or malformed (then it is ignored). */
export function spanContextFrom(traceparent: string | undefined): SpanContext | undefined {
  const ids = parseTraceparent(traceparent);
  return ids && { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true };
}

/** A context whose parent is the remote span a traceparent names (or the root when there is none). */
export function remoteParent(traceparent: string | undefined): Context {
  const parent = spanContextFrom(traceparent);
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}

/** Starts a server span for a call or stream, child of the client's traceparent when it sent one. */
export function startServerSpan(name: string, traceparent: string | undefined, attributes: Attributes): Span {
  return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, remoteParent(traceparent));
}

/** Ends a span with the call's outcome: `OK`, or an error code. */
export function endSpan(span: Span | undefined, code: string): void {
  if (!span) return;
  span.setAttribute('uplink.code', code);
  if (code !== 'OK') span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  span.end();
}

/** The context user code runs in, when the span records (undefined otherwise: nothing to do). */
export function spanContextOf(span: Span): Context | undefined {
  return span.isRecording() ? trace.setSpan(otel.active(), span) : undefined;
}

/** Runs `fn` inside an OpenTelemetry context. */
export function withTraceContext<T>(traceContext: Context, fn: () => T): T {
  return otel.with(traceContext, fn);
}

/** The traceparent of a span that records, for the object host and for user code's outgoing calls. */
export function traceparentOf(span: Span | undefined): string | undefined {
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return formatTraceparent({ traceId, spanId, sampled: (traceFlags & TraceFlags.SAMPLED) !== 0 });
}
