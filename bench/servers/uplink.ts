/** The Uplink gateway under test: demo objects plus a bench object, HS256 authentication, a free loopback port. */
import { Gateway, JwtAuthenticator, expose } from '../../src/index.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { BENCH_SECRET } from './bench-secret.js';


class Bench {
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

// BENCH_TLS_CERT / BENCH_TLS_KEY: the same gateway on wss:// (the uplink-wss rows).
const tls = process.env.BENCH_TLS_CERT && process.env.BENCH_TLS_KEY ? { certFile: process.env.BENCH_TLS_CERT, keyFile: process.env.BENCH_TLS_KEY } : undefined;
const gateway = new Gateway({
  port: 0, logLevel: 'warn', maxPayloadLength: 16 * 1024 * 1024, maxInflight: 256, maxConnections: 1_000_000, ...(tls ? { tls } : {}),
  authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: BENCH_SECRET }),
});
registerDemoObjects(gateway);
gateway.register(new Bench(), 'bench');
await gateway.listen();
console.log(`ready ${gateway.port}`);
