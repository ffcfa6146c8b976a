/**
 * A stream running on a host, relayed by the gateway: frames from the host go to the connection's
 * sink as they come; the client's credits, cancel and detach go to the host's control subject. The
 * stream itself (generator, credits, replay buffer, linger) stays on the host, so the gateway holds
 * at most the window the client granted, and a client may resume through any gateway.
 *
 * Invariants: items reach the sink in order and exactly once: `expected` is the next sequence
 * number; a batch below it is a replay already relayed (dropped), one above it means frames were lost
 * (a NATS reconnect), and the stream re-attaches under a new inbox id, asking the host to replay from
 * the client's last ack. Replayed batches keep their boundaries: one wholly below `expected` is
 * dropped, one that reaches past it is relayed (the client skips items it has, as after any resume).
 */
import type { Msg } from '@nats-io/transport-node';
import type { Identity } from '../core/context.js';
import { ErrorCode, errorBody, type ErrorBody } from '../protocol/errors.js';
import type { StreamControl, StreamSink } from '../host/object-host.js';
import { count, Event, Header, isNodeId, NODE_ID_LENGTH, Op, readErrorPayload, unpackPayload } from './envelope.js';
import { isNoResponders, type InboxEntry, type InboxLink } from './inbox-entry.js';
import { refusedSend, unavailable } from './call-routes.js';
import type { Sent } from './publish.js';

type State = 'opening' | 'open' | 'closed';

/** A host's own stream key: base64url, bounded. */
const HOST_KEY = /^[A-Za-z0-9_-]{1,128}$/;

export class RemoteStream implements StreamControl, InboxEntry {
  host: string | undefined;
  since: number;
  reply = '';
  private key: string | undefined;
  private state: State = 'opening';
  /** The client was told the key (stream-open): re-attaching does not tell it again. */
  private announced = false;
  private expected: number;
  private upTo: number;
  private ack: number;
  /** What to do once the host names the stream (cancel or detach came before it opened). */
  private afterOpen: 'cancel' | 'detach' | undefined;
  /** The last re-attach found no subscriber (the host was reconnecting): retried on the next sweep. */
  private retryReattach = false;
  /** Opens sent straight to a host the gateway picked: sends the open to the queue group if that host is gone. */
  private resend: (() => Sent) | undefined;
  /** The host's beat count when the open or the last resume was sent to it. */
  beatsAtSend: number | undefined;
  /** The host sent the stream's end or failure (its `released` then closes it quietly). */
  private finished = false;
  /** A re-attach was sent and its open has not come back yet. */
  private reattaching = false;
  /** Made by a client's resume (a key it chose), not by an open. */
  private readonly resumed: boolean;
  /** With cluster keys: the assertion the host attached the stream with; control messages carry it. */
  private assertion: string | undefined;

  constructor(
    private readonly link: InboxLink,
    private readonly sink: StreamSink,
    private readonly object: string,
    private readonly identity: Identity | undefined,
    start: { upTo: number; ack: number; host?: string | undefined; key?: string; resend?: (() => Sent) | undefined; assertion?: string | undefined },
  ) {
    this.resend = start.resend;
    this.since = link.now();
    this.upTo = start.upTo;
    this.ack = start.ack;
    this.expected = start.ack;
    this.host = start.host;
    this.key = start.key;
    this.resumed = start.key !== undefined;
    this.beatsAtSend = start.host === undefined ? undefined : link.beats(start.host);
    this.assertion = start.assertion;
  }

  /** A resume key of a stream on a host: the host id (fixed length) then the host's own key. */
  static splitKey(key: string): { host: string; key: string } | undefined {
    const host = key.slice(0, NODE_ID_LENGTH);
    const own = key.slice(NODE_ID_LENGTH);
    // The host's own key is base64url (stream-registry.ts): anything else names no stream, and must
    // never reach a header (nats.js refuses control characters there).
    return isNodeId(host) && HOST_KEY.test(own) ? { host, key: own } : undefined;
  }

  /** The host has not opened (or re-opened) it yet. */
  get unheard(): boolean {
    return this.state === 'opening' || this.reattaching;
  }

  /** A fresh open left unanswered is the host's doing; a resume of a key a client chose is not. */
  get blamesHost(): boolean {
    return this.state === 'opening' && !this.resumed;
  }

  get live(): boolean {
    return this.state !== 'closed' && this.afterOpen === undefined;
  }

  grant(upTo: number, ack: number): void {
    if (!this.live) return;
    this.upTo = Math.max(this.upTo, upTo);
    this.ack = Math.max(this.ack, Math.min(ack, this.expected));
    if (this.state === 'open') this.control(Op.grant, { [Header.upTo]: this.upTo, [Header.ack]: this.ack });
  }

  cancel(): void {
    this.leave('cancel');
  }

  detach(): void {
    this.leave('detach');
  }

  /** Credits run end to end: the host waits for grants, not for this socket. */
  drained(): void {}

  onMessage(msg: Msg): void {
    if (this.state === 'closed') return;
    const h = msg.headers;
    if (isNoResponders(h)) return this.noResponders();
    this.since = this.link.now();
    if (this.host) this.link.seen(this.host);
    try {
      switch (h?.get(Header.event)) {
        case Event.open: return this.opened(h.get(Header.host), h.get(Header.key));
        case Event.items: return this.items(count(h.get(Header.seq)), count(h.get(Header.count)), msg.data);
        case Event.end: return this.ended(count(h.get(Header.seq)), undefined);
        case Event.fail: return this.ended(count(h.get(Header.seq)), readErrorPayload(msg.data, this.link.maxAttachments));
        case Event.released: return this.released();
        default: return;
      }
    } catch {
      this.fail(errorBody(ErrorCode.INTERNAL, 'a malformed stream frame from an object host'));
    }
  }

  /** NATS refused the open (too large with its headers, or not connected): the sink hears it as a refused open. */
  refused(error: ErrorBody): void {
    this.close();
    this.sink.fail(error, 0);
  }

  hostLost(): void {
    this.fail(errorBody(ErrorCode.HOST_LOST, 'the object host running this stream stopped answering; its items since the last ack are lost'));
  }

  /** Asks the host to replay from the client's last ack under a new inbox id (frames may have been lost). */
  reattach(): void {
    if (this.state !== 'open' || !this.host || !this.key) return;
    this.retryReattach = false;
    this.reattaching = true;
    this.since = this.link.now(); // the host has a whole liveness bound to answer the re-attach
    this.link.unregister(this.reply);
    this.reply = this.link.register(this);
    // `expected` stays: the host replays from the client's ack, and what was relayed already is dropped.
    this.resumeOn();
  }

  /** Frames were lost: re-attach, unless a re-attach is already on its way (its open has not come). */
  private gap(): void {
    if (!this.reattaching) this.reattach();
  }

  /** Re-sends a re-attach that found no subscriber, once the sweep sees the host alive again; true if it did. */
  retry(): boolean {
    if (!this.retryReattach) return false;
    this.reattach();
    return true;
  }

  /** Asks the stream's host to send it to this entry's inbox, replaying from the client's ack (a resume or a re-attach). */
  resumeOn(): void {
    this.assertion = this.link.assert(this.reply, this.identity);
    this.beatsAtSend = this.link.beats(this.host!);
    const fields = { [Header.key]: this.key!, [Header.ack]: this.ack, [Header.upTo]: this.upTo };
    const sent = this.link.control(this.host!, Op.resume, fields, { identity: this.identity, reply: this.reply, assertion: this.assertion });
    if (!sent) this.fail(errorBody(ErrorCode.STREAM_LOST, 'the stream could not be asked for (NATS refused the message)'));
  }

  private opened(host: string, key: string): void {
    if (!isNodeId(host) || !HOST_KEY.test(key)) throw new Error('an open frame without host or key');
    this.host = host;
    this.key = key;
    this.link.seen(host);
    if (this.afterOpen) {
      this.control(this.afterOpen === 'cancel' ? Op.cancelStream : Op.detach, {});
      return this.close();
    }
    this.reattaching = false;
    const first = this.state === 'opening';
    this.state = 'open';
    if (!this.announced) {
      this.announced = true;
      this.sink.opened(host + key);
    }
    // Credit the client granted while the open travelled.
    if (first && (this.ack > 0 || this.upTo > 0)) this.control(Op.grant, { [Header.upTo]: this.upTo, [Header.ack]: this.ack });
  }

  private items(seq: number, n: number, data: Uint8Array): void {
    if (seq + n <= this.expected) return; // a replayed batch, already relayed
    if (seq > this.expected) return this.gap();
    // A replayed batch may start below `expected` (a resume from an ack inside it): the client skips what it has.
    this.expected = seq + n;
    this.sink.items(seq, unpackPayload(data, this.link.maxAttachments), n);
  }

  private ended(total: number, error: ErrorBody | undefined): void {
    if (total > this.expected) return this.gap();
    this.finished = true;
    if (error) this.sink.fail(error, total);
    else this.sink.end(total);
  }

  private released(): void {
    this.close();
    // A host that lets go of a stream it never ended (its own cancel, a forged one) must not leave the client waiting.
    if (!this.finished) this.sink.fail(errorBody(ErrorCode.STREAM_LOST, 'the object host let go of the stream before it ended'), this.expected);
    this.sink.released();
  }

  private noResponders(): void {
    // No host listens on the object (open) or on the host's control subject (resume, re-attach).
    if (this.state === 'opening' && !this.key && this.resend) {
      const resend = this.resend;
      this.resend = undefined;
      this.host = undefined;
      this.since = this.link.now();
      this.beatsAtSend = undefined; // sent to the group: no host to hold to account
      const sent = resend(); // never delivered (NATS says so): the group may have another host
      return sent === 'sent' ? undefined : this.fail(refusedSend(sent, this.object));
    }
    if (this.state === 'opening' && !this.key) return this.fail(unavailable(this.object));
    if (this.state === 'opening') return this.fail(errorBody(ErrorCode.STREAM_LOST, 'no stream to resume for this key'));
    this.retryReattach = true;
  }

  private leave(how: 'cancel' | 'detach'): void {
    if (!this.live) return;
    if (this.state === 'opening' && !this.key) {
      this.afterOpen = how; // the host has not named the stream yet: tell it once it does
      return;
    }
    this.control(how === 'cancel' ? Op.cancelStream : Op.detach, {});
    this.close();
  }

  private fail(error: ErrorBody): void {
    if (this.state === 'closed') return;
    const gone = this.afterOpen !== undefined; // cancelled or detached already: nobody to tell
    this.close();
    if (gone) return;
    this.sink.fail(error, this.expected);
    this.sink.released();
  }

  private control(op: string, fields: Record<string, string | number>): void {
    if (this.host && this.key) this.link.control(this.host, op, { [Header.key]: this.key, [Header.call]: this.reply, ...fields }, { assertion: this.assertion });
  }

  private close(): void {
    this.state = 'closed';
    this.link.unregister(this.reply);
  }
}
