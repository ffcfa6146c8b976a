/**
 * The live streams of an object host, by resume key and by owner. A key is 144 random bits: knowing a
 * stream's numeric id (or guessing) is useless, and a key only resumes for the identity that opened it.
 *
 * Invariants, so that streams left behind by dropped sockets cannot grow memory without bound:
 * - an owner (a subject, or the address of anonymous callers) has at most `maxPerOwner` lingering
 *   streams: one more and its oldest lingering stream is cancelled;
 * - an authenticated subject has at most `maxPerOwner` live streams (open, lingering or awaiting their
 *   final ack): at the cap its oldest lingering stream makes room, and with none lingering the new
 *   stream is refused (anonymous callers are bounded per connection instead, since many of them can
 *   share one address behind a proxy);
 * - the host has at most `maxTotal` live streams: at the cap the oldest lingering stream of anyone
 *   makes room (nobody reads it), and with none lingering the new stream is refused.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../core/context.js';
import type { ServerStream } from './server-stream.js';

export interface StreamCaps {
  /** Live streams per subject; lingering streams per subject or anonymous address. */
  maxPerOwner: number;
  /** Live streams in all. */
  maxTotal: number;
}

/** Who a stream counts against: the subject within its issuer, or the address of an anonymous caller. */
export function streamOwnerKey(identity: Identity | undefined, remoteAddress: string): string {
  return identity === undefined ? `\u0000anonymous\u0000${remoteAddress}` : `${identity.issuer ?? ''}\u0000${identity.subject}`;
}

/** Cancels the first lingering stream in `streams` (oldest first); false when none lingers. */
function evictOldestLingering(streams: Iterable<ServerStream>): boolean {
  for (const stream of streams) {
    if (!stream.lingering) continue;
    stream.cancel('evicted: too many streams');
    return true;
  }
  return false;
}

export class StreamRegistry {
  private readonly streams = new Map<string, ServerStream>();
  /** Streams per owner key, oldest first (a Set keeps insertion order). */
  private readonly byOwner = new Map<string, Set<ServerStream>>();

  constructor(private readonly caps: StreamCaps = { maxPerOwner: Infinity, maxTotal: Infinity }) {}

  newKey(): string {
    return randomBytes(18).toString('base64url');
  }

  /**
   * Whether one more stream may open for `ownerKey` (`authenticated`: the per-subject cap applies),
   * evicting a lingering stream where that makes room. Returns the reason for a refusal, or undefined.
   */
  admit(ownerKey: string, authenticated: boolean): string | undefined {
    if (this.streams.size >= this.caps.maxTotal && !evictOldestLingering(this.streams.values())) {
      return `the gateway holds ${this.caps.maxTotal} streams`;
    }
    const owned = this.byOwner.get(ownerKey);
    if (!authenticated || !owned || owned.size < this.caps.maxPerOwner) return undefined;
    return evictOldestLingering(owned) ? undefined : `more than ${this.caps.maxPerOwner} streams for this subject`;
  }

  /** A stream of this host started to linger: its owner keeps at most maxPerOwner lingering streams. */
  lingered(stream: ServerStream): void {
    const owned = this.byOwner.get(stream.ownerKey);
    if (!owned) return;
    let lingering = 0;
    for (const s of owned) if (s.lingering) lingering++;
    if (lingering > this.caps.maxPerOwner) evictOldestLingering(owned);
  }

  add(stream: ServerStream): void {
    this.streams.set(stream.key, stream);
    let owned = this.byOwner.get(stream.ownerKey);
    if (!owned) this.byOwner.set(stream.ownerKey, (owned = new Set()));
    owned.add(stream);
  }

  remove(stream: ServerStream): void {
    this.streams.delete(stream.key);
    const owned = this.byOwner.get(stream.ownerKey);
    if (!owned) return;
    owned.delete(stream);
    if (owned.size === 0) this.byOwner.delete(stream.ownerKey);
  }

  /** The stream for `key` if `identity` is the one that opened it (same subject and issuer). */
  claim(key: string, identity: Identity | undefined): ServerStream | undefined {
    const stream = this.streams.get(key);
    if (!stream?.live) return undefined;
    const owner = stream.owner;
    if (owner?.subject !== identity?.subject || owner?.issuer !== identity?.issuer) return undefined;
    return stream;
  }

  /** Cancels every stream whose owner matches (revocation): generators are closed, lingering streams too. */
  cancelOwnedBy(matches: (owner: Identity | undefined) => boolean, reason: string): number {
    let cancelled = 0;
    for (const stream of [...this.streams.values()]) {
      if (!matches(stream.owner)) continue;
      stream.cancel(reason);
      cancelled++;
    }
    return cancelled;
  }

  /** Cancels every stream (shutdown): generators are closed, lingering streams too. */
  cancelAll(): void {
    for (const stream of [...this.streams.values()]) stream.cancel('the gateway shut down');
  }

  /** Streams not yet closed (open, lingering, or ended and waiting to deliver their end). */
  /** Every live stream (for the admin view). */
  all(): IterableIterator<ServerStream> {
    return this.streams.values();
  }

  get size(): number {
    return this.streams.size;
  }

  /** Streams waiting for a resume after their connection dropped. */
  get lingering(): number {
    let count = 0;
    for (const stream of this.streams.values()) if (stream.lingering) count++;
    return count;
  }
}
