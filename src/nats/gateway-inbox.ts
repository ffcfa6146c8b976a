/**
 * The gateway's one NATS inbox (`_U.<gateway>.*`, the mux) and the liveness of what waits on it.
 * Every unary call and stream registers an entry under a fresh reply subject; answers and stream
 * frames come back there (one subscription, no timer per call). Once per heartbeat `sweep` fails what
 * ran on a dead host, and what a live host left unheard too long, with HOST_LOST.
 *
 * Invariants: every entry ends exactly once (answer, HOST_LOST, or the caller giving up, each of
 * which unregisters it); nothing is published while NATS is disconnected (nats.js would drop it
 * silently): `control` says false instead.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { b64json, controlHeaders, Header, Subject } from './envelope.js';
import type { HostTable } from './host-table.js';
import type { AssertionSigner } from './identity-assertion.js';
import type { InboxEntry, InboxLink } from './inbox-entry.js';
import { publish } from './publish.js';
import { RemoteStream } from './remote-stream.js';

/** Beats of a host read after a call was sent, with nothing heard about the call, that make the host silent on purpose. */
const SILENT_BEATS = 3;
/** How many liveness bounds a host that left a call unanswered is not picked for. */
const SUSPECT_BOUNDS = 10;

export interface GatewayInboxOptions {
  gatewayId: string;
  clock: Clock;
  hosts: HostTable;
  maxAttachments: number;
  signer: AssertionSigner | undefined;
  /** Whether NATS delivers what is published now. */
  connected: () => boolean;
  logger: () => Logger | undefined;
}

export class GatewayInbox {
  /** The reply subjects' prefix: `<subject>.<entry id>`. */
  readonly subject: string;
  /** What entries use to register, send control messages and read liveness. */
  readonly link: InboxLink;
  private readonly entries = new Map<string, InboxEntry>();
  private nextId = 0;

  constructor(private readonly nc: NatsConnection, private readonly options: GatewayInboxOptions) {
    this.subject = Subject.inbox(options.gatewayId);
    this.link = this.makeLink();
  }

  /** A message on the inbox: its entry's (a late answer finds none and is dropped). */
  onMessage(msg: Msg): void {
    this.entries.get(msg.subject)?.onMessage(msg);
  }

  /** Calls and streams waiting on the inbox now. */
  get size(): number {
    return this.entries.size;
  }

  /** The reply subjects waited on now (in registration order). */
  replySubjects(): string[] {
    return [...this.entries.keys()];
  }

  /** Streams relayed now (open, or re-attaching after a reconnect). */
  liveStreams(): number {
    let live = 0;
    for (const entry of this.entries.values()) if (entry instanceof RemoteStream) live++;
    return live;
  }

  /** A host beat again after a silence or restart: its streams re-attach (frames may have been lost). */
  hostReconnected(host: string): void {
    // A copy: a re-attaching stream moves to a new inbox id (a live Map iteration would visit it again).
    for (const entry of [...this.entries.values()]) if (entry.host === host) entry.reattach?.();
  }

  /** NATS came back: entries get a whole liveness bound from now, and streams re-attach. */
  reconnected(): void {
    const now = this.options.clock.now();
    for (const entry of [...this.entries.values()]) {
      entry.since = Math.max(entry.since, now);
      entry.reattach?.();
    }
  }

  /** Once per heartbeat (while connected): what ran on a dead host, or sits unheard on a live one, fails. */
  sweep(): void {
    const { hosts, clock } = this.options;
    const now = clock.now();
    for (const entry of [...this.entries.values()]) {
      const alive = entry.host !== undefined && hosts.alive(entry.host);
      if (!alive) {
        if (now - entry.since > hosts.deadAfterMs) entry.hostLost();
      } else if (!(entry instanceof RemoteStream && entry.retry()) && entry.unheard && this.silentFor(entry)) this.unanswered(entry);
    }
  }

  /** The gateway stops: everything still waiting fails with HOST_LOST. */
  shutdown(): void {
    for (const entry of [...this.entries.values()]) entry.hostLost();
    this.entries.clear();
  }

  /** Beats of the entry's host read since it was sent (counted in beats read, not time: see HostTable.beats). */
  private silentFor(entry: InboxEntry): boolean {
    return entry.beatsAtSend !== undefined && this.options.hosts.beats(entry.host!) - entry.beatsAtSend >= SILENT_BEATS;
  }

  /**
   * A host that beat SILENT_BEATS times but said nothing about a call (an honest host says `accepted`
   * within its accept tick): the call fails HOST_LOST, and the host gets no new calls for
   * SUSPECT_BOUNDS bounds, so a participant announcing objects it does not serve cannot hold calls.
   */
  private unanswered(entry: InboxEntry): void {
    const { hosts } = this.options;
    if (entry.blamesHost) {
      hosts.suspect(entry.host!, SUSPECT_BOUNDS * hosts.deadAfterMs);
      this.options.logger()?.warn({ host: entry.host }, 'object host left a call unanswered while beating: not picked for a while');
    }
    entry.hostLost();
  }

  private makeLink(): InboxLink {
    const { clock, hosts, signer, gatewayId, maxAttachments } = this.options;
    return {
      gatewayId, maxAttachments,
      now: () => clock.now(),
      register: (entry) => {
        const reply = `${this.subject}.${(this.nextId++).toString(36)}`;
        this.entries.set(reply, entry);
        return reply;
      },
      unregister: (reply) => void this.entries.delete(reply),
      control: (host, op, fields, options) => {
        if (!this.options.connected()) return false;
        let headers;
        try {
          headers = controlHeaders(op, fields);
        } catch {
          return false; // a field nats.js will not put in a header (checked before; never a throw here)
        }
        if (options?.identity) headers.set(Header.identity, b64json(options.identity));
        if (options?.assertion) headers.set(Header.assertion, options.assertion);
        // Control messages are small and bounded (ids, counts, the identity the gateway verified).
        return publish(this.nc, Subject.control(host), undefined, { headers, ...(options?.reply ? { reply: options.reply } : {}) }) === 'sent';
      },
      seen: (host) => hosts.seen(host),
      beats: (host) => hosts.beats(host),
      // A resume asks for a stream as an identity: with cluster keys, signed for the reply subject it names.
      assert: (subject, identity) => signer?.assertion(subject, identity, false),
    };
  }
}
