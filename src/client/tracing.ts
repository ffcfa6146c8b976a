/**
 * Client spans (OpenTelemetry API): when the program registered an SDK, each call gets a CLIENT span
 * and carries its traceparent to the gateway (the `traceparent` annotation), whose span becomes its
 * child. Without an SDK the API's no-op span is dropped at once and nothing is sent.
 */
import { SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from '@opentelemetry/api';
import { formatTraceparent } from '../protocol/traceparent.js';

const tracer = trace.getTracer('uplink-client', '0.1.0');

/** A recording client span for `object/member` and its traceparent, or undefined when nothing records. */
export function startClientSpan(object: string, member: string): { span: Span; traceparent: string } | undefined {
  const span = tracer.startSpan(`${object}/${member}`, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'uplink', 'rpc.service': object, 'rpc.method': member } });
  if (!span.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { span, traceparent: formatTraceparent({ traceId, spanId, sampled: (traceFlags & TraceFlags.SAMPLED) !== 0 }) };
}

/** Ends a client span with the call's outcome. */
export function endClientSpan(span: Span, error: unknown): void {
  if (error !== undefined) {
    const code = String((error as { code?: unknown }).code ?? 'ERROR');
    span.setAttribute('uplink.code', code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  } else {
    span.setAttribute('uplink.code', 'OK');
  }
  span.end();
}
