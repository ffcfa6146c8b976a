/**
 * The objects of the failure drills' host processes (`uplink host test/support/cluster-objects.ts`).
 * Each answer names the host process (UPLINK_HOST_NAME), so a test sees where a call ran.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { callContext, expose } from '../../src/index.js';

const hostName = () => process.env.UPLINK_HOST_NAME ?? 'unnamed';

/** One instance per connection (session mode): a connection's calls stay on one host. */
export class Desk {
  @expose where(): string {
    return hostName();
  }

  @expose async slow(ms: number): Promise<string> {
    await delay(Math.min(Number(ms) || 0, 30_000), undefined, { signal: callContext().signal }).catch(() => undefined);
    return hostName();
  }

  /** 0, 1, 2, ... every intervalMs, until cancelled. */
  @expose async *ticks(intervalMs = 20): AsyncGenerator<{ seq: number; host: string }> {
    const signal = callContext().signal;
    for (let seq = 0; !signal.aborted; seq++) {
      yield { seq, host: hostName() };
      await delay(Math.max(5, Number(intervalMs) || 20), undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Shared by every connection: calls go wherever NATS sends them. */
export class Anywhere {
  @expose where(): string {
    return hostName();
  }
}

export default (registrar: { register(target: object, id: string): string }) => {
  registrar.register(Desk, 'desk');
  registrar.register(new Anywhere(), 'anywhere');
};
