/**
 * Streams running on a host, relayed to whichever gateway they are attached to: each frame the
 * stream writes becomes one NATS message to that gateway's reply subject (items stay batched as the
 * stream packs them), and the gateway's control messages (credit, cancel, detach, resume) reach the
 * stream by its key. The stream itself is the same ServerStream as in one process: credits, linger,
 * replay buffer and takeover rules are unchanged.
 *
 * Invariants: control messages count only from the reply subject the stream is attached to now
 * (a late detach or credit from a gateway the stream moved away from is ignored), and with cluster
 * keys only when they carry the assertion the stream was opened or resumed with (keys and reply
 * subjects can be seen by other NATS users; assertions cannot); a stream is in the table from its
 * open to its release.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Identity } from '../core/context.js';
import { ErrorCode, errorBody, UplinkError, type ErrorBody } from '../protocol/errors.js';
import type { HostCall, StreamControl, StreamSink } from '../host/object-host.js';
import type { LocalObjectHost } from '../host/local-host.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';
import { publish } from './publish.js';
import { errorPayload, Event, eventHeaders, gatewayOfReply, Header, packPayload, payloadBudget } from './envelope.js';

interface Attached {
  control: StreamControl;
  sink: NatsStreamSink;
  /** With cluster keys: the assertion it was opened or resumed with; its control messages carry the same. */
  assertion: string | undefined;
}

export class HostStreams {
  private readonly streams = new Map<string, Attached>();

  constructor(private readonly nc: NatsConnection, private readonly hostId: string, private readonly host: LocalObjectHost) {}

  get size(): number {
    return this.streams.size;
  }

  open(call: HostCall, upTo: number, reply: string, pin: boolean, assertion?: string): void {
    const sink = new NatsStreamSink(this, reply, pin);
    const control = this.host.openStream(call, upTo, sink);
    if (control?.live && sink.key) this.streams.set(sink.key, { control, sink, assertion });
  }

  /** A gateway asks for the stream to be sent to it (a client resumed there, or frames were lost on the way). */
  resume(key: string, identity: Identity | undefined, ack: number, upTo: number, reply: string, assertion?: string): void {
    const sink = new NatsStreamSink(this, reply, false);
    const control = this.host.resumeStream(key, identity, ack, upTo, sink);
    if (control?.live) {
      this.streams.set(key, { control, sink, assertion });
      return;
    }
    sink.fail(errorBody(ErrorCode.STREAM_LOST, 'no stream to resume for this key'), ack);
    sink.released();
  }

  /** The stream by its key, if `reply` is where it is attached now. */
  control(key: string, reply: string, assertion: string | undefined): StreamControl | undefined {
    const attached = this.streams.get(key);
    if (!attached || attached.sink.reply !== reply) return undefined;
    return attached.assertion === undefined || attached.assertion === assertion ? attached.control : undefined;
  }

  /** A gateway is gone: its streams linger for a resume through another gateway. */
  detachGateway(gateway: string): number {
    let detached = 0;
    for (const { control, sink } of [...this.streams.values()]) {
      if (gatewayOfReply(sink.reply) === gateway) {
        control.detach();
        detached++;
      }
    }
    return detached;
  }

  /** Gateways that have streams here. */
  gateways(): Set<string> {
    const gateways = new Set<string>();
    for (const { sink } of this.streams.values()) {
      const gateway = gatewayOfReply(sink.reply);
      if (gateway) gateways.add(gateway);
    }
    return gateways;
  }

  /** Draining ran out of time: every stream still here ends with a typed, retryable error. */
  endAll(error: ErrorBody): void {
    for (const { control, sink } of [...this.streams.values()]) {
      sink.fail(error, sink.delivered);
      control.cancel();
    }
  }

  /** @internal called by a sink. */
  publish(reply: string, event: string, fields: Record<string, string | number>, data?: Uint8Array): void {
    if (this.nc.isClosed()) return;
    // One item larger than a NATS message: the stream ends with this error (thrown into its pull loop).
    if ((data && data.byteLength > this.budget) || publish(this.nc, reply, data, { headers: eventHeaders(event, fields) }) === 'too-large') {
      throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `a stream item is larger than one NATS message (${this.budget} bytes)`);
    }
  }

  /** @internal the largest payload of one message. */
  get budget(): number {
    return payloadBudget(this.nc);
  }

  /** @internal */
  get codec(): Codec {
    return this.host.codec;
  }

  /** @internal */
  get id(): string {
    return this.hostId;
  }

  /** @internal the sink closed for good. */
  released(sink: NatsStreamSink): void {
    if (sink.key && this.streams.get(sink.key)?.sink === sink) this.streams.delete(sink.key);
  }
}

/** Writes a stream's frames to the gateway it is attached to. */
class NatsStreamSink implements StreamSink {
  key: string | undefined;
  /** Items sent so far (what a fail reports as delivered). */
  delivered = 0;
  /** Credits bound what is in flight end to end; the gateway never holds more than one window. */
  readonly writable = true;

  constructor(private readonly streams: HostStreams, readonly reply: string, private readonly pin: boolean) {}

  opened(key: string): void {
    this.key = key;
    this.streams.publish(this.reply, Event.open, { [Header.host]: this.streams.id, [Header.key]: key, ...(this.pin ? { [Header.pin]: 1 } : {}) });
  }

  items(seq: number, payload: EncodedPayload, count: number): void {
    this.delivered = Math.max(this.delivered, seq + count);
    const packed = packPayload(payload);
    if (packed.byteLength <= this.streams.budget || count === 1) {
      this.streams.publish(this.reply, Event.items, { [Header.seq]: seq, [Header.count]: count }, packed);
      return;
    }
    // A batch larger than one NATS message goes as smaller ones (the same split on every replay, so
    // the gateway's sequence check holds); one item alone that does not fit is refused by the stream's
    // maxFrameBytes, which the host keeps within the budget.
    const items = this.streams.codec.decode(payload) as unknown[];
    const half = Math.ceil(count / 2);
    this.items(seq, this.streams.codec.encode(items.slice(0, half)), half);
    this.items(seq + half, this.streams.codec.encode(items.slice(half)), count - half);
  }

  end(total: number): void {
    this.streams.publish(this.reply, Event.end, { [Header.seq]: total });
  }

  fail(error: ErrorBody, delivered: number): void {
    this.streams.publish(this.reply, Event.fail, { [Header.seq]: delivered }, errorPayload(error, this.streams.codec));
  }

  released(): void {
    this.streams.publish(this.reply, Event.released, {});
    this.streams.released(this);
  }
}
