/**
 * Client spans: when the program registered an OpenTelemetry SDK, each call gets a CLIENT span and
 * carries its traceparent to the gateway (the `traceparent` annotation), whose span becomes its
 * child. Without an SDK nothing is recorded or sent.
 *
 * The client does not bundle @opentelemetry/api (25 kB in a browser): it finds the tracer provider
 * the program's API registered, where every copy of the API version 1 keeps it (a global symbol), and
 * speaks the few methods of the Tracer and Span interfaces it needs.
 */
import { formatTraceparent } from '../protocol/traceparent.js';

/** The parts of the OpenTelemetry Span and TracerProvider interfaces used here. */
interface OtelSpan {
  isRecording(): boolean;
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}
interface OtelTracer { startSpan(name: string, options?: { kind?: number; attributes?: Record<string, string> }): OtelSpan }
interface OtelTracerProvider { getTracer(name: string, version?: string): OtelTracer }

/** @opentelemetry/api's global registry (major version 1), and the enum values of its interfaces. */
const OTEL_API = Symbol.for('opentelemetry.js.api.1');
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;
const SAMPLED = 1;

let cached: { provider: OtelTracerProvider; tracer: OtelTracer } | undefined;

function tracer(): OtelTracer | undefined {
  const provider = (globalThis as { [OTEL_API]?: { trace?: OtelTracerProvider } })[OTEL_API]?.trace;
  if (!provider) return undefined;
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer('uplink-client', '0.1.0') };
  return cached.tracer;
}

/** A recording client span for `object/member` and its traceparent, or undefined when nothing records. */
export function startClientSpan(object: string, member: string): { span: OtelSpan; traceparent: string } | undefined {
  const span = tracer()?.startSpan(`${object}/${member}`, { kind: SPAN_KIND_CLIENT, attributes: { 'rpc.system': 'uplink', 'rpc.service': object, 'rpc.method': member } });
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { span, traceparent: formatTraceparent({ traceId, spanId, sampled: (traceFlags & SAMPLED) !== 0 }) };
}

/** Ends a client span with the call's outcome. */
export function endClientSpan(span: OtelSpan, error: unknown): void {
  const code = error === undefined ? 'OK' : String((error as { code?: unknown }).code ?? 'ERROR');
  span.setAttribute('uplink.code', code);
  if (error !== undefined) span.setStatus({ code: STATUS_ERROR, message: code });
  span.end();
}
