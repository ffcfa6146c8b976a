/**
 * One NATS connection per role of docs/nats-server.conf (uplink-gateway, uplink-host, uplink-ops),
 * publishing filled templates and counting per role what happened: published (by kind), refused by
 * the client library before sending (size, header syntax), refused by the server (permissions),
 * replies received on the role's own inbox. The gateway and host connections also listen where
 * their role may, to teach the insider (insider.ts), without answering anything.
 */
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { FuzzCluster, Role } from './fuzz-cluster.js';
import type { Insider } from './insider.js';
import { knownNats } from './known-faults.js';
import type { NatsTemplate } from './nats-messages.js';

/** A message as it was published (for a report). */
export interface Published { role: Role; kind: string; subject: string; reply?: string; headers: Array<[string, string]>; bytes: number; data: string }

export interface RoleStats { published: Record<string, number>; refusedByClient: Record<string, number>; skippedAsKnownFaults: Record<string, number>; serverErrors: number; replies: number }

export const ROLES: Role[] = ['gateway', 'host', 'ops'];

export class RoleConnections {
  readonly stats = Object.fromEntries(ROLES.map((r) => [r, { published: {}, refusedByClient: {}, skippedAsKnownFaults: {}, serverErrors: 0, replies: 0 } as RoleStats])) as Record<Role, RoleStats>;

  private following: Subscription | undefined;

  private constructor(private readonly conns: Record<Role, NatsConnection>, private readonly insider: Insider, private readonly skipKnown: boolean) {}

  static async open(cluster: FuzzCluster, insider: Insider, skipKnown = false): Promise<RoleConnections> {
    const [gateway, host, ops] = await Promise.all(ROLES.map((r) => cluster.connectAs(r, `fuzz-${r}`)));
    const roles = new RoleConnections({ gateway: gateway!, host: host!, ops: ops! }, insider, skipKnown);
    const on = (role: Role, subject: string, handle: (msg: import('@nats-io/transport-node').Msg) => void) =>
      roles.conns[role].subscribe(subject, { callback: (error, msg) => { if (!error) handle(msg); } });
    on('gateway', '_U.>', (msg) => insider.learnInbox(msg));
    on('gateway', '_INBOX.fuzz-gateway.>', () => void roles.stats.gateway.replies++);
    on('ops', '_INBOX.fuzz-ops.>', () => void roles.stats.ops.replies++);
    on('host', 'uplink.call.>', (msg) => insider.learnCall(msg));
    roles.follow(cluster.hostId);
    for (const role of ROLES) void roles.countErrors(role);
    await Promise.all(ROLES.map((r) => roles.conns[r].flush()));
    return roles;
  }

  /**
   * Listens to the real host's own subjects (its pinned calls and control messages), not to
   * `uplink.host.*.>`: a subscriber there would swallow calls to the made-up hosts of forged beats,
   * which must get NATS's 503 (no responders) for the gateway to send them to the real host instead.
   */
  follow(hostId: string): void {
    this.following?.unsubscribe();
    this.following = this.conns.host.subscribe(`uplink.host.${hostId}.>`, { callback: (error, msg) => { if (!error) this.insider.learnCall(msg); } });
  }

  /** Fills and publishes one template as its role; undefined when the client library refused it. */
  publish(t: NatsTemplate): Published | undefined {
    const stats = this.stats[t.role];
    const nc = this.conns[t.role];
    this.insider.begin();
    const fill = (text: string) => this.insider.fill(text.replaceAll('{inbox}', `_INBOX.fuzz-${t.role}.{n}`));
    const subject = fill(t.subject);
    const reply = t.reply === undefined ? undefined : fill(t.reply);
    const filled = t.headers.map(([name, value]): [string, string] => [name, fill(value)]);
    const headerBytes = filled.reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v) + 4, 12);
    const data = this.insider.data(t.data, nc.info?.max_payload ?? 1 << 20, headerBytes + subject.length + (reply?.length ?? 0));
    const known = this.skipKnown ? knownNats({ role: t.role, subject, reply, headers: filled, data }) : undefined;
    if (known) {
      stats.skippedAsKnownFaults[known] = (stats.skippedAsKnownFaults[known] ?? 0) + 1;
      return undefined;
    }
    try {
      const h = natsHeaders();
      for (const [name, value] of filled) h.append(name, value);
      nc.publish(subject, data, { ...(filled.length > 0 ? { headers: h } : {}), ...(reply ? { reply } : {}) });
    } catch (error) {
      const reason = (error as Error).message.slice(0, 60).replace(/\d+/g, 'N');
      stats.refusedByClient[reason] = (stats.refusedByClient[reason] ?? 0) + 1;
      return undefined;
    }
    stats.published[t.kind] = (stats.published[t.kind] ?? 0) + 1;
    return { role: t.role, kind: t.kind, subject, ...(reply ? { reply } : {}), headers: filled, bytes: data.byteLength, data: Buffer.from(data.subarray(0, 300)).toString('latin1') };
  }

  async flush(): Promise<void> {
    await Promise.all(ROLES.map((r) => this.conns[r].flush().catch(() => {})));
  }

  async close(): Promise<void> {
    await Promise.all(ROLES.map((r) => this.conns[r].close().catch(() => {})));
  }

  /** Permission violations and other server errors arrive as status events. */
  private async countErrors(role: Role): Promise<void> {
    for await (const status of this.conns[role].status()) if (status.type === 'error') this.stats[role].serverErrors++;
  }
}
