/**
 * Callbacks from a host to the clients of its gateways: the PeerChannel of each remote connection.
 * A callback goes to the connection's gateway (`_U.<gateway>._cb`), which calls its client as in one
 * process and answers on this host's control subject.
 *
 * Invariants: every callback settles exactly once: with the answer, with the gateway's refusal
 * (DEADLINE_EXCEEDED, BUSY, CANCELLED, REF_RELEASED...), CANCELLED when the call being served gives
 * up (the gateway is told), or CONNECTION_CLOSED when the gateway stops answering (a second past the
 * deadline) or is gone.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '../clock.js';
import type { PeerChannel } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';
import { remoteError } from '../protocol/error-body.js';
import type { AssertionVerifier } from './identity-assertion.js';
import { publish, type Sent } from './publish.js';
import { controlHeaders, encodeMember, Header, Op, packPayload, readErrorPayload, Subject, unpackPayload } from './envelope.js';

interface Waiting { gateway: string; connection: string; resolve(value: EncodedPayload): void; reject(error: Error): void; timer: unknown; cleanup: () => void }

/** How long past a callback's deadline the host waits for its gateway's answer before giving up. */
const GATEWAY_SLACK_MS = 1_000;

export class HostCallbacks {
  private nextId = 0;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly hostId: string,
    private readonly clock: Clock,
    private readonly codec: Codec,
    private readonly maxAttachments: number,
    private readonly verifier?: AssertionVerifier,
  ) {}

  /** The way back to one connection (`<gateway>/<connection>`). */
  peer(connectionId: string): PeerChannel {
    const slash = connectionId.indexOf('/');
    const gateway = connectionId.slice(0, slash);
    const connection = connectionId.slice(slash + 1);
    return {
      callback: (ref, member, args, timeoutMs, signal) => this.call(gateway, connection, ref, member, args, timeoutMs, signal),
      release: (ref, received) => this.publish(gateway, Op.releaseRef, { [Header.connection]: connection, [Header.key]: ref, ...(received === undefined ? {} : { [Header.count]: received }) }),
    };
  }

  private call(gateway: string, connection: string, ref: string, member: string | undefined, args: EncodedPayload, timeoutMs: number, signal: AbortSignal | undefined): Promise<EncodedPayload> {
    if (signal?.aborted) return Promise.reject(new UplinkError(ErrorCode.CANCELLED, 'the call was cancelled before the callback'));
    if (this.nc.isClosed()) return Promise.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the host is not connected'));
    const id = (this.nextId++).toString(36);
    return new Promise<EncodedPayload>((resolve, reject) => {
      const onAbort = (): void => {
        this.settle(id)?.reject(new UplinkError(ErrorCode.CANCELLED, 'the call was cancelled'));
        this.publish(gateway, Op.cancelCallback, { [Header.call]: id, [Header.host]: this.hostId });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = this.clock.setTimeout(() => this.settle(id)?.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the gateway did not answer the callback')), timeoutMs + GATEWAY_SLACK_MS);
      this.waiting.set(id, { gateway, connection: `${gateway}/${connection}`, resolve, reject, timer, cleanup: () => signal?.removeEventListener('abort', onAbort) });
      const sent = this.publish(gateway, Op.callback, {
        [Header.call]: id, [Header.host]: this.hostId, [Header.connection]: connection, [Header.key]: ref,
        [Header.timeout]: Math.ceil(timeoutMs), ...(member === undefined ? {} : { [Header.member]: encodeMember(member) }),
      }, packPayload(args));
      if (sent === 'too-large') this.settle(id)?.reject(new UplinkError(ErrorCode.LIMIT_EXCEEDED, 'the callback\'s arguments are larger than one NATS message'));
      else if (sent === 'failed') this.settle(id)?.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the host is not connected'));
    });
  }

  /**
   * A gateway's answer (a control message to this host). With cluster keys it counts only with a
   * valid assertion for the callback's connection: only that connection's gateway has one (callback
   * ids can be seen by other NATS users on the gateway's callback subject).
   */
  answered(op: string, h: MsgHdrs, data: Uint8Array): void {
    const id = h.get(Header.call);
    const expected = this.waiting.get(id);
    if (!expected) return;
    if (!this.verifier) return this.settleWith(id, op, data);
    this.verifier.identity(h.get(Header.assertion), expected.connection).then(
      () => this.settleWith(id, op, data),
      () => undefined, // not its gateway: ignored, the callback still waits for the real answer
    ).catch(() => undefined);
  }

  private settleWith(id: string, op: string, data: Uint8Array): void {
    const waiting = this.settle(id);
    if (!waiting) return;
    try {
      if (op === Op.callbackOk) return waiting.resolve(unpackPayload(data, this.maxAttachments));
      const body = readErrorPayload(data, this.maxAttachments);
      const encoded = body.data as { payload?: EncodedPayload } | undefined;
      waiting.reject(remoteError(this.codec, { code: body.code, name: body.name, message: body.message }, encoded?.payload));
    } catch {
      waiting.reject(new UplinkError(ErrorCode.BAD_FRAME, 'a malformed callback answer'));
    }
  }

  /** A gateway is gone: its callbacks fail now. */
  gatewayGone(gateway: string): void {
    for (const [id, waiting] of [...this.waiting]) {
      if (waiting.gateway === gateway) this.settle(id)?.reject(new UplinkError(ErrorCode.CONNECTION_CLOSED, 'the gateway is gone'));
    }
  }

  private settle(id: string): Waiting | undefined {
    const waiting = this.waiting.get(id);
    if (!waiting) return undefined;
    this.waiting.delete(id);
    this.clock.clearTimeout(waiting.timer as never);
    waiting.cleanup();
    return waiting;
  }

  private publish(gateway: string, op: string, fields: Record<string, string | number>, data?: Uint8Array): Sent {
    return publish(this.nc, Subject.callbacks(gateway), data, { headers: controlHeaders(op, fields) });
  }
}
