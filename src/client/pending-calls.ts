/**
 * Calls waiting for their answer, by id. Invariant: each settles exactly once; settle() is the only
 * way out of the table, and it clears the call's timer and abort listener.
 */
import type { Clock } from '../clock.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { WireMessage } from '../protocol/frame-writer.js';
import type { BatchOutcome } from '../protocol/frames.js';
import type { BatchResult } from './batch.js';

export interface PendingCall {
  /** The frame as sent, kept to send it (again) after a reconnect. */
  frame: WireMessage;
  /** Sent on the current connection (otherwise it waits for one). */
  sent: boolean;
  /** Safe to send again when the connection dropped before its answer. */
  idempotent: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: unknown;
  cleanup: (() => void) | undefined;
  /** An idempotent call already sent again after HOST_LOST (once only). */
  retried?: boolean;
  /** The caller's hook for result annotations. */
  onAnnotations?: ((annotations: Readonly<Record<string, string>>) => void) | undefined;
  /** Set for batches: how to turn the batch-result frame into results. */
  batch?: ((outcomes: BatchOutcome[], body: string, attachments: Uint8Array[] | undefined) => BatchResult[]) | undefined;
}

export interface RegisterOptions {
  /** 0: no timeout. */
  timeoutMs: number;
  signal: AbortSignal | undefined;
  idempotent: boolean;
  batch?: PendingCall['batch'];
  onAnnotations?: PendingCall['onAnnotations'];
  /** Tells the gateway the call was abandoned (set when there is an abort signal). */
  sendCancel: (() => void) | undefined;
}

export class PendingCalls {
  private readonly calls = new Map<number, PendingCall>();

  constructor(private readonly clock: Clock, private readonly onSettled: () => void) {}

  /**
   * Tracks a call until its answer, its timeout (DEADLINE_EXCEEDED) or its abort signal (CANCELLED,
   * and a cancel to the gateway). The caller sends the frame and marks it sent.
   */
  register(id: number, frame: WireMessage, options: RegisterOptions): { call: PendingCall; answer: Promise<unknown> } {
    let call!: PendingCall;
    const answer = new Promise<unknown>((resolve, reject) => {
      call = { frame, sent: false, idempotent: options.idempotent, resolve, reject, timer: undefined, cleanup: undefined, batch: options.batch, onAnnotations: options.onAnnotations };
    });
    const { timeoutMs, signal } = options;
    if (timeoutMs > 0) {
      call.timer = this.clock.setTimeout(() => this.settle(id)?.reject(new UplinkError(ErrorCode.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
    }
    if (signal) {
      const onAbort = (): void => {
        const settled = this.settle(id);
        if (!settled) return;
        options.sendCancel?.();
        settled.reject(new UplinkError(ErrorCode.CANCELLED, 'cancelled by the caller'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.calls.set(id, call);
    return { call, answer };
  }

  /** Removes and returns a pending call exactly once. */
  settle(id: number): PendingCall | undefined {
    const call = this.calls.get(id);
    if (!call) return undefined;
    this.calls.delete(id);
    if (call.timer !== undefined) this.clock.clearTimeout(call.timer);
    call.cleanup?.();
    this.onSettled();
    return call;
  }

  /** The answer to call `id` arrived: resolves it with what `decode` makes of it (rejects if that throws). */
  answer(id: number, decode: (call: PendingCall) => unknown): void {
    const call = this.settle(id);
    if (!call) return;
    try {
      call.resolve(decode(call));
    } catch (error) {
      call.reject(error as Error);
    }
  }

  /** Calls waiting for a connection. */
  get unsent(): number {
    let n = 0;
    for (const c of this.calls.values()) if (!c.sent) n++;
    return n;
  }

  /** Some call is on the wire, waiting for its answer. */
  get anySent(): boolean {
    for (const c of this.calls.values()) if (c.sent) return true;
    return false;
  }

  /** The connection dropped: calls on the wire are lost with it, unless they may safely run twice. */
  dropped(error: Error): void {
    for (const [id, call] of [...this.calls]) {
      if (call.sent && !call.idempotent) this.settle(id)?.reject(error);
      else call.sent = false;
    }
  }

  /**
   * An idempotent call whose object host was lost (HOST_LOST: it may or may not have run) is sent
   * once more; true when it was. Any other call gets the error.
   */
  retryLost(id: number, send: (frame: WireMessage) => void): boolean {
    const call = this.calls.get(id);
    if (!call?.idempotent || call.retried || call.batch) return false;
    call.retried = true;
    send(call.frame);
    return true;
  }

  /** Sends every call that waits for a connection. */
  sendWaiting(send: (frame: WireMessage) => void): void {
    for (const call of this.calls.values()) {
      if (call.sent) continue;
      send(call.frame);
      call.sent = true;
    }
  }

  rejectAll(error: Error): void {
    for (const id of [...this.calls.keys()]) this.settle(id)?.reject(error);
  }
}
