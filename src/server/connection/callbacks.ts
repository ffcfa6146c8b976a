/**
 * Calls from the server to the client: the connection's side of callbacks (the PeerChannel a host's
 * client references call through). Each call is a `callback` frame answered by `callback-result` or
 * `callback-error`.
 *
 * Invariants: every callback settles exactly once, with the client's answer, DEADLINE_EXCEEDED,
 * CANCELLED (the two followed by a `callback-cancel` frame) or CONNECTION_CLOSED; at most
 * `maxInflight` wait per connection (BUSY beyond, before anything is sent), so a client that never
 * answers costs a bounded amount of memory; answers to ids not waiting are ignored.
 */
import type { Clock } from '../../clock.js';
import type { PeerChannel } from '../../core/context.js';
import { ErrorCode, UplinkError, type ErrorBody } from '../../protocol/errors.js';
import type { Codec, EncodedPayload } from '../../protocol/codec.js';
import { remoteError } from '../../protocol/error-body.js';
import { writeCallback, writeCallbackCancel, writeRelease, type WireMessage } from '../../protocol/frame-writer.js';

/** What the callbacks need from their connection. */
export interface CallbackOutput {
  readonly isOpen: boolean;
  send(message: WireMessage): void;
}

interface Waiting {
  resolve(value: EncodedPayload): void;
  reject(error: Error): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

export class OutgoingCallbacks implements PeerChannel {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly out: CallbackOutput, private readonly codec: Codec, private readonly clock: Clock, private readonly maxInflight: number,
    /** Told each callback's outcome code (OK for an answer): metrics. */
    private readonly onOutcome?: (code: string) => void,
  ) {}

  get inflight(): number {
    return this.waiting.size;
  }

  callback(ref: string, member: string | undefined, args: EncodedPayload, timeoutMs: number, signal: AbortSignal | undefined): Promise<EncodedPayload> {
    if (!this.out.isOpen) return Promise.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the client is gone'));
    if (signal?.aborted) return Promise.reject(new UplinkError(ErrorCode.CANCELLED, 'the call was cancelled before the callback'));
    if (this.waiting.size >= this.maxInflight) {
      this.onOutcome?.(ErrorCode.BUSY);
      return Promise.reject(new UplinkError(ErrorCode.BUSY, `more than ${this.maxInflight} callbacks in flight on this connection`));
    }
    if (timeoutMs <= 0) return Promise.reject(new UplinkError(ErrorCode.DEADLINE_EXCEEDED, 'no time left for the callback'));
    const id = this.nextId++;
    return new Promise<EncodedPayload>((resolve, reject) => {
      const waiting: Waiting = { resolve, reject, signal, onAbort: undefined, timer: undefined };
      waiting.timer = this.clock.setTimeout(() => this.giveUp(id, ErrorCode.DEADLINE_EXCEEDED, `the client did not answer within ${timeoutMs} ms`), timeoutMs);
      if (signal) {
        waiting.onAbort = () => this.giveUp(id, ErrorCode.CANCELLED, 'the call was cancelled');
        signal.addEventListener('abort', waiting.onAbort, { once: true });
      }
      this.waiting.set(id, waiting);
      this.out.send(writeCallback(id, ref, member, Math.ceil(timeoutMs), args));
    });
  }

  release(ref: string, received?: number): void {
    if (this.out.isOpen) this.out.send(writeRelease(ref, received));
  }

  /** A `callback-result` frame. */
  answered(id: number, value: EncodedPayload): void {
    const waiting = this.take(id);
    if (!waiting) return;
    this.onOutcome?.('OK');
    waiting.resolve(value);
  }

  /** A `callback-error` frame: the client's error, typed (unknown codes become APPLICATION_ERROR). */
  failed(id: number, body: ErrorBody, data: EncodedPayload | undefined): void {
    const waiting = this.take(id);
    if (!waiting) return;
    const code = KNOWN_CODES.has(body.code) ? body.code : ErrorCode.APPLICATION_ERROR;
    this.onOutcome?.(code);
    waiting.reject(remoteError(this.codec, { ...body, code }, data));
  }

  /**
   * The client answered callback `id` with a frame whose header does not check (a callback-error
   * message over its limit, say): the method gets the typed error at once instead of its deadline.
   * Whether a callback was waiting under that id.
   */
  malformedAnswer(id: number, error: ErrorBody): boolean {
    const waiting = this.take(id);
    if (!waiting) return false;
    this.onOutcome?.(ErrorCode.BAD_FRAME);
    waiting.reject(new UplinkError(ErrorCode.BAD_FRAME, `the client answered this callback with a malformed frame: ${error.message}`));
    return true;
  }

  /** The connection closed: every waiting callback fails with CONNECTION_CLOSED. */
  closeAll(): void {
    for (const id of [...this.waiting.keys()]) this.take(id)?.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the client is gone'));
  }

  private giveUp(id: number, code: typeof ErrorCode.DEADLINE_EXCEEDED | typeof ErrorCode.CANCELLED, message: string): void {
    const waiting = this.take(id);
    if (!waiting) return;
    this.onOutcome?.(code);
    waiting.reject(new UplinkError(code, message));
    if (this.out.isOpen) this.out.send(writeCallbackCancel(id));
  }

  private take(id: number): Waiting | undefined {
    const waiting = this.waiting.get(id);
    if (!waiting) return undefined;
    this.waiting.delete(id);
    this.clock.clearTimeout(waiting.timer as never);
    if (waiting.onAbort) waiting.signal?.removeEventListener('abort', waiting.onAbort);
    return waiting;
  }
}
