/**
 * `uplink serve <module>`: one gateway that loads the module, lets it register objects and listens
 * (UPLINK_* variables); with UPLINK_NATS_URL, objects it does not register are reached on NATS. The
 * same function runs in each worker thread of `--workers N` (serve-workers.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Gateway } from '../server/gateway.js';
import { optionsFromEnv } from '../server/config.js';
import { clusterKeysFromEnv, connectFromEnv, heartbeatFromEnv } from '../nats/connect.js';
import { NatsObjectHost } from '../nats/nats-object-host.js';
import { UsageError } from './usage.js';

type Register = (gateway: Gateway) => void | Promise<void>;

export async function loadRegister<T = Register>(command: string, modulePath: string | undefined): Promise<T> {
  if (!modulePath) throw new UsageError(`uplink ${command} needs the module that registers your objects`);
  const loaded = (await import(pathToFileURL(resolve(modulePath)).href)) as { default?: unknown; register?: unknown };
  const register = (typeof loaded.default === 'function' ? loaded.default : loaded.register) as T | undefined;
  if (typeof register !== 'function') throw new UsageError(`${modulePath} exports no register function (a default export or one named register)`);
  return register;
}

/** Starts one gateway for the module and returns it listening (the caller decides how it stops). */
export async function startGateway(modulePath: string | undefined, env: NodeJS.ProcessEnv, name = `uplink-gateway-${process.pid}`): Promise<Gateway> {
  return (await startServing(modulePath, env, name)).gateway;
}

/** The gateway and its NATS connection, for a caller that must close both (a worker thread). */
export async function startServing(modulePath: string | undefined, env: NodeJS.ProcessEnv, name: string): Promise<{ gateway: Gateway; nats: NatsConnection | undefined }> {
  const register = await loadRegister('serve', modulePath);
  const nc = await connectFromEnv(env, name);
  const { signingKey } = clusterKeysFromEnv(env);
  const remote = nc && new NatsObjectHost(nc, { ...heartbeatFromEnv(env), ...(signingKey ? { signingKey } : {}) });
  const gateway = new Gateway({ ...optionsFromEnv(env), ...(remote ? { remoteObjects: remote } : {}) });
  await register(gateway);
  await gateway.listen();
  return { gateway, nats: nc };
}
