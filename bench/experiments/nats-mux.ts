/**
 * `npm run bench:nats-mux`: the cost of one call through the gateway's NATS mux (NatsObjectHost)
 * against nats.js's own request(), both with a trivial responder in this process on a real
 * nats-server, 256 calls in flight. CPU per call counts both sides (this is one process).
 */
import { connect } from '@nats-io/transport-node';
import { CallContext } from '../../src/core/context.js';
import { NatsObjectHost } from '../../src/nats/index.js';
import { encodeAnswer } from '../../src/nats/call-envelope.js';
import { startNatsServer } from '../../test/support/nats-server.js';

const CALLS = 100_000;
const INFLIGHT = 256;
const server = await startNatsServer();
const [gatewayNats, hostNats] = await Promise.all([connect({ servers: server.url, noAsyncTraces: true }), connect({ servers: server.url, noAsyncTraces: true })]);
hostNats.subscribe('uplink.call.calc', {
  queue: 'uplink',
  // An answer as hosts send it (call-envelope.ts): the head, then the packed result "3".
  callback: (_error, msg) => hostNats.publish(msg.reply!, encodeAnswer({ e: 'ok' }, new Uint8Array([0, 0, 0, 1, 51]))),
});
hostNats.subscribe('echo', { callback: (_error, msg) => void msg.respond(new Uint8Array([1])) });
await hostNats.flush();

const remote = new NatsObjectHost(gatewayNats);
const connection = { id: 'c0', remoteAddress: '127.0.0.1', identity: { subject: 'bench', claims: {} }, track() {} };
const viaMux = () => new Promise<void>((resolve, reject) => remote.invoke(
  { object: 'calc', member: 'add', kind: 'call', oneway: false, args: { text: '[1,2]' }, context: new CallContext(connection, 'c0.1', undefined, Date.now() + 30_000) },
  { resolve: () => resolve(), reject: (e) => reject(new Error(e.message)) },
));
const viaRequest = async () => void (await gatewayNats.request('echo', new Uint8Array([1]), { timeout: 30_000 }));

async function measure(name: string, call: () => Promise<void>): Promise<void> {
  const run = async (n: number) => {
    let started = 0;
    await Promise.all(Array.from({ length: INFLIGHT }, async () => {
      while (started++ < n) await call();
    }));
  };
  await run(CALLS / 5);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(CALLS);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${name.padEnd(22)} ${String(Math.round(CALLS / seconds)).padStart(7)} calls/s  ${((cpu.user + cpu.system) / CALLS).toFixed(1)} us CPU per call (both sides)`);
}

await measure('NatsObjectHost mux', viaMux);
await measure('nats.js request()', viaRequest);
remote.shutdown();
await Promise.all([gatewayNats.close(), hostNats.close()]);
await server.stop();
