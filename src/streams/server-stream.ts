/**
 * One server-side stream: the iterator, its credits, its replay buffer and its timers. It lives in
 * the object host (not the connection), so it can outlive a dropped socket for the linger window and
 * be resumed on another one.
 *
 * Invariants: an item is pulled only when the consumer granted credit for it (`sent < upTo`), the
 * socket can take more bytes, and the replay buffer has room; every pulled item gets the next
 * sequence number and stays in the replay buffer until the consumer acknowledges it; the iterator's
 * return() is called exactly once on every path that does not end it (cancel, linger expiry, limits).
 * A stream that has sent its end (or error) stays resumable until the consumer acknowledges every
 * item: if the connection drops before the end arrived, a resume replays the rest and the end again.
 */
/*
 * About 390 lines: the async pull loop is two reaction callbacks (cheaper per item than an async
 * function), and the admin snapshot and observer hooks read the same private state; the timers and
 * limits and the replay buffer already live in their own files. The options are read through one object: copying them into
 * fields made no measurable difference per item (docs/performance-history.md, #29).
 */
import { soon, type Clock } from '../clock.js';
import { ErrorCode, UplinkError, type ErrorBody } from '../protocol/errors.js';
import { payloadSize, type EncodedPayload } from '../protocol/codec.js';
import { ReferencesUnavailableError } from '../protocol/refs.js';
import { runInContext, type CallContext, type Identity } from '../core/context.js';
import type { StreamSink } from './stream-sink.js';
import { ReplayBuffer } from './replay-buffer.js';
import { StreamTimers } from './stream-timers.js';
import type { StreamLimits } from './stream-limits.js';
import type { StreamObserver, StreamSnapshot } from './stream-snapshot.js';

export type { StreamLimits } from './stream-limits.js';
export type { StreamObserver, StreamSnapshot } from './stream-snapshot.js';

export interface ServerStreamOptions {
  key: string;
  owner: Identity | undefined;
  ownerKey: string;
  object: string;
  member: string;
  iterator: AsyncIterator<unknown> | Iterator<unknown>;
  context: CallContext;
  /** Encodes one frame's items (with the connection's references, where the host has them). */
  encode: (items: unknown[]) => EncodedPayload;
  limits: StreamLimits;
  /** The consumer's first grant: items with seq < upTo may be sent. */
  upTo: number;
  onClosed: (stream: ServerStream, cause: 'end' | 'cancel' | 'error') => void;
  /** The stream's connection dropped and it now waits for a resume. */
  onLingering: (stream: ServerStream) => void;
  /** Failures of user code (the full error), for the log and the gateway's hook. */
  onError: (error: unknown) => void;
  toErrorBody: (error: unknown) => ErrorBody;
  clock: Clock;
  /** Told when the stream stops pulling for want of credit, or because the socket is full (metrics). */
  observer?: StreamObserver | undefined;
}

/** open: pulling; ended: the iterator is done, items wait for credit; finished: the end was sent, awaiting the final ack. */
type State = 'open' | 'ended' | 'finished' | 'closed';

export class ServerStream {
  private state: State = 'open';
  private sink: StreamSink | undefined;
  /** Items pulled and numbered so far. */
  private produced = 0;
  /** Items sent (numbered 0 .. sent-1); the rest of `produced` waits in `pending` for credit. */
  private sent = 0;
  /** Items per frame, adapted to the encoded size of earlier frames so that one frame stays small. */
  private batchLimit = 16;
  /** The consumer's grant: items with seq < upTo may be sent. */
  private upTo: number;
  /** Items the consumer confirmed (all seq < acked). */
  private acked = 0;
  private readonly replay = new ReplayBuffer();
  private pending: unknown[] = [];
  private pulling = false;
  private flushScheduled = false;
  private ending: { error?: ErrorBody } | undefined;
  private readonly timers: StreamTimers;

  readonly key: string;
  /** The identity that opened the stream: only it may resume the stream. */
  readonly owner: Identity | undefined;
  /** What the stream's limits count against (see streamOwnerKey). */
  readonly ownerKey: string;
  /** The object and member that produce the items (access is checked again on resume). */
  readonly object: string;
  readonly member: string;
  private readonly options: ServerStreamOptions;

  constructor(options: ServerStreamOptions) {
    this.options = options;
    ({ key: this.key, owner: this.owner, ownerKey: this.ownerKey, object: this.object, member: this.member } = options);
    this.upTo = Math.max(0, options.upTo);
    this.timers = new StreamTimers(options.clock, options.limits, {
      lifetimeOver: () => this.expire('stream lifetime exceeded'),
      lingerOver: () => this.cancel('linger window passed'),
      idle: () => {
        if (this.state === 'closed') return;
        if (this.state === 'finished') return this.close(this.ending?.error ? 'error' : 'end'); // the final ack never came
        this.expire('stream idle for too long');
      },
    });
  }

  get live(): boolean {
    return this.state !== 'closed';
  }

  /** Where the stream stands, for the admin view: its state and its credit. */
  snapshot(): StreamSnapshot {
    return {
      object: this.object, member: this.member, subject: this.owner?.subject, state: this.lingering ? 'lingering' : this.state,
      produced: this.produced, sent: this.sent, acked: this.acked, upTo: this.upTo, replayBytes: this.replay.bytes,
    };
  }

  /** Waiting for a resume: its connection dropped and nobody reads it. */
  get lingering(): boolean {
    return this.state !== 'closed' && this.sink === undefined;
  }

  attach(sink: StreamSink): void {
    this.timers.stopLinger();
    this.sink = sink;
    sink.opened(this.key);
    this.pump();
  }

  /** The consumer grants items up to `upTo` and confirms it has every item below `ack`. */
  grant(upTo: number, ack: number): void {
    if (this.state === 'closed') return;
    this.touch();
    if (upTo > this.upTo) this.upTo = Math.min(upTo, ack + this.options.limits.maxUnacked);
    this.acknowledge(ack);
    if (this.state === 'finished') {
      if (this.acked >= this.sent) this.close(this.ending?.error ? 'error' : 'end');
    } else if (this.state === 'ended') this.finish();
    else {
      this.flush();
      this.pump();
    }
  }

  /**
   * Reattaches after a reconnect: re-sends every unacknowledged item from `ack` on, then goes on. The
   * stream moves for good: a connection it was still attached to loses it (its id gets STREAM_LOST)
   * and nothing it sends afterwards reaches the stream. Refused (false, nothing changes) unless `ack`
   * lines up: at least what the consumer already acknowledged, at most what was sent.
   */
  resume(sink: StreamSink, ack: number, upTo: number): boolean {
    if (this.state === 'closed' || ack < this.acked || ack > this.sent) return false;
    const previous = this.sink;
    if (previous) {
      previous.fail({ code: ErrorCode.STREAM_LOST, name: 'UplinkError', message: 'the stream was resumed on another connection' }, this.sent);
      previous.released();
    }
    this.acknowledge(ack);
    this.upTo = Math.max(this.upTo, Math.min(upTo, ack + this.options.limits.maxUnacked));
    this.timers.stopLinger();
    this.sink = sink;
    sink.opened(this.key);
    this.replay.replay(ack, sink);
    this.touch();
    if (this.state === 'finished') this.sendEnd(sink);
    else if (this.state === 'ended') this.finish();
    else this.pump();
    return true;
  }

  /** The socket can take bytes again. */
  drained(): void {
    this.pump();
  }

  /** The connection dropped: wait for a resume during the linger window, or close now. */
  detach(): void {
    if (this.state === 'closed') return;
    this.sink = undefined;
    if (this.options.limits.lingerMs <= 0) return this.cancel('connection closed');
    this.timers.startLinger();
    this.options.onLingering(this);
  }

  /** Stops the stream: the method's signal aborts and the iterator's finally blocks run. */
  cancel(reason = 'cancelled by the caller'): void {
    if (this.state === 'closed') return;
    this.close('cancel');
    this.options.context.abort(ErrorCode.CANCELLED, reason);
    void this.returnIterator();
  }

  /**
   * Ends the stream with DEADLINE_EXCEEDED at once (the error frame's `seq` says how many items were
   * delivered). Items produced but not yet granted are dropped: the consumer never asked for them,
   * and a consumer that stopped granting credit would otherwise hold the stream forever.
   */
  private expire(message: string): void {
    if (this.state !== 'open' && this.state !== 'ended') return;
    this.options.context.abort(ErrorCode.DEADLINE_EXCEEDED, message);
    this.ending = { error: { code: ErrorCode.DEADLINE_EXCEEDED, name: 'UplinkError', message } };
    if (this.state === 'open') void this.returnIterator();
    this.state = 'ended';
    this.pending = [];
    this.finish();
  }

  private async returnIterator(): Promise<void> {
    try {
      await runInContext(this.options.context, () => this.options.iterator.return?.());
    } catch (error) {
      this.options.onError(error);
    }
  }

  private acknowledge(ack: number): void {
    if (ack > this.acked) this.acked = Math.min(ack, this.sent);
    this.replay.trim(this.acked);
  }

  private touch(): void {
    this.timers.touch();
  }

  /**
   * One item of lookahead beyond the credit is pulled (and held back) so that a stream whose last
   * item used the last credit learns it is done without waiting for more credit. The socket is asked
   * once per batch (when nothing is pending): only a flush fills it, and asking costs a native call.
   */
  private canPull(): boolean {
    return this.state === 'open' && this.sink !== undefined && (this.pending.length > 0 || this.sink.writable) &&
      this.produced <= this.upTo && this.produced - this.acked <= this.options.limits.maxUnacked &&
      this.replay.bytes < this.options.limits.maxReplayBytes;
  }

  /** Pulls items while credit, socket and replay room allow; one pull loop at a time. */
  private pump(): void {
    if (this.pulling || !this.canPull()) return;
    this.pulling = true;
    // The pull loop runs in the call's context; the promise reactions it chains keep it, so the
    // iterator is resumed in it without entering it again per item.
    runInContext(this.options.context, () => this.pull());
  }

  /**
   * Pulls until the iterator answers with a promise, then goes on from that promise's reaction (a
   * plain reaction costs less per item than an async function's await under Node 20's promise hooks).
   */
  private pull(): void {
    try {
      const pending = this.pullSync();
      if (pending !== undefined) {
        pending.then(this.onAsyncStep, this.onPullError);
        return;
      }
      this.pulling = false;
      this.noteStop();
    } catch (error) {
      this.onPullError(error);
    }
  }

  private readonly onAsyncStep = (step: IteratorResult<unknown>): void => {
    try {
      if (this.state !== 'open' || !this.accept(step)) {
        this.pulling = false;
        return;
      }
    } catch (error) {
      return this.onPullError(error);
    }
    this.pull();
  };

  private readonly onPullError = (error: unknown): void => {
    this.pulling = false;
    if (this.state !== 'open') return;
    this.options.onError(error);
    this.state = 'ended';
    this.ending = { error: this.options.toErrorBody(error) };
    this.finish();
  };

  /** Why an open, attached stream stopped pulling, for the observer: no credit, or a full socket. */
  private noteStop(): void {
    const observer = this.options.observer;
    if (!observer || this.state !== 'open' || !this.sink) return;
    if (!this.sink.writable) observer.socketPaused();
    else if (this.produced > this.upTo) observer.creditStall();
  }

  /** Pulls while items come synchronously; returns the first pending promise, if any. */
  private pullSync(): PromiseLike<IteratorResult<unknown>> | undefined {
    while (this.canPull()) {
      const step = this.options.iterator.next();
      if (typeof (step as PromiseLike<unknown>).then === 'function') return step as PromiseLike<IteratorResult<unknown>>;
      if (!this.accept(step as IteratorResult<unknown>)) return undefined;
    }
    return undefined;
  }

  /** Takes one pulled step; false when the stream has ended. */
  private accept(step: IteratorResult<unknown>): boolean {
    if (step.done) {
      this.state = 'ended';
      this.ending = {};
      this.finish();
      return false;
    }
    this.pending.push(step.value);
    this.produced++;
    this.touch();
    if (this.pending.length >= this.batchLimit) this.flush(); // and canPull() sees the socket fill up
    else this.scheduleFlush();
    return true;
  }

  /**
   * Items produced back to back leave together: flushed once the current macrotask's work is done, at
   * the start of the connection's write pass when it has one (the frame then leaves in that pass).
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const sink = this.sink;
    if (sink?.beforeWrites) sink.beforeWrites(this.flushScheduledBatch);
    else soon(this.options.clock, this.flushScheduledBatch);
  }

  private readonly flushScheduledBatch = (): void => {
    this.flushScheduled = false;
    this.flush();
    this.pump();
  };

  /** Sends the pending items the consumer has credit for, as one frame. */
  private flush(): void {
    const count = Math.min(this.pending.length, this.upTo - this.sent);
    if (count <= 0) return;
    const items = count === this.pending.length ? this.pending : this.pending.slice(0, count);
    this.pending = count === this.pending.length ? [] : this.pending.slice(count);
    const seq = this.sent;
    let payload: EncodedPayload;
    try {
      payload = this.options.encode(items);
    } catch (error) {
      // A typed refusal (too many references, or none on this transport) goes to the consumer as it is; anything else is a bug to log.
      const typed = (error instanceof UplinkError && error.code === ErrorCode.LIMIT_EXCEEDED) || error instanceof ReferencesUnavailableError;
      if (!typed) this.options.onError(error);
      this.state = 'ended';
      this.ending = { error: this.options.toErrorBody(typed ? error : new UplinkError(ErrorCode.INTERNAL, 'a stream item could not be encoded')) };
      this.pending = [];
      return this.finish();
    }
    if (payloadSize(payload) > this.options.limits.maxFrameBytes) {
      this.state = 'ended';
      this.ending = { error: this.options.toErrorBody(new UplinkError(ErrorCode.LIMIT_EXCEEDED, `a stream item is larger than ${this.options.limits.maxFrameBytes} bytes`)) };
      this.pending = [];
      return this.finish();
    }
    this.sent += count;
    const bytesPerItem = Math.max(1, payload.text.length / count);
    this.batchLimit = Math.max(1, Math.min(this.options.limits.maxBatch, Math.floor(this.options.limits.frameBytes / bytesPerItem)));
    const bytes = payloadSize(payload);
    this.replay.add(seq, count, payload, bytes);
    this.sink?.items(seq, payload, count);
  }

  /**
   * Sends what is left and then the end (or the error). While detached it waits for a resume, and
   * while items still wait for credit it waits for a grant (both call it again).
   */
  private finish(): void {
    this.flush();
    if (!this.sink || this.state === 'closed' || this.state === 'finished' || this.pending.length > 0) return;
    this.state = 'finished';
    this.timers.stopLifetime();
    this.sendEnd(this.sink);
  }

  private sendEnd(sink: StreamSink): void {
    const error = this.ending?.error;
    if (error) sink.fail(error, this.sent);
    else sink.end(this.sent);
  }

  private close(cause: 'end' | 'cancel' | 'error'): void {
    this.state = 'closed';
    this.timers.stopAll();
    this.replay.clear();
    this.pending = [];
    this.sink?.released();
    this.sink = undefined;
    this.options.onClosed(this, cause);
  }
}
