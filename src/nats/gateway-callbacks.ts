/**
 * A gateway's side of callbacks through NATS: hosts ask (`_U.<gateway>._cb`) to call one of this
 * gateway's clients; the connection's own PeerChannel does it exactly as in one process (deadline,
 * BUSY, typed errors, callback-cancel), and the outcome goes back on the host's control subject.
 * Releases of references go to the client the same way.
 *
 * Invariant: a host reaches only connections that called through this gateway's NATS routes and are
 * still open; anything else is answered with CONNECTION_CLOSED, never an exception.
 */
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import type { ConnectionInfo } from '../core/context.js';
import { ErrorCode, errorBody } from '../protocol/errors.js';
import { Codec, type EncodedPayload } from '../protocol/codec.js';
import { receivedErrorBody, toErrorBody } from '../protocol/error-body.js';
import { controlHeaders, decodeMember, errorPayload, Header, isNodeId, Op, packPayload, Subject, unpackPayload } from './envelope.js';
import { publish } from './publish.js';

/** The longest wait a host may ask for (a day; the connection's own callback limits apply too). */
const MAX_CALLBACK_TIMEOUT_MS = 86_400_000;
/** A host's callback ids are base 36 counters. */
const CALL_ID = /^[0-9a-z]{1,16}$/;

export class GatewayCallbacks {
  /** Connections by their id on this gateway, kept while they live. */
  private readonly connections = new Map<string, ConnectionInfo>();
  /** Callbacks running, by `<host>/<call id>`, so a host can stop waiting. */
  private readonly running = new Map<string, AbortController>();
  private readonly codec = new Codec();

  constructor(
    private readonly nc: NatsConnection,
    private readonly maxAttachments: number,
    /** With cluster keys: the connection's assertion, which answers carry so the host knows they come from its gateway. */
    private readonly assertionFor: (connection: ConnectionInfo) => string | undefined = () => undefined,
  ) {}

  track(connection: ConnectionInfo): void {
    if (connection.peer && !this.connections.has(connection.id)) this.connections.set(connection.id, connection);
  }

  forget(connectionId: string): void {
    this.connections.delete(connectionId);
  }

  /** Only hosts may publish here; still, a message without a host id and a call id is dropped. */
  onMessage(msg: Msg): void {
    const h = msg.headers;
    if (!h) return;
    const op = h.get(Header.op);
    const host = h.get(Header.host);
    const connection = this.connections.get(h.get(Header.connection));
    if ((op === Op.callback || op === Op.cancelCallback) && (!isNodeId(host) || !CALL_ID.test(h.get(Header.call)))) return;
    if (op === Op.releaseRef) {
      const received = Number(h.get(Header.count));
      return connection?.peer?.release(h.get(Header.key), Number.isSafeInteger(received) && received > 0 ? received : undefined);
    }
    if (op === Op.cancelCallback) return void this.running.get(`${host}/${h.get(Header.call)}`)?.abort();
    if (op === Op.callback) this.call(host, h, msg.data, connection);
  }

  private call(host: string, h: MsgHdrs, data: Uint8Array, connection: ConnectionInfo | undefined): void {
    const id = h.get(Header.call);
    const assertion = connection && this.assertionFor(connection);
    const headersOf = (op: string) => controlHeaders(op, { [Header.call]: id, ...(assertion ? { [Header.assertion]: assertion } : {}) });
    const answer = (op: string, payload: Uint8Array): void => {
      const sent = publish(this.nc, Subject.control(host), payload, { headers: headersOf(op) });
      if (sent !== 'too-large') return;
      // The client's answer does not fit one NATS message: the host's call gets a typed error instead.
      const tooLarge = errorBody(ErrorCode.LIMIT_EXCEEDED, 'the callback\'s answer is larger than one NATS message');
      publish(this.nc, Subject.control(host), errorPayload(tooLarge), { headers: headersOf(Op.callbackError) });
    };
    const peer = connection?.peer;
    if (!peer) return answer(Op.callbackError, errorPayload(errorBody(ErrorCode.CONNECTION_CLOSED, 'the client is gone')));
    let args: EncodedPayload;
    let member: string | undefined;
    try {
      args = unpackPayload(data, this.maxAttachments);
      member = h.get(Header.member) ? decodeMember(h.get(Header.member)) : undefined;
    } catch {
      return answer(Op.callbackError, errorPayload(errorBody(ErrorCode.BAD_FRAME, 'a malformed callback')));
    }
    const key = `${host}/${id}`;
    if (this.running.has(key)) return; // the same callback twice: the first one answers
    const controller = new AbortController();
    this.running.set(key, controller);
    const timeoutMs = Math.min(Math.max(Number(h.get(Header.timeout)) || 0, 0), MAX_CALLBACK_TIMEOUT_MS);
    peer.callback(h.get(Header.key), member, args, timeoutMs, controller.signal).then(
      (value) => answer(Op.callbackOk, packPayload(value)),
      // The client's error goes on as the client sent it (its data still encoded); the gateway's own refusals are mapped.
      (error: unknown) => answer(Op.callbackError, errorPayload(receivedErrorBody(error) ?? toErrorBody(error, this.codec, false), this.codec)),
    ).finally(() => this.running.delete(key));
  }
}
