/**
 * Streams over SSE (docs/protocol.md section 13.1): `POST /rpc/<object>/<member>` with `Accept: text/event-stream`
 * opens the stream a WebSocket `stream` frame opens, and answers its items as server-sent events; with
 * `Last-Event-ID: <key>:<seq>` it resumes a stream whose earlier response was cut, from seq + 1.
 *
 * The gateway grants the credit itself, as the socket takes the events: a client that reads slowly
 * fills TCP's buffers, the response stops being writable, and the stream stops pulling (as a WebSocket
 * client that grants no credit stops it). Nothing tells the gateway what the client has read, so the
 * last items written stay unacknowledged (RESUME_ITEMS, and at most half the replay budget): a resume
 * from within them replays every later item once; one from before them is STREAM_LOST.
 *
 * Invariants: a refusal before the stream opened is answered as a call's error (JSON, its status);
 * after it opened, every outcome is one last event and the response ends; an attached sink grants and
 * detaches only while it is the stream's sink (a resume elsewhere releases it first); the request's
 * connection is released exactly once, when its response ends or the client goes away.
 */
import { MAX_TIMER_MS, type Clock } from '../../clock.js';
import type { Identity } from '../../core/context.js';
import type { HostCall, ObjectHost, StreamControl, StreamSink } from '../../host/object-host.js';
import type { Codec, EncodedPayload } from '../../protocol/codec.js';
import { ErrorCode, errorBody, UplinkError, type ErrorBody } from '../../protocol/errors.js';
import { itemPayloads } from '../../protocol/item-payloads.js';
import { parseLastEventId, SSE_PING, sseEvent, sseItemId } from '../../protocol/sse-events.js';
import type { HttpExchange } from './exchange.js';
import { errorText } from './http-errors.js';
import { SseRetention } from './sse-retention.js';

/** Items the client may be ahead of what it has read: the stream's first grant and each later one. */
export const SSE_WINDOW = 256;
/** A quiet stream sends a comment this often, so proxies keep the connection. */
export const SSE_HEARTBEAT_MS = 15_000;

const SSE_HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' };

/** Whether the request asks for an event stream (a POST whose Accept names text/event-stream). */
export function wantsEventStream(exchange: HttpExchange): boolean {
  return exchange.method === 'POST' && /(?:^|,)\s*text\/event-stream\s*(?:;|,|$)/i.test(exchange.header('accept'));
}

export interface SseContext {
  readonly objectHost: ObjectHost;
  readonly codec: Codec;
  readonly clock: Clock;
  /** Bytes of written items kept for a resume, at most. */
  readonly retainBytes: number;
  /** Answers a refusal before the stream started (JSON with its status). */
  refuse(exchange: HttpExchange, error: ErrorBody, status?: number): void;
}

/** The response one stream writes to while attached to it. */
export class SseSink implements StreamSink {
  private control: StreamControl | undefined;
  private key = '';
  private started = false;
  /** The last event was written (or the client is gone): nothing more is written. */
  private finished = false;
  /** The stream left this sink (closed, or resumed elsewhere): it is not granted or detached from here. */
  private detached = false;
  private blocked = false;
  private grantQueued = false;
  /** An item could not be sent: the stream is cancelled once the host returned its control. */
  private cancelWanted = false;
  private heartbeat: unknown;
  private expiry: unknown;
  private readonly done: () => void;
  private readonly retention: SseRetention;

  /**
   * `next`: the first seq this response still owes (a replayed frame may start below it);
   * `done`: called once when the response is over, however it ends; `expiresAt`: when the request's
   * token expires (epoch ms), and with it this response (the stream lingers for a resume with a fresh one).
   */
  constructor(
    private readonly exchange: HttpExchange, private readonly context: SseContext, private next: number, done: () => void,
    private readonly expiresAt?: number,
  ) {
    let called = false;
    this.done = () => {
      if (called) return;
      called = true;
      done();
    };
    this.retention = new SseRetention(next, SSE_WINDOW, context.retainBytes);
  }

  /** The stream the host opened or resumed on this sink (called once the host returned it). */
  attach(control: StreamControl): void {
    this.control = control;
    if (this.cancelWanted) control.cancel();
    else if (this.exchange.aborted && !this.detached) {
      this.detached = true; // the client went away while the host opened it
      control.detach();
    } else if (this.finished) this.scheduleGrant(); // it ended while opening: let the host close it
  }

  get writable(): boolean {
    return !this.blocked && !this.finished;
  }

  opened(key: string): void {
    this.key = key;
    if (!this.started) {
      this.started = true;
      this.exchange.startStream(200, SSE_HEADERS);
      this.exchange.onAborted(() => this.gone());
      this.armHeartbeat();
      this.armExpiry();
    }
    this.send(sseEvent('open', JSON.stringify({ key })));
  }

  items(seq: number, payload: EncodedPayload, count: number): void {
    if (this.finished) return;
    let texts: string[];
    try {
      texts = itemPayloads(payload);
    } catch (error) {
      const body = error instanceof UplinkError ? errorBody(error.code, error.message) : errorBody(ErrorCode.INTERNAL, 'a stream item could not be sent');
      this.close(sseEvent('error', errorText(body, this.context.codec)));
      this.cancelWanted = true;
      this.control?.cancel();
      return;
    }
    for (let i = Math.max(0, this.next - seq); i < count; i++) {
      const text = texts[i] as string;
      this.send(sseEvent('item', text, sseItemId(this.key, seq + i)));
      this.retention.written(seq + i, text.length);
    }
    this.next = Math.max(this.next, seq + count);
    this.scheduleGrant();
  }

  end(total: number): void {
    this.close(sseEvent('end', JSON.stringify({ total })));
    this.scheduleGrant(); // every item was written: the host closes the stream on this grant
  }

  fail(error: ErrorBody, _delivered: number): void {
    if (this.finished) return;
    if (!this.started) {
      this.finished = true;
      this.context.refuse(this.exchange, error);
      return this.done();
    }
    this.close(sseEvent('error', errorText(error, this.context.codec)));
    this.scheduleGrant();
  }

  /** The stream closed for good, or moved to another response. */
  released(): void {
    this.detached = true;
    this.close(sseEvent('error', errorText(errorBody(ErrorCode.CANCELLED, 'the stream was ended by the gateway'), this.context.codec)));
  }

  /** Grants once per turn, after the events of this turn were written (never from inside the host's call). */
  private scheduleGrant(): void {
    if (this.grantQueued) return;
    this.grantQueued = true;
    queueMicrotask(() => {
      this.grantQueued = false;
      // While the socket is full no credit is given (the drain gives it): so a host that does not
      // ask `writable` (one in another process) is held back by credit, as a WebSocket consumer holds it.
      if (this.detached || !this.control || this.exchange.aborted || (this.blocked && !this.finished)) return;
      const ack = this.finished ? this.next : this.retention.ack;
      this.control.grant(this.finished ? this.next : this.next + SSE_WINDOW, ack);
    });
  }

  private send(event: string): void {
    if (this.exchange.write(event) || this.blocked) return;
    this.blocked = true;
    this.exchange.onWritable(() => {
      this.blocked = false;
      if (this.detached || this.finished) return;
      this.control?.drained();
      this.scheduleGrant();
    });
  }

  /** Writes the last event and ends the response (once). */
  private close(lastEvent: string): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    if (this.started) {
      this.exchange.write(lastEvent);
      this.exchange.end();
    }
    this.done();
  }

  /** The client went away: the stream lingers for a resume (the host's linger window). */
  private gone(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    if (!this.detached && this.control) {
      this.detached = true;
      this.control.detach();
    }
    this.done();
  }

  private stopTimers(): void {
    this.context.clock.clearTimeout(this.heartbeat);
    this.context.clock.clearTimeout(this.expiry);
  }

  /** A response never outlives its token: at expiry the stream is detached (it lingers) and the response ends. */
  private armExpiry(): void {
    if (this.expiresAt === undefined) return;
    const left = this.expiresAt - this.context.clock.now();
    this.expiry = this.context.clock.setTimeout(() => {
      if (this.context.clock.now() < (this.expiresAt as number)) return this.armExpiry(); // a wait longer than a timer can take
      if (this.finished) return;
      if (!this.detached) this.control?.detach();
      this.detached = true;
      this.close(sseEvent('error', errorText(errorBody(ErrorCode.TOKEN_EXPIRED, 'the token expired: resume with a fresh one (Last-Event-ID)'), this.context.codec)));
    }, Math.min(Math.max(0, left), MAX_TIMER_MS));
  }

  private armHeartbeat(): void {
    this.heartbeat = this.context.clock.setTimeout(() => {
      if (this.finished) return;
      this.send(SSE_PING);
      this.armHeartbeat();
    }, SSE_HEARTBEAT_MS);
  }
}

/**
 * The SSE streams of a gateway. A subject's streams are capped by the object host (as WebSocket
 * streams are); anonymous callers, which the host caps per connection, are capped here per address,
 * since every request is a connection of its own.
 */
export class SseStreams {
  private readonly anonymous = new Map<string, number>();

  constructor(private readonly context: SseContext, private readonly maxAnonymousPerAddress: number) {}

  /** Opens the stream `call` names on the response, or resumes the one `Last-Event-ID` names; `done` once the response is over. */
  serve(exchange: HttpExchange, call: HostCall, done: () => void): void {
    const { context } = this;
    const lastId = exchange.header('last-event-id');
    const resume = lastId === '' ? undefined : parseLastEventId(lastId);
    if (lastId !== '' && !resume) {
      done();
      return context.refuse(exchange, errorBody(ErrorCode.BAD_FRAME, 'Last-Event-ID is <key>:<seq>, the id of the last item received'));
    }
    const address = call.context.identity === undefined ? call.context.connection.remoteAddress : undefined;
    if (address !== undefined) {
      const count = this.anonymous.get(address) ?? 0;
      if (count >= this.maxAnonymousPerAddress) {
        done();
        return context.refuse(exchange, errorBody(ErrorCode.LIMIT_EXCEEDED, `more than ${this.maxAnonymousPerAddress} anonymous streams from this address`));
      }
      this.anonymous.set(address, count + 1);
    }
    const finished = address === undefined ? done : () => {
      const left = (this.anonymous.get(address) ?? 1) - 1;
      if (left > 0) this.anonymous.set(address, left);
      else this.anonymous.delete(address);
      done();
    };
    if (resume) resumeSseStream(exchange, context, resume.key, resume.seq, call.context.identity, finished);
    else openSseStream(exchange, context, call, finished);
  }
}

/** Opens a stream for `call` on the response, or answers why not. */
function openSseStream(exchange: HttpExchange, context: SseContext, call: HostCall, done: () => void): void {
  const sink = new SseSink(exchange, context, 0, done, call.context.identity?.expiresAt);
  const control = context.objectHost.openStream(call, SSE_WINDOW, sink);
  if (control) sink.attach(control);
  else sink.fail(errorBody(ErrorCode.INTERNAL, 'the stream did not open'), 0); // a no-op after the host's own refusal
}

/** Resumes the stream `key` after item `seq` on the response, or answers 410 STREAM_LOST. */
function resumeSseStream(exchange: HttpExchange, context: SseContext, key: string, seq: number, identity: Identity | undefined, done: () => void): void {
  const sink = new SseSink(exchange, context, seq + 1, done, identity?.expiresAt);
  const control = context.objectHost.resumeStream(key, identity, seq + 1, seq + 1 + SSE_WINDOW, sink);
  if (control) return sink.attach(control);
  sink.fail(errorBody(ErrorCode.STREAM_LOST, 'no stream to resume for this id (ended, expired, or not yours)'), 0);
}
