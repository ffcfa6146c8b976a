/**
 * The client end of a stream: an AsyncIterableIterator that holds at most `window` items, grants
 * credit as the consumer takes them, acknowledges what arrived (for resume), and cancels the server's
 * generator when the consumer stops early (break, return(), AbortSignal).
 *
 * Invariants: items reach the consumer exactly once and in order, by sequence number, across
 * reconnects (duplicates from a replay are dropped); items received before an error are delivered
 * before the error is thrown.
 */
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import { StreamWindow } from './stream-window.js';

/** What a stream needs from its client. */
export interface StreamTransport {
  sendCredit(id: number, upTo: number, ack: number): void;
  sendCancel(id: number): void;
  forget(id: number): void;
}

/** Grants still in flight to the producer, at most, that a stall is compared with (each renews half a window). */
const RECENT_GRANTS = 4;

export class RemoteStream<T> implements AsyncIterableIterator<T> {
  /** The resume key the gateway gave; undefined until the stream is open. */
  key: string | undefined;
  /** Items received so far (the next expected sequence number). */
  received = 0;
  private consumed = 0;
  private granted: number;
  /** The last few grants: a producer that stopped exactly at one of them waited for credit. */
  private readonly recentGrants: number[] = [];
  private readonly window: StreamWindow;
  private readonly queue: T[] = [];
  private ended = false;
  private failure: Error | undefined;
  private waiter: (() => void) | undefined;
  private finished = false;

  constructor(
    private readonly transport: StreamTransport,
    /** The id on the current connection (it changes when the stream is resumed elsewhere). */
    public id: number,
    window: number,
    signal: AbortSignal | undefined,
    /** The window may grow up to this many items (stream-window.ts); equal to `window`: fixed. */
    maxWindow = window,
  ) {
    this.window = new StreamWindow(window, maxWindow);
    this.granted = window;
    signal?.addEventListener('abort', () => void this.return(), { once: true });
    if (signal?.aborted) void this.return();
  }

  /** The credit to ask for when (re)opening: items up to this sequence number. */
  get upTo(): number {
    return this.granted;
  }

  get isFinished(): boolean {
    return this.finished || this.ended || this.failure !== undefined;
  }

  // ---- from the client ----

  opened(key: string): void {
    this.key = key;
  }

  /** The window now (it grows while the producer waits for credit). */
  get windowSize(): number {
    return this.window.size;
  }

  items(seq: number, items: T[], bytes = 0): void {
    if (this.finished) return;
    this.window.received(items.length, bytes);
    const skip = this.received - seq; // a replay after a resume may repeat items already received
    if (skip < 0) return this.fail(new UplinkError(ErrorCode.STREAM_LOST, `items ${this.received}..${seq - 1} are missing`));
    for (let i = skip; i < items.length; i++) this.queue.push(items[i] as T);
    this.received = Math.max(this.received, seq + items.length);
    this.wake();
  }

  end(total: number): void {
    if (total !== this.received) return this.fail(new UplinkError(ErrorCode.STREAM_LOST, `stream ended after ${total} items, ${this.received} received`));
    this.ended = true;
    this.transport.sendCredit(this.id, total, total); // the final ack: the gateway may forget the stream
    this.transport.forget(this.id);
    this.wake();
  }

  fail(error: Error): void {
    if (this.finished || this.failure) return;
    this.failure = error;
    this.transport.forget(this.id);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  // ---- the consumer's side ----

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.queue.length > 0) {
        const value = this.queue.shift() as T;
        this.consumed++;
        if (!this.ended && this.granted - this.consumed <= this.window.size / 2) this.grant();
        return { value, done: false };
      }
      if (this.failure) {
        this.finished = true;
        throw this.failure;
      }
      if (this.ended || this.finished) {
        this.finished = true;
        return { value: undefined, done: true };
      }
      // Nothing to take, and the producer stopped where its credit ended: it waits on the round trip.
      if (this.received > 0 && (this.received === this.granted || this.recentGrants.includes(this.received)) && this.window.grow()) this.grant();
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private grant(): void {
    if (this.recentGrants.push(this.granted) > RECENT_GRANTS) this.recentGrants.shift();
    this.granted = this.consumed + this.window.size;
    this.transport.sendCredit(this.id, this.granted, this.received);
  }

  /** Stops early: the server's generator is returned (its finally blocks run). */
  async return(): Promise<IteratorResult<T>> {
    if (!this.finished && !this.ended && !this.failure) {
      this.transport.sendCancel(this.id);
      this.transport.forget(this.id);
    }
    this.finished = true;
    this.queue.length = 0;
    this.wake();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
