/**
 * One unary call waiting at the gateway for its answer from a host (call-envelope.ts: an answer is a
 * head and a body, no NATS headers). The host says `accepted` (with its id) when the call runs longer
 * than its accept tick; from then on a cancel reaches the method's
 * AbortSignal there, and the call fails HOST_LOST when that host dies instead of waiting out its
 * deadline. A call no host ever accepted fails the same way after the liveness bound.
 */
import type { Msg } from '@nats-io/transport-node';
import { ErrorCode, errorBody, type ErrorBody } from '../protocol/errors.js';
import type { ReplySink } from '../host/object-host.js';
import { Header, Op, readErrorPayload, unpackPayload } from './envelope.js';
import { decodeAnswer } from './call-envelope.js';
import { isNoResponders, type InboxEntry, type InboxLink } from './inbox-entry.js';
import { refusedSend, unavailable } from './call-routes.js';
import type { Sent } from './publish.js';

export interface CallOrigin {
  object: string;
  /** Set when the call went to a pinned host (a session object): a 503 there means the session is gone. */
  pinnedTo: string | undefined;
  /** Called with the answering host when the host says the object is pinned (session mode). */
  pin(host: string): void;
  /** The pinned host is gone: the next call starts a new session elsewhere. */
  unpin(): void;
  /** Set when the gateway picked the host itself (not pinned): its 503 means never delivered. */
  directTo?: string | undefined;
  /** Sends the call again through the queue group (after a direct send nobody received). */
  resend?: () => Sent;
  /** Result annotations from the host, for the gateway's result frame. */
  annotate(annotations: Record<string, string>): void;
  /** With cluster keys: the call's assertion, which its cancel carries (the host compares them). */
  assertion?: string | undefined;
}

export class RemoteCall implements InboxEntry {
  host: string | undefined;
  since: number;
  reply = '';
  unheard = true;
  readonly blamesHost = true;
  beatsAtSend: number | undefined;
  private settled = false;

  constructor(private readonly link: InboxLink, private readonly sink: ReplySink, private readonly origin: CallOrigin) {
    this.since = link.now();
    this.host = origin.pinnedTo ?? origin.directTo;
    this.beatsAtSend = this.host === undefined ? undefined : link.beats(this.host);
  }

  onMessage(msg: Msg): void {
    const h = msg.headers;
    if (isNoResponders(h)) return this.noResponders();
    // Answers to calls carry no NATS headers (call-envelope.ts): anything else on this inbox id is not one.
    if (h) return;
    let answer: ReturnType<typeof decodeAnswer>;
    try {
      answer = decodeAnswer(msg.data);
    } catch {
      return this.finish(errorBody(ErrorCode.INTERNAL, 'a malformed answer from an object host'));
    }
    this.unheard = false;
    const { head, body } = answer;
    if (head.h !== undefined) {
      this.host = head.h;
      this.link.seen(head.h);
      if (head.pin === 1) this.origin.pin(head.h);
    }
    switch (head.e) {
      case 'accepted': this.since = this.link.now(); return;
      case 'error': {
        const error = parseError(body, this.link.maxAttachments);
        if (error.code === ErrorCode.HOST_LOST && this.origin.pinnedTo) this.origin.unpin(); // its host is draining
        return this.finish(error);
      }
      case 'ok': {
        let value;
        try {
          value = unpackPayload(body, this.link.maxAttachments);
        } catch {
          return this.finish(errorBody(ErrorCode.INTERNAL, 'a malformed answer from an object host'));
        }
        if (head.n) this.origin.annotate(head.n);
        this.settle();
        this.sink.resolve(value);
        return;
      }
      default: return; // unknown events are ignored (a newer host)
    }
  }

  /** NATS says no host listens where the call went. */
  private noResponders(): void {
    if (this.origin.pinnedTo) return this.finish(this.sessionLost());
    if (this.origin.directTo && this.origin.resend) {
      // The picked host left before its beat said so; NATS proves the call was not delivered: send it to the group.
      this.origin.directTo = undefined;
      this.host = undefined;
      this.since = this.link.now();
      this.unheard = true;
      this.beatsAtSend = undefined; // sent to the group: no host to hold to account
      const sent = this.origin.resend();
      return sent === 'sent' ? undefined : this.finish(refusedSend(sent, this.origin.object));
    }
    return this.finish(unavailable(this.origin.object));
  }

  /** NATS refused to send it (larger than one message with its headers, or not connected). */
  refused(error: ErrorBody): void {
    this.finish(error);
  }

  hostLost(): void {
    if (this.origin.pinnedTo) this.origin.unpin();
    this.finish(errorBody(ErrorCode.HOST_LOST, 'the object host running this call stopped answering; the outcome is unknown'));
  }

  /** The caller gave up (cancel, deadline, connection closed): stop waiting, and stop the method where it runs. */
  abandon(): void {
    if (this.settled) return;
    this.settle();
    if (this.host) this.link.control(this.host, Op.cancel, { [Header.call]: this.reply }, { assertion: this.origin.assertion });
  }

  private sessionLost(): ErrorBody {
    this.origin.unpin();
    return errorBody(ErrorCode.HOST_LOST, `the object host holding this session of '${this.origin.object}' is gone; its state is lost`);
  }

  private finish(error: ErrorBody): void {
    if (this.settled) return;
    this.settle();
    this.sink.reject(error);
  }

  private settle(): void {
    this.settled = true;
    this.link.unregister(this.reply);
  }
}

function parseError(data: Uint8Array, maxAttachments: number): ErrorBody {
  try {
    return readErrorPayload(data, maxAttachments);
  } catch {
    return errorBody(ErrorCode.INTERNAL, 'a malformed error from an object host');
  }
}
