/**
 * The request path of a client: a frame that expects one answer gets an id, its tags (deadline,
 * correlation id, annotations), a size check against the gateway's limit, and a place in the
 * pending-call table; it is sent now, or queued while the client reconnects.
 *
 * Invariant: a request is refused here (never half-sent) when the client has closed, its signal has
 * already aborted, the reconnect queue is full, or the frame is over the gateway's message limit.
 */
import { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
import { exceedsBytes, writeCancel, type RequestTags, type WireMessage } from '../protocol/frame-writer.js';
import type { PendingCall, PendingCalls } from './pending-calls.js';
import type { CallOptions } from './proxy.js';
import { TRACEPARENT_ANNOTATION } from '../protocol/traceparent.js';
import { endClientSpan, startClientSpan } from './tracing.js';

/** What the request path needs from its client, read at the moment of each request. */
export interface RequestLink {
  /** Set once the client ended for good. */
  readonly closed: { code: number; reason: string } | undefined;
  /** The socket is welcomed and usable now. */
  readonly open: boolean;
  /** Requests that may wait for a reconnect (0: none), and how many already wait (streams included). */
  readonly queueSize: number;
  readonly queued: number;
  /** The gateway's message limit from its welcome. */
  readonly maxPayload: number | undefined;
  readonly defaultTimeoutMs: number | undefined;
  nextId(): number;
  send(frame: WireMessage): void;
  /** Sends if the socket is open, else drops (a cancel for a call the gateway never saw). */
  sendIfOpen(frame: WireMessage): void;
}

/** The options of a call made without any (shared: one object less per call). */
const NO_OPTIONS: CallOptions = Object.freeze({});

export class Requests {
  constructor(private readonly link: RequestLink, private readonly pending: PendingCalls) {}

  /**
   * A frame over the gateway's limit (the welcome's limits.maxPayload) is refused here, before it is
   * sent: the gateway would refuse it anyway, and a much larger one would cost the connection.
   */
  oversized(frame: WireMessage): UplinkError | undefined {
    const limit = this.link.maxPayload;
    if (limit === undefined || !exceedsBytes(frame, limit)) return undefined;
    return new UplinkError(ErrorCode.PAYLOAD_TOO_LARGE, `the call does not fit the gateway's limit of ${limit} bytes per message`);
  }

  /**
   * Sends a frame that expects one answer: `write` builds it for the id and tags the request gets.
   * `target` (object and member) names the client span, when an OpenTelemetry SDK records one.
   */
  send(write: (id: number, tags: RequestTags) => WireMessage, options: CallOptions = NO_OPTIONS, batch?: PendingCall['batch'], target?: [string, string]): Promise<unknown> {
    const { link } = this;
    if (link.closed) return Promise.reject(new ConnectionClosedError(link.closed.code, link.closed.reason));
    if (options.signal?.aborted) return Promise.reject(new UplinkError(ErrorCode.CANCELLED, 'aborted before the call was sent'));
    const id = link.nextId();
    const timeoutMs = options.timeoutMs ?? link.defaultTimeoutMs ?? 30_000;
    if (!link.open && link.queued >= link.queueSize) {
      return Promise.reject(new ConnectionClosedError(1006, 'reconnecting, and the call queue is full'));
    }
    const traced = target && startClientSpan(target[0], target[1]);
    const ann = traced ? { ...options.annotations, [TRACEPARENT_ANNOTATION]: traced.traceparent } : options.annotations;
    const frame = write(id, { dl: timeoutMs > 0 ? timeoutMs : undefined, cid: options.correlationId, ann });
    const oversized = this.oversized(frame);
    if (oversized) {
      if (traced) endClientSpan(traced.span, oversized);
      return Promise.reject(oversized);
    }
    const { call, answer } = this.pending.register(id, frame, {
      timeoutMs, signal: options.signal, idempotent: options.idempotent ?? false, batch, onAnnotations: options.onAnnotations,
      // Only a call with a signal can be abandoned (the closure is made for those alone).
      sendCancel: options.signal ? () => link.sendIfOpen(writeCancel(id)) : undefined,
    });
    if (link.open) {
      link.send(frame);
      call.sent = true;
    }
    if (traced) answer.then(() => endClientSpan(traced.span, undefined), (error: unknown) => endClientSpan(traced.span, error));
    return answer;
  }
}
