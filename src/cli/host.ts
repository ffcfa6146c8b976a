/**
 * `uplink host <module>`: an object host process. The same module `uplink serve` takes registers its
 * objects (it receives an object with the gateway's registration API: register, unregister, codec,
 * logger), and they are served over NATS (UPLINK_NATS_*, src/nats/connect.ts) to every gateway of
 * the cluster. Limits and stream settings come from the same UPLINK_* variables as a gateway's.
 * SIGTERM drains: no new calls, calls and streams in flight get UPLINK_SHUTDOWN_DRAIN_MS to finish.
 */
import { systemClock } from '../clock.js';
import { LocalObjectHost, type RegisterOptions } from '../host/local-host.js';
import { Codec } from '../protocol/codec.js';
import { definedOnly, gatewayDefaults, optionsFromEnv } from '../server/config.js';
import { localHostOptions } from '../server/host-options.js';
import { ClientLog, createLogger, logUserCodeFailure, type Logger } from '../server/logger.js';
import { clusterKeysFromEnv, connectFromEnv, heartbeatFromEnv } from '../nats/connect.js';
import { NatsHostService, type NatsHostOptions } from '../nats/host-service.js';
import { GatewayMetrics } from '../server/metrics.js';
import { listenForMetrics } from '../server/http/metrics-endpoint.js';

type Env = Record<string, string | undefined>;

/** What a registering module sees: the gateway's registration API, backed by the host. */
export interface HostRegistrar {
  readonly codec: Codec;
  readonly logger: Logger;
  register(target: object, idOrOptions?: string | RegisterOptions, options?: RegisterOptions): string;
  unregister(id: string): boolean;
}

export async function runHost(register: (registrar: HostRegistrar) => void | Promise<void>, env: Env, extra: Pick<NatsHostOptions, 'tagAnswers'> = {}): Promise<NatsHostService> {
  const options = { ...gatewayDefaults, ...definedOnly(optionsFromEnv(env)) };
  const logger = createLogger(options.logLevel);
  const codec = new Codec();
  const clientLog = new ClientLog(logger, options.maxClientLogLinesPerSec);
  // UPLINK_METRICS_PORT: calls served, streams, credit stalls and the process, plus /health and /ready for probes.
  const metricsPort = options.metrics?.port;
  const metrics = metricsPort === undefined ? undefined
    : new GatewayMetrics((id) => host.has(id), () => host.streamStats(), (id, member) => host.knowsMember(id, member), { state: () => service.clusterState(), peers: 'gateways' });
  const host: LocalObjectHost = new LocalObjectHost({
    ...localHostOptions(options, codec, systemClock, {}, (error, call) => logUserCodeFailure(clientLog, codec, error, call)),
    ...(metrics ? { streamObserver: { creditStall: () => void metrics.totals.creditStalls++, socketPaused: () => metrics.backpressureEvent('paused') } } : {}),
  });
  const registrar: HostRegistrar = {
    codec, logger,
    register: (target, idOrOptions, more = {}) => host.register(target as never, typeof idOrOptions === 'string' ? { ...more, id: idOrOptions } : { ...idOrOptions }),
    unregister: (id) => host.unregister(id),
  };
  await register(registrar);
  const name = env.UPLINK_HOST_NAME || `uplink-host-${process.pid}`;
  const nc = await connectFromEnv(env, name);
  if (!nc) throw new Error('uplink host serves over NATS: set UPLINK_NATS_URL (e.g. nats://127.0.0.1:4222)');
  const { verifyKey } = clusterKeysFromEnv(env);
  const service: NatsHostService = new NatsHostService(nc, host, {
    name, ...heartbeatFromEnv(env), ...extra, logger, ...(verifyKey ? { verifyKey } : {}), onError: (error) => logger.warn({ err: error }, 'a tracked resource failed to close'),
    ...(metrics ? { observeCall: (object: string, member: string, code: string, seconds: number) => metrics.callDone(object, member, code, seconds) } : {}),
  });
  service.serve();
  const listener = metrics && metricsPort !== undefined ? await listenForMetrics(metrics, options.metrics?.host ?? '127.0.0.1', metricsPort, () => service.readiness()) : undefined;
  logger.info({ host: service.id, name, objects: host.ids(), nats: nc.getServer(), metricsPort: listener?.port }, 'object host serving');
  const drainMs = Number(env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ host: service.id, drainMs }, 'draining');
      void service.drain(drainMs).then(() => nc.drain()).finally(() => process.exit(0));
    });
  }
  return service;
}
