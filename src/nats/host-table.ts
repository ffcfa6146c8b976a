/**
 * What a gateway knows about the object hosts of its cluster, from their heartbeats
 * (`uplink.evt.host.<id>`, every heartbeat period) and from any message they send. A host not heard
 * from for `deadAfterMs` is dead: the gateway fails what it had running there with HOST_LOST (killed,
 * frozen and cut-off hosts look the same from here). Pure bookkeeping on an injected clock.
 *
 * Invariants: beats arrive parsed and bounded (host-beat.ts); what one host declares (access rules,
 * members) is kept per host and never overrides another host's; the set of known objects is bounded.
 * After this side's NATS connection comes back, every host gets a full liveness bound again
 * (`restartClock`): silence during our own outage is not a host's death.
 */
import type { ClaimNames, ObjectAccess } from '../auth/access.js';
import type { Clock } from '../clock.js';
import type { HostBeat } from './host-beat.js';

export type { HostBeat, HostState } from './host-beat.js';

interface Entry {
  beat: HostBeat | undefined;
  lastSeen: number;
  /** Beats taken from it so far (see beats()). */
  beats: number;
}

export interface BeatChange {
  joined: boolean;
  /** Its connection came back since the last beat. */
  reconnected: boolean;
}

/** Object names remembered as existing (a host may announce many; the set must stay bounded). */
const MAX_KNOWN_OBJECTS = 65_536;
/** Hosts (or gateways) tracked at once: one participant inventing ids must not grow the table without bound. */
export const MAX_HOSTS = 1_024;

export class HostTable {
  private readonly hosts = new Map<string, Entry>();
  /**
   * Up hosts by object, kept in step beat by beat (a host's change costs its own objects, never a
   * rebuild over every host); what each host is indexed under; a round-robin turn.
   */
  private readonly byObject = new Map<string, string[]>();
  private readonly indexed = new Map<string, readonly string[]>();
  private turn = 0;
  /** Hosts that left a call unanswered past the liveness bound while beating: not picked until then. */
  private readonly suspects = new Map<string, number>();
  /** Every object a host has served since this gateway started: the others do not exist (UNKNOWN_OBJECT). */
  private readonly known = new Set<string>();

  constructor(private readonly clock: Clock, readonly deadAfterMs: number) {}

  beat(beat: HostBeat): BeatChange {
    const entry = this.hosts.get(beat.id);
    if (!entry && this.hosts.size >= MAX_HOSTS) return { joined: false, reconnected: false }; // full: a new id is not believed
    const previous = entry?.beat;
    this.reindex(beat.id, beat.state === 'up' ? beat.objects : undefined);
    const beats = (entry?.beats ?? 0) + 1;
    if (beat.state === 'gone') {
      // A clean exit: nothing it had running will answer; the next sweep reports it.
      this.hosts.set(beat.id, { beat, lastSeen: -Infinity, beats });
      return { joined: false, reconnected: false };
    }
    this.hosts.set(beat.id, { beat, lastSeen: this.clock.now(), beats });
    for (const object of beat.objects) if (this.known.size < MAX_KNOWN_OBJECTS) this.known.add(object);
    return { joined: previous === undefined, reconnected: previous !== undefined && beat.reconnects !== previous.reconnects };
  }

  /** Any message from a host shows it alive (it may not have beaten yet). */
  seen(id: string): void {
    const entry = this.hosts.get(id);
    if (entry) {
      if (entry.lastSeen !== -Infinity) entry.lastSeen = this.clock.now();
    } else if (this.hosts.size < MAX_HOSTS) this.hosts.set(id, { beat: undefined, lastSeen: this.clock.now(), beats: 0 });
  }

  alive(id: string): boolean {
    const entry = this.hosts.get(id);
    return entry !== undefined && this.clock.now() - entry.lastSeen <= this.deadAfterMs;
  }

  /** Removes and returns the hosts not heard from within deadAfterMs (or gone). */
  sweep(): string[] {
    const now = this.clock.now();
    const dead: string[] = [];
    for (const [id, entry] of this.hosts) {
      if (now - entry.lastSeen > this.deadAfterMs) {
        dead.push(id);
        this.hosts.delete(id);
        this.reindex(id, undefined);
        this.suspects.delete(id);
      }
    }
    return dead;
  }

  /** Live hosts that have beaten, with their last beat. */
  live(): HostBeat[] {
    const now = this.clock.now();
    return [...this.hosts.values()].filter((e) => e.beat && now - e.lastSeen <= this.deadAfterMs).map((e) => e.beat!);
  }

  /**
   * Whether `object` may exist: some host served it since this gateway started, or no host has beaten
   * yet (a gateway that just started asks the queue group). An object no host ever served answers like
   * a missing object in one process; one whose hosts are all gone is OBJECT_UNAVAILABLE.
   */
  mayServe(object: string): boolean {
    return this.known.size === 0 || this.known.has(object);
  }

  /** Whether some host served `object` since this gateway started. */
  knows(object: string): boolean {
    return this.known.has(object);
  }

  /**
   * The access rule `host` declared for `object` (a call goes to that host, which checks the same rule
   * again); without a host (the queue group), the rule of any live host that declared one.
   */
  accessOf(object: string, host?: string): { rule: ObjectAccess; claimNames: ClaimNames } | undefined {
    if (host !== undefined) return this.hosts.get(host)?.beat?.access?.[object];
    for (const beat of this.live()) if (beat.access?.[object]) return beat.access[object];
    return undefined;
  }

  /** Whether a live host declared `member` on `object` (metrics name only declared members). */
  declaresMember(object: string, member: string): boolean {
    for (const entry of this.hosts.values()) if (entry.beat?.members?.[object]?.includes(member)) return true;
    return false;
  }

  /**
   * How many beats of `id` this side has taken. A host's messages arrive in the order it sent them, so
   * once two more of its beats have been read after a call was sent, anything it said about the call
   * (accepted within its tick, or the answer) has been read too: its silence is then deliberate, and
   * not this side's own slowness (a flooded event loop reads everything late, beats included).
   */
  beats(id: string): number {
    return this.hosts.get(id)?.beats ?? 0;
  }

  /** `id` left a call unanswered past the liveness bound: no new calls are sent to it for `forMs`. */
  suspect(id: string, forMs: number): void {
    this.suspects.set(id, this.clock.now() + forMs);
  }

  private suspected(id: string): boolean {
    const until = this.suspects.get(id);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.suspects.delete(id);
    return false;
  }

  /** This side's NATS connection came back: every host gets a whole liveness bound to beat again. */
  restartClock(): void {
    const now = this.clock.now();
    for (const entry of this.hosts.values()) if (entry.lastSeen !== -Infinity) entry.lastSeen = Math.max(entry.lastSeen, now);
  }

  /** Hosts known now (live or not yet swept). */
  get size(): number {
    return this.hosts.size;
  }

  /** A live host serving `object`, for metadata questions. */
  hostOf(object: string): string | undefined {
    return this.live().find((beat) => beat.state === 'up' && beat.objects.includes(object))?.id;
  }

  /**
   * The host for a new call to `object`: the live, undrained hosts serving it, in turn; undefined when
   * none is known (the caller falls back to the queue group). The gateway picks instead of NATS so
   * that a host it considers dead (a frozen process the server still routes to) gets no new calls.
   */
  pick(object: string): string | undefined {
    const candidates = this.byObject.get(object);
    if (!candidates) return undefined;
    // A host found dead between sweeps is skipped (the sweep takes it out of the index).
    for (let i = 0; i < candidates.length; i++) {
      const host = candidates[this.turn++ % candidates.length]!;
      if (this.alive(host) && !this.suspected(host)) return host;
    }
    return undefined;
  }

  /** Puts `id` under `objects` (undefined: under none), undoing what it was indexed under before. */
  private reindex(id: string, objects: readonly string[] | undefined): void {
    const before = this.indexed.get(id);
    if (before === objects || (before && objects && sameList(before, objects))) return;
    for (const object of before ?? []) {
      const hosts = this.byObject.get(object);
      const at = hosts?.indexOf(id) ?? -1;
      if (at >= 0) hosts!.splice(at, 1);
      if (hosts?.length === 0) this.byObject.delete(object);
    }
    if (!objects) {
      this.indexed.delete(id);
      return;
    }
    this.indexed.set(id, objects);
    for (const object of new Set(objects)) {
      const hosts = this.byObject.get(object);
      if (hosts) hosts.push(id);
      else this.byObject.set(object, [id]);
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
