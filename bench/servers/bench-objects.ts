/** The bench object every Uplink bench server registers (in the gateway, or on a host behind NATS). */
import { expose } from '../../src/index.js';

export class Bench {
  /** n small items as fast as the consumer's credit allows. */
  @expose *count(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }

  /** A full garbage collection (the bench starts servers with --expose-gc), so RSS readings compare settled heaps. */
  @expose collect(): boolean {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    return gc !== undefined;
  }
}
