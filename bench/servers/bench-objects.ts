/** The bench object every Uplink bench server registers (in the gateway, or on a host behind NATS). */
import { expose, remote, type ClientCallback } from '../../src/index.js';

/** What `open()` hands out by reference: calls to it cost what calls to a registered object cost. */
export class Tally {
  total = 0;
  @expose add(a: number, b: number): number {
    return a + b;
  }
}

export class Bench {
  /** n small items as fast as the consumer's credit allows. */
  @expose *count(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  /** The same items from an async generator, as users write them (they await I/O between items). */
  @expose async *countAsync(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  /** Calls the client back once and answers with its answer: one call plus one callback round trip. */
  @expose async callMe(fn: ClientCallback<(x: number) => number>, x: number): Promise<number> {
    return fn(x);
  }

  /** A server reference (one per connection in the bench; its calls are the `ref call` rows). */
  @expose open(): Tally {
    return remote(new Tally());
  }

  /** A full garbage collection (the bench starts servers with --expose-gc), so RSS readings compare settled heaps. */
  @expose collect(): boolean {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    return gc !== undefined;
  }
}
