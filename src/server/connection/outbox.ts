/**
 * A connection's outbound queue. Frames produced outside a uWS handler (async results, stream items)
 * wait here and leave together in one corked write when the gateway's flush queue runs its pass
 * (flush-queue.ts, once per loop turn), so a burst of answers costs one syscall, not one each.
 *
 * Invariants: frames leave in the order they were queued; a client that stops reading is cut off
 * (onSlowConsumer) once its socket holds more than maxBackpressure bytes, so one slow reader cannot
 * make the gateway buffer without bound.
 */
import type { WireMessage } from '../../protocol/frame-writer.js';
import type { FlushQueue, QueuedWrites } from './flush-queue.js';
import type { ServerSocket } from './server-socket.js';

export interface OutboxOwner {
  /** The socket's buffer went over maxBackpressure: the connection should close. */
  slowConsumer(bufferedBytes: number): void;
  /** Queued frames were written (streams paused on the outbox size may go on). */
  written(): void;
}

export class Outbox implements QueuedWrites {
  /**
   * The first queued frame, and the ones after it. Most flushes carry one answer: it needs no array
   * (an empty array's first push allocates room for 17).
   */
  private first: WireMessage | undefined;
  private rest: WireMessage[] | undefined;
  /** Bytes queued (counted with the socket's buffer for stream flow control). */
  private queuedBytes = 0;
  /**
   * Set while a uWS handler of this socket runs: the handler flushes when it ends, so frames queued
   * meanwhile need no scheduled flush (at a moderate call rate that would cost a loop turn per call).
   */
  inHandler = false;

  /** The owner is called back, not given closures: one object fewer per connection. */
  constructor(
    private readonly socket: ServerSocket,
    private readonly maxBackpressure: number,
    private readonly owner: OutboxOwner,
    private readonly queue: FlushQueue,
  ) {}

  get isEmpty(): boolean {
    return this.first === undefined;
  }

  /** Bytes waiting here and in the socket's buffer. */
  get pendingBytes(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  push(frame: WireMessage): void {
    if (this.first === undefined) {
      this.first = frame;
      if (!this.inHandler) this.queue.add(this);
    } else {
      (this.rest ??= []).push(frame);
    }
    this.queuedBytes += typeof frame === 'string' ? frame.length : frame.byteLength;
  }

  /** Writes queued frames; the caller has corked the socket (or is inside a uWS handler). False: cut off as a slow consumer. */
  flush(): boolean {
    const { first, rest } = this;
    this.discard();
    if (first === undefined) return true;
    if (!this.write(first)) return false;
    if (rest) for (const frame of rest) if (!this.write(frame)) return false;
    return true;
  }

  /** The flush queue's pass (or a close): writes what is queued in one corked write. */
  writeQueued(): void {
    if (this.first === undefined) return;
    this.socket.cork(() => {
      if (this.flush()) this.owner.written();
    });
  }

  /** Drops whatever is queued (the socket is gone). */
  discard(): void {
    this.first = undefined;
    this.rest = undefined;
    this.queuedBytes = 0;
  }

  /**
   * Only a send that built up backpressure can have pushed the buffer past the budget; checked after
   * each one, so a pass that carries many answers overshoots by one frame at most.
   */
  private write(frame: WireMessage): boolean {
    if (!this.socket.send(frame) && this.socket.bufferedAmount > this.maxBackpressure) {
      this.owner.slowConsumer(this.socket.bufferedAmount);
      return false;
    }
    return true;
  }
}
