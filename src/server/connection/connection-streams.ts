/**
 * The streams attached to one connection, by the client's ids, and the sinks they write to.
 *
 * Invariants: an entry is null while the host is opening the stream; the sink's released() removes
 * the entry, so a refused or closed stream never lingers here; once the connection is gone every
 * stream is detached (it lingers in the host for a resume) and the table is empty.
 */
import type { ErrorBody } from '../../protocol/errors.js';
import type { StreamControl, StreamSink } from '../../host/object-host.js';
import type { FlushQueue } from './flush-queue.js';
import { writeEnd, writeItems, writeStreamOpen, type WireMessage } from '../../protocol/frame-writer.js';

/** What the streams need from their connection. */
export interface StreamOutput {
  readonly isOpen: boolean;
  /** Bytes queued for the socket and in its buffer. */
  readonly pendingBytes: number;
  send(message: WireMessage): void;
  writeError(fields: { id: number; seq: number }, error: ErrorBody): void;
}

/** Shared by connections that never opened a stream (idle connections stay small); replaced on first use. */
const NO_STREAMS = new Map<number, StreamControl | null>();

export class ConnectionStreams {
  private table: Map<number, StreamControl | null> = NO_STREAMS;

  constructor(
    private readonly output: StreamOutput,
    /** Streams pause while more than this many bytes wait for the socket. */
    private readonly highWaterMark: number,
    /** Counts items sent, when metrics are on. */
    private readonly totals: { streamItems: number } | undefined = undefined,
    /** The gateway's write pass: a stream's batch runs at its start, so the items leave in it. */
    private readonly queue?: FlushQueue,
  ) {}

  get size(): number {
    return this.table.size;
  }

  has(id: number): boolean {
    return this.table.has(id);
  }

  /** Holds the id while the host opens the stream (a cancel in between finds it). */
  reserve(id: number): void {
    if (this.table === NO_STREAMS) this.table = new Map();
    this.table.set(id, null);
  }

  /** Records the stream under its id, unless it was refused or already closed while it opened. */
  attach(id: number, control: StreamControl | undefined): void {
    if (control?.live && this.table.has(id)) this.table.set(id, control);
    else this.table.delete(id);
  }

  grant(id: number, upTo: number, ack: number): void {
    this.table.get(id)?.grant(upTo, ack);
  }

  /** Cancels the stream with this id; false when there is none (the id may be a call's). */
  cancel(id: number): boolean {
    const stream = this.table.get(id);
    if (stream === undefined) return false;
    this.table.delete(id);
    stream?.cancel();
    return true;
  }

  /** The socket can take bytes again: streams waiting for room go on. */
  drained(): void {
    for (const stream of this.table.values()) stream?.drained();
  }

  /** The connection is gone: every stream waits for a resume (or ends, per its linger setting). */
  detachAll(): void {
    for (const stream of this.table.values()) stream?.detach();
    this.table.clear();
  }

  /** The sink a stream writes to while attached to this connection under `id`. */
  sink(id: number): StreamSink {
    const { output, highWaterMark, totals, queue } = this;
    const streams = this;
    return {
      ...(queue ? { beforeWrites: (task: () => void) => queue.beforeWrites(task) } : {}),
      get writable() {
        return output.isOpen && output.pendingBytes < highWaterMark;
      },
      opened: (key) => output.send(writeStreamOpen(id, key)),
      items: (seq, payload, count) => {
        if (totals) totals.streamItems += count;
        output.send(writeItems(id, seq, payload));
      },
      end: (total) => output.send(writeEnd(id, total)),
      fail: (error, delivered) => output.writeError({ id, seq: delivered }, error),
      released: () => void streams.table.delete(id),
    };
  }
}
