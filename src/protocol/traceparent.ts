/**
 * W3C Trace Context on the wire: a client that traces sends its span as the call's `traceparent`
 * annotation (docs/protocol.md section 2, rules), `00-<trace id>-<span id>-<flags>` in lower-case hex.
 */
export const TRACEPARENT_ANNOTATION = 'traceparent';

export interface TraceIds { traceId: string; spanId: string; sampled: boolean }

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

/** The ids a traceparent names, or undefined when it is malformed or names the invalid all-zero ids. */
export function parseTraceparent(text: string | undefined): TraceIds | undefined {
  const match = text === undefined ? null : TRACEPARENT.exec(text);
  if (!match || ALL_ZERO.test(match[1]!) || ALL_ZERO.test(match[2]!)) return undefined;
  return { traceId: match[1]!, spanId: match[2]!, sampled: (Number.parseInt(match[3]!, 16) & 1) === 1 };
}

export function formatTraceparent(ids: TraceIds): string {
  return `00-${ids.traceId}-${ids.spanId}-0${ids.sampled ? 1 : 0}`;
}
