/**
 * A gateway whose objects live on an object host behind NATS, for running suites written against one
 * process (the hostile catalogue: `npm run test:hostile:nats`). `register()` on the gateway puts the
 * object on the host and serves it there, so every call a test makes crosses NATS; the host shares the
 * gateway's codec (registered classes and errors) and limits. One nats-server per test process.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { systemClock } from '../../src/clock.js';
import { Gateway, type GatewayOptions } from '../../src/index.js';
import { LocalObjectHost, type RegisterOptions } from '../../src/host/local-host.js';
import { NatsHostService, NatsObjectHost } from '../../src/nats/index.js';
import { localHostOptions } from '../../src/server/host-options.js';
import { ClientLog, logUserCodeFailure } from '../../src/server/logger.js';
import { startNatsServer, type NatsServer } from './nats-server.js';
import { eventually } from './eventually.js';

let server: Promise<NatsServer> | undefined;

export const natsBacked = process.env.UPLINK_TEST_NATS === '1';

export async function natsBackedGateway(options: GatewayOptions): Promise<Gateway> {
  server ??= startNatsServer().then((s) => {
    // Shared by every test of the file: it must not keep the test process alive, and goes with it.
    s.process.unref();
    (s.process.stderr as unknown as { unref(): void }).unref();
    process.once('exit', () => s.process.kill('SIGKILL'));
    return s;
  });
  const { url } = await server;
  const [gatewayNats, hostNats] = await Promise.all([natsConnect({ servers: url }), natsConnect({ servers: url })]);
  const remote = new NatsObjectHost(gatewayNats);
  const gateway = new Gateway({ ...options, remoteObjects: remote });
  // User-code failures are logged where they happen, on the host: here that log is the gateway's.
  const clientLog = new ClientLog(gateway.logger, gateway.options.maxClientLogLinesPerSec);
  const host = new LocalObjectHost(localHostOptions(gateway.options, gateway.codec, systemClock, options, (error, call) => {
    logUserCodeFailure(clientLog, gateway.codec, error, call);
    options.onError?.(error, call);
  }));
  const service = new NatsHostService(hostNats, host);
  patch(gateway, host, service, remote, [gatewayNats, hostNats]);
  return gateway;
}

/** Objects registered but not yet seen by the gateway in a host beat (calls to them would be UNKNOWN_OBJECT). */
const unseen = new WeakMap<Gateway, Set<string>>();

/**
 * Resolves once the gateway has seen every object registered so far in a host beat. `register()` is
 * synchronous while the beat crosses NATS: a test that calls at once would race it (CI saw it lose).
 */
export async function natsServed(gateway: Gateway, timeoutMs = 5_000): Promise<void> {
  const pending = unseen.get(gateway);
  if (!pending) return;
  await eventually(() => pending.size === 0, { timeoutMs, everyMs: 5, what: `a host serving ${[...pending].join(', ')} (seen by the gateway)` });
}

function patch(gateway: Gateway, host: LocalObjectHost, service: NatsHostService, remote: NatsObjectHost, connections: NatsConnection[]): void {
  const pending = new Set<string>();
  unseen.set(gateway, pending);
  const seen = setInterval(() => {
    for (const id of pending) if (remote.hosts.hostOf(id)) pending.delete(id);
  }, 2);
  seen.unref();
  const register = (target: object, idOrOptions?: string | RegisterOptions, more: RegisterOptions = {}): string => {
    const opts = typeof idOrOptions === 'string' ? { ...more, id: idOrOptions } : { ...idOrOptions };
    const id = host.register(target as never, opts);
    service.serve([id]);
    pending.add(id);
    return gateway.uri(id);
  };
  const close = gateway.close.bind(gateway);
  Object.assign(gateway, {
    register,
    // Every object is on the host: its streams (live, lingering) are the ones to observe.
    stats: () => ({ connections: gateway.connectionCount, streams: host.streamStats() }),
    unregister: (id: string) => host.unregister(id),
    close: async (...args: Parameters<Gateway['close']>) => {
      clearInterval(seen);
      await close(...args);
      await service.stop();
      await Promise.all(connections.map((nc) => nc.close()));
    },
  });
}
