/**
 * One accepted call, from the moment it is admitted until exactly one outcome has been sent (or the
 * connection is gone). `settle` is the single gate: a late result after a deadline, a cancel or a
 * shutdown error is dropped there.
 */
import { ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import type { EncodedPayload } from '../../protocol/codec.js';
import type { BatchOutcome } from '../../protocol/frames.js';
import type { CallContext } from '../../core/context.js';
import type { ReplySink } from '../../host/object-host.js';
import type { Deadline, Deadlines } from '../deadlines.js';
import { endSpan } from '../../core/tracing.js';

/** What an in-flight call needs from its connection. */
export interface CallOwner {
  readonly isOpen: boolean;
  callSettled(call: InflightCall): void;
  sendResult(call: InflightCall, value: EncodedPayload): void;
  sendError(call: InflightCall, error: ErrorBody): void;
}

export class InflightCall implements ReplySink {
  private done = false;
  private deadline: Deadline | undefined;
  /**
   * performance.now() at admission, read only by metrics and call logging: the dispatcher sets it when
   * either is on (a clock read per call costs the hot path otherwise).
   */
  startedAt = 0;
  /** Set on batches: the per-call outcomes that go into the batch-result header. */
  batchOutcomes: BatchOutcome[] | undefined;

  constructor(
    private readonly owner: CallOwner,
    readonly id: number,
    /** The correlation id the client sent, echoed in the reply. */
    readonly clientCorrelationId: string | undefined,
    readonly context: CallContext,
    /** The object and member called; for a batch, `$batch` and `batch` (log lines and metrics). */
    readonly object: string,
    readonly member: string,
    /** How many calls this counts as against maxInflight: 1, or the number of calls in a batch. */
    readonly weight = 1,
  ) {}

  /** Arms the deadline: when it passes, user code is signalled and the caller gets DEADLINE_EXCEEDED. */
  armDeadline(deadlines: Deadlines, ms: number): void {
    this.deadlines = deadlines;
    this.deadline = deadlines.add(ms, () => this.abort(ErrorCode.DEADLINE_EXCEEDED, 'deadline exceeded'));
  }

  private deadlines: Deadlines | undefined;

  /** Ends the call early with a typed error; the method's signal is aborted. */
  abort(code: typeof ErrorCode.CANCELLED | typeof ErrorCode.DEADLINE_EXCEEDED | typeof ErrorCode.SHUTTING_DOWN, message: string): void {
    if (this.done) return;
    this.context.abort(code, message);
    this.reject(errorBody(code, message));
  }

  /** The connection dropped: signal user code, send nothing. */
  orphan(): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline) this.deadlines!.cancel(this.deadline);
    this.context.abort(ErrorCode.CONNECTION_CLOSED, 'connection closed');
    endSpan(this.context.span, ErrorCode.CONNECTION_CLOSED);
  }

  resolve(value: EncodedPayload): void {
    if (this.settle()) this.owner.sendResult(this, value);
  }

  reject(error: ErrorBody): void {
    if (this.settle()) this.owner.sendError(this, error);
  }

  /** `object.member`, for log lines. */
  get target(): string {
    return `${this.object}.${this.member}`;
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.deadline) this.deadlines!.cancel(this.deadline);
    this.owner.callSettled(this);
    return this.owner.isOpen;
  }
}
