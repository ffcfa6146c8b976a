/**
 * The client's streams: the RemoteStreams by id, the stream requests not yet answered by
 * stream-open, and the stream frames that arrive for them.
 *
 * Invariants: a stream request is kept like a pending call until stream-open (unsent ones go out on
 * the next connection; after a drop, sent ones are requested again only if idempotent, failed
 * otherwise); an open stream resumes on a new connection from the last item it received.
 */
import { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
import type { PayloadCoder } from '../protocol/codec.js';
import { writeCredit, writeCancel, writeResume, writeStream, type WireMessage } from '../protocol/frame-writer.js';
import type { EndFrame, ItemsFrame, StreamOpenFrame } from '../protocol/frames.js';
import type { StreamOptions } from './proxy.js';
import { RemoteStream, type StreamTransport } from './remote-stream.js';

/** What the streams need from their client. */
export interface StreamWire {
  /** The connection is open (frames sent now reach the gateway). */
  readonly open: boolean;
  send(message: WireMessage): void;
  nextId(): number;
  /** Why this request may not be sent (it is too large), or undefined. */
  refusal(message: WireMessage): Error | undefined;
}

interface StreamRequest { frame: WireMessage; sent: boolean; idempotent: boolean }

export class ClientStreams implements StreamTransport {
  private readonly streams = new Map<number, RemoteStream<unknown>>();
  private readonly requests = new Map<number, StreamRequest>();

  constructor(private readonly wire: StreamWire, private readonly codec: PayloadCoder, private readonly defaultWindow: number, private readonly maxWindow: number) {}

  /** Opens a stream (or, with `closed`, returns one that fails with it). */
  open<T>(object: string, method: string, args: unknown[], options: StreamOptions, closed: ConnectionClosedError | undefined): RemoteStream<T> {
    const id = this.wire.nextId();
    // A window set for one stream is kept as set; the client's default grows with the round trip.
    const window = options.window ?? this.defaultWindow;
    const stream = new RemoteStream<T>(this, id, window, options.signal, options.window === undefined ? Math.max(window, this.maxWindow) : window);
    if (closed) {
      stream.fail(closed);
      return stream;
    }
    if (options.signal?.aborted) return stream;
    this.streams.set(id, stream as RemoteStream<unknown>);
    const frame = writeStream(id, object, method, stream.upTo, { cid: options.correlationId, ann: options.annotations }, this.codec.encode(args));
    const refusal = this.wire.refusal(frame);
    if (refusal) {
      stream.fail(refusal);
      return stream;
    }
    const sent = this.wire.open;
    if (sent) this.wire.send(frame);
    this.requests.set(id, { frame, sent, idempotent: options.idempotent ?? false });
    return stream;
  }

  // ---- StreamTransport ----

  sendCredit(id: number, upTo: number, ack: number): void {
    if (this.wire.open) this.wire.send(writeCredit(id, upTo, ack));
  }

  sendCancel(id: number): void {
    if (this.wire.open) this.wire.send(writeCancel(id));
  }

  forget(id: number): void {
    this.streams.delete(id);
    this.requests.delete(id);
  }

  // ---- frames from the gateway ----

  opened(frame: StreamOpenFrame): void {
    this.streams.get(frame.id)?.opened(frame.key);
    this.requests.delete(frame.id);
  }

  items(frame: ItemsFrame, body: string, attachments: Uint8Array[] | undefined): void {
    const stream = this.streams.get(frame.id);
    if (!stream) return;
    try {
      const items = this.codec.decode({ text: body, attachments });
      if (!Array.isArray(items)) throw new UplinkError(ErrorCode.BAD_FRAME, 'stream items must be an array');
      stream.items(frame.seq, items, body.length + (attachments?.reduce((n, a) => n + a.byteLength, 0) ?? 0));
    } catch (error) {
      stream.fail(error as Error);
      this.sendCancel(frame.id);
    }
  }

  end(frame: EndFrame): void {
    this.streams.get(frame.id)?.end(frame.seq);
  }

  /** An error frame for `id`; false when no stream has that id (it is a call's). */
  failed(id: number, seq: number | undefined, error: Error): boolean {
    const stream = this.streams.get(id);
    if (!stream) return false;
    stream.fail(error);
    // A stream that ended with an error waits for this final ack before the gateway forgets it.
    if (seq !== undefined) this.sendCredit(id, seq, seq);
    return true;
  }

  // ---- connection changes ----

  /** Requests waiting for a connection. */
  get unsent(): number {
    let n = 0;
    for (const r of this.requests.values()) if (!r.sent) n++;
    return n;
  }

  /** The connection dropped: requests on the wire are lost with it unless idempotent. */
  dropped(error: ConnectionClosedError): void {
    for (const [id, request] of [...this.requests]) {
      if (!request.sent || request.idempotent) request.sent = false;
      else this.streams.get(id)?.fail(error);
    }
  }

  /** On a new connection: resume open streams from the last item received, then send waiting requests. */
  reconnected(): void {
    for (const [id, stream] of this.streams) {
      if (stream.key !== undefined) this.wire.send(writeResume(id, stream.key, stream.received, stream.upTo));
    }
    for (const request of this.requests.values()) {
      if (request.sent) continue;
      this.wire.send(request.frame);
      request.sent = true;
    }
  }

  /** The client ended for good. */
  failAll(error: Error): void {
    for (const stream of [...this.streams.values()]) stream.fail(error);
    this.requests.clear();
  }
}
