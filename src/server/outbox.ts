/**
 * A connection's outbound queue. Frames produced outside a uWS handler (async results, stream items)
 * wait here and leave together in one corked write when the gateway flushes (once per macrotask), so
 * a burst of answers costs one syscall, not one each.
 *
 * Invariants: frames leave in the order they were queued; a client that stops reading is cut off
 * (onSlowConsumer) once its socket holds more than maxBackpressure bytes, so one slow reader cannot
 * make the gateway buffer without bound.
 */
import type { WireMessage } from '../protocol/frame-writer.js';
import type { ServerSocket } from './server-socket.js';

export interface OutboxOwner {
  /** Asks for a flush soon (the gateway batches flushes of all connections). */
  scheduleFlush(): void;
  /** The socket's buffer went over maxBackpressure: the connection should close. */
  slowConsumer(bufferedBytes: number): void;
}

export class Outbox {
  private frames: WireMessage[] | undefined;
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
  ) {}

  get isEmpty(): boolean {
    return this.frames === undefined;
  }

  /** Bytes waiting here and in the socket's buffer. */
  get pendingBytes(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  push(frame: WireMessage): void {
    if (!this.frames) {
      this.frames = [];
      if (!this.inHandler) this.owner.scheduleFlush();
    }
    this.frames.push(frame);
    this.queuedBytes += typeof frame === 'string' ? frame.length : frame.byteLength;
  }

  /** Writes queued frames; the caller has corked the socket (or is inside a uWS handler). False: cut off as a slow consumer. */
  flush(): boolean {
    const frames = this.frames;
    this.discard();
    if (!frames) return true;
    for (const f of frames) {
      // Only a send that built up backpressure can have pushed the buffer past the budget; checked
      // after each one, so a pass that carries many answers overshoots by one frame at most.
      if (!this.socket.send(f) && this.socket.bufferedAmount > this.maxBackpressure) {
        this.owner.slowConsumer(this.socket.bufferedAmount);
        return false;
      }
    }
    return true;
  }

  /** Drops whatever is queued (the socket is gone). */
  discard(): void {
    this.frames = undefined;
    this.queuedBytes = 0;
  }
}
