/**
 * Background traffic through gateway A while the NATS lane forges messages: calls that stay in flight
 * a while, session objects, callbacks, server references and slowly consumed streams, so that the
 * insider learns live reply subjects, keys, connections and references to aim at. Its answers are not
 * checked (forged answers may legitimately reach it); it reconnects whenever its connection is closed,
 * under a new subject each time (a forged revocation may have named the last one).
 */
import { callback, type UplinkClient } from '../../src/client/index.js';
import { client } from '../support/gateway.js';

interface Tally { add(n: number): number }
interface Relay { callMe(fn: unknown, x: number): Promise<number>; openTally(): Promise<Tally> }

export class Workload {
  private running = true;
  private c: UplinkClient | undefined;
  private generation = 0;
  readonly counts = { calls: 0, failures: 0, reconnects: 0 };
  private readonly loops: Array<Promise<void>> = [];

  constructor(private readonly url: () => string, private readonly token: (subject: string) => Promise<string>) {}

  start(parallel = 3): void {
    for (let i = 0; i < parallel; i++) this.loops.push(this.loop(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.c?.close().catch(() => {});
  }

  private async loop(lane: number): Promise<void> {
    for (let round = 0; this.running; round++) {
      try {
        const c = await this.connection();
        await this.step(c, lane, round);
        this.counts.calls++;
      } catch {
        this.counts.failures++;
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private async step(c: UplinkClient, lane: number, round: number): Promise<void> {
    switch ((lane + round) % 5) {
      case 0: await c.call('echo', 'slow', [150]); break;
      case 1: await c.proxy<Relay>('relay').callMe(callback((x: number) => x * 2), round); break;
      case 2: await (await c.proxy<Relay>('relay').openTally()).add(1); break;
      case 3: {
        let n = 0;
        for await (const _ of c.stream('ticker', 'watch', ['W', 20], { window: 4 })) if (++n >= 8) break;
        break;
      }
      default: await c.call('counter', 'increment', [1]);
    }
  }

  private async connection(): Promise<UplinkClient> {
    if (this.c?.isOpen) return this.c;
    const generation = ++this.generation;
    await this.c?.close().catch(() => {});
    const c = await client(this.url(), { token: await this.token(`workload-${generation}`), timeoutMs: 5_000 });
    if (generation !== this.generation) {
      await c.close();
      return this.connection();
    }
    this.counts.reconnects++;
    this.c = c;
    return c;
  }
}
