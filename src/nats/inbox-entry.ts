/**
 * What the gateway's one NATS inbox (`_U.<gateway>.*`) routes answers to: a unary call waiting for
 * its result, or a stream relaying frames. The mux (nats-object-host.ts) owns the table of entries
 * and the liveness sweep; an entry owns what its messages mean.
 */
import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import type { Identity } from '../core/context.js';

export interface InboxEntry {
  /** The host running it, once known (from an accepted, open or answer message). */
  host: string | undefined;
  /** When it was sent, or last heard of: an entry with no live host this long after is lost. */
  since: number;
  onMessage(msg: Msg): void;
  /** Its host died or never took it: fail it with HOST_LOST. */
  hostLost(): void;
  /** Frames may have been lost (a NATS reconnect): streams re-attach; calls ignore it. */
  reattach?(): void;
  /**
   * Sent to a host that has said nothing about it yet (no `accepted`, no answer, no `open`). An honest
   * host says something within its accept tick; one that stays silent through three of its own beats
   * (a rogue, or a host stuck since it took the call) gets no new calls for a while.
   */
  readonly unheard?: boolean;
  /** Whether the host's silence is its own doing (a call or a fresh open; not a client's resume). */
  readonly blamesHost?: boolean;
  /** The host's beat count (InboxLink.beats) when the entry was last sent to it. */
  readonly beatsAtSend?: number;
}

/** What entries need from the mux. */
export interface InboxLink {
  readonly gatewayId: string;
  now(): number;
  /** Adds an entry under a fresh inbox id; returns its reply subject. */
  register(entry: InboxEntry): string;
  unregister(reply: string): void;
  /** Sends a control message to a host (optionally with a reply subject for the answer); whether it left. */
  control(host: string, op: string, fields: Record<string, string | number>, options?: ControlOptions): boolean;
  /** With cluster keys: an assertion of `identity` bound to `subject` (a resume's reply subject); else undefined. */
  assert(subject: string, identity: Identity | undefined): string | undefined;
  /** A message from this host arrived: it is alive. */
  seen(host: string): void;
  /** How many of this host's beats have been read (HostTable.beats). */
  beats(host: string): number;
  maxAttachments: number;
}

export interface ControlOptions {
  identity?: Identity | undefined;
  /** Where the host answers (a resume). */
  reply?: string;
  /** With cluster keys: the assertion of the call or stream the message is about (hosts compare it). */
  assertion?: string | undefined;
}

export const NO_RESPONDERS = 503;

export function isNoResponders(headers: MsgHdrs | undefined): boolean {
  return headers?.code === NO_RESPONDERS;
}
