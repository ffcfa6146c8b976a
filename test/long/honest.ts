/**
 * The honest client that runs alongside the fuzzers, with the real Uplink client: every answer it gets
 * must be correct. A call, a stream, a callback and the `$uplink` listing cover the paths a fault
 * would break (a dead or deaf NATS subscription shows as a host missing from the listing or a stream
 * failing HOST_LOST, not as a crash).
 *
 * Invariant: `check` resolves with undefined or with what went wrong; it never throws.
 */
import { callback, type UplinkClient } from '../../src/client/index.js';
import { client } from '../support/gateway.js';

/** The fixtures' objects an anonymous-scoped caller may list (admin needs the admin scope). */
const LISTED = ['$uplink', 'calc', 'counter', 'echo', 'numbers', 'relay', 'ticker'];
/** A listing may miss a host for a moment (its beat was overtaken by a forged one): it must come back within this. */
const LISTING_GRACE_MS = 3_000;

interface Calc { add(a: number, b: number): number }
interface Relay { callMe(fn: unknown, x: number): Promise<number> }
interface Builtin { list(pattern?: string): string[] }

export class HonestClient {
  checks = 0;

  private constructor(private readonly where: string, private c: UplinkClient, private readonly url: string, private readonly token: string) {}

  static async connect(where: string, url: string, token: string): Promise<HonestClient> {
    return new HonestClient(where, await client(url, { token, timeoutMs: 10_000 }), url, token);
  }

  /** After a restart of the gateway it talks to. */
  async reconnect(url = this.url): Promise<void> {
    await this.c.close().catch(() => {});
    this.c = await client(url, { token: this.token, timeoutMs: 10_000 });
  }

  /** `round` varies the arguments; the full check (stream, callback, listing) runs every `fullEvery` rounds. */
  async check(round: number, fullEvery = 10): Promise<string | undefined> {
    this.checks++;
    try {
      const sum = await this.c.proxy<Calc>('calc').add(round, 1);
      if (sum !== round + 1) return `${this.where}: calc.add(${round}, 1) answered ${JSON.stringify(sum)}`;
      if (round % fullEvery !== 0) return undefined;
      const items: unknown[] = [];
      for await (const item of this.c.stream('numbers', 'range', [20])) items.push(item);
      if (JSON.stringify(items) !== JSON.stringify(Array.from({ length: 20 }, (_, i) => i))) return `${this.where}: numbers.range(20) gave ${JSON.stringify(items)}`;
      const called = await this.c.proxy<Relay>('relay').callMe(callback((x: number) => x * 2), round);
      if (called !== round * 2 + 1) return `${this.where}: relay.callMe(x => 2x, ${round}) answered ${JSON.stringify(called)}`;
      return await this.listing();
    } catch (error) {
      return `${this.where}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`;
    }
  }

  close(): Promise<void> {
    return this.c.close().catch(() => {});
  }

  private async listing(): Promise<string | undefined> {
    const deadline = Date.now() + LISTING_GRACE_MS;
    for (;;) {
      const listed = await this.c.proxy<Builtin>('$uplink').list();
      if (JSON.stringify(listed) === JSON.stringify(LISTED)) return undefined;
      if (Date.now() > deadline) return `${this.where}: $uplink.list() answered ${JSON.stringify(listed)} for ${LISTING_GRACE_MS} ms`;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
