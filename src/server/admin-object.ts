/**
 * The built-in `$admin` object (GatewayOptions.adminScope): what an operator sees and does over Uplink
 * itself, no second protocol. Registered with an access rule, so a caller without the scope gets
 * UNKNOWN_OBJECT and `$uplink` does not even list it. Figures are this gateway's: in a cluster, each
 * gateway answers for its own connections (streams of hosts behind NATS are not listed here).
 */
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import { expose } from '../host/expose.js';
import type { ServerStream } from '../streams/server-stream.js';
import type { GatewayMetrics } from './metrics.js';

export const ADMIN_OBJECT_ID = '$admin';

/** What the admin view shows of one connection. */
export interface ConnectionSummary {
  id: string; subject: string | null; address: string; ageSec: number;
  /** Calls and streams admitted so far, calls in flight now (a batch counts its calls), streams open now. */
  calls: number; inflight: number; streams: number;
  bytesIn: number; bytesOut: number;
}

/** What the admin object reads and does, from its gateway. */
export interface AdminFacts {
  connections(): Iterable<{ describe(): ConnectionSummary }>;
  streams(): Iterable<ServerStream>;
  metrics: GatewayMetrics | undefined;
  revoke(subject: string): number;
  uptimeMs(): number;
}

export interface MemberFigures { object: string; member: string; calls: number; errors: number; meanMs: number }

export class AdminObject {
  constructor(private readonly facts: AdminFacts) {}

  /** Totals at a glance. */
  @expose summary(): { connections: number; streams: number; uptimeSec: number; metrics: boolean } {
    let connections = 0;
    for (const _ of this.facts.connections()) connections++;
    let streams = 0;
    for (const _ of this.facts.streams()) streams++;
    return { connections, streams, uptimeSec: Math.round(this.facts.uptimeMs() / 1000), metrics: this.facts.metrics !== undefined };
  }

  /** Live connections: subject, address, age, calls, streams, bytes (at most `limit`, oldest first). */
  @expose connections(limit = 200): ConnectionSummary[] {
    const all: ConnectionSummary[] = [];
    for (const c of this.facts.connections()) {
      if (all.length >= Math.min(Math.max(1, Number(limit) || 200), 2_000)) break;
      all.push(c.describe());
    }
    return all;
  }

  /** Per member: calls, errors and mean latency, from the metrics (empty when metrics are off). */
  @expose members(): MemberFigures[] {
    const byMember = new Map<string, MemberFigures & { seconds: number }>();
    for (const series of this.facts.metrics?.callTotals() ?? []) {
      const key = `${series.object}\u0000${series.member}`;
      let row = byMember.get(key);
      if (!row) byMember.set(key, (row = { object: series.object, member: series.member, calls: 0, errors: 0, meanMs: 0, seconds: 0 }));
      row.calls += series.count;
      row.seconds += series.seconds;
      if (series.code !== 'OK') row.errors += series.count;
    }
    return [...byMember.values()]
      .map(({ seconds, ...row }) => ({ ...row, meanMs: row.calls > 0 ? Math.round((seconds / row.calls) * 1e6) / 1e3 : 0 }))
      .sort((a, b) => b.calls - a.calls);
  }

  /** Open streams of this gateway's own objects, with their credit state. */
  @expose streams(limit = 200): ReturnType<ServerStream['snapshot']>[] {
    const all = [];
    for (const stream of this.facts.streams()) {
      if (all.length >= Math.min(Math.max(1, Number(limit) || 200), 2_000)) break;
      all.push(stream.snapshot());
    }
    return all;
  }

  /** Disconnects every connection of `subject` (close 4409) and refuses its tokens from now on. */
  @expose revoke(subject: string): number {
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'revoke takes a subject');
    return this.facts.revoke(subject);
  }
}
