/**
 * A NATS connection for a gateway or an object host, configured from UPLINK_NATS_* variables:
 *
 *   UPLINK_NATS_URL      servers, comma-separated (nats://host:4222, tls://host:4222)
 *   UPLINK_NATS_USER / UPLINK_NATS_PASS    user and password
 *   UPLINK_NATS_TOKEN    a token
 *   UPLINK_NATS_CREDS    a .creds file (JWT and nkey seed, for operator mode)
 *   UPLINK_NATS_NKEY     a file holding an nkey seed (SU...)
 *   UPLINK_NATS_CA       a CA certificate file: TLS to NATS, verified against it
 *   UPLINK_NATS_HEARTBEAT_MS  how often hosts and gateways beat (default 1000; a peer missing 3 beats is gone)
 *   UPLINK_CLUSTER_SIGNING_KEY  gateways: an Ed25519 private key (PEM file) to sign each call's identity
 *   UPLINK_CLUSTER_VERIFY_KEY   hosts: the matching public key (PEM file); calls then run only as a
 *                               gateway-signed identity (docs/security.md, "Cluster trust")
 *
 * Reconnects forever (a gateway without NATS fails calls fast and retryable, it does not exit), with
 * server pings every 5 s so a dead server is noticed in seconds (docs/scale-out.md).
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  connect, credsAuthenticator, nkeyAuthenticator, type Authenticator, type ConnectionOptions, type NatsConnection,
} from '@nats-io/transport-node';
import { signingKeyFromFile, verifyKeyFromFile } from './identity-assertion.js';

type Env = Record<string, string | undefined>;

/** The connection options the variables describe; undefined when UPLINK_NATS_URL is not set. */
export function natsOptionsFromEnv(env: Env, name: string): ConnectionOptions | undefined {
  const url = env.UPLINK_NATS_URL?.trim();
  if (!url) return undefined;
  const authenticators: Authenticator[] = [];
  if (env.UPLINK_NATS_CREDS) authenticators.push(credsAuthenticator(readFileSync(env.UPLINK_NATS_CREDS)));
  if (env.UPLINK_NATS_NKEY) authenticators.push(nkeyAuthenticator(new TextEncoder().encode(readFileSync(env.UPLINK_NATS_NKEY, 'utf8').trim())));
  return {
    servers: url.split(',').map((s) => s.trim()).filter(Boolean),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    noAsyncTraces: true,
    ...(env.UPLINK_NATS_USER ? { user: env.UPLINK_NATS_USER, pass: env.UPLINK_NATS_PASS ?? '' } : {}),
    ...(env.UPLINK_NATS_TOKEN ? { token: env.UPLINK_NATS_TOKEN } : {}),
    ...(authenticators.length > 0 ? { authenticator: authenticators } : {}),
    ...(env.UPLINK_NATS_CA ? { tls: { caFile: env.UPLINK_NATS_CA } } : {}),
  };
}

/** UPLINK_NATS_HEARTBEAT_MS, when set. */
export function heartbeatFromEnv(env: Env): { heartbeatMs?: number } {
  const ms = Number(env.UPLINK_NATS_HEARTBEAT_MS);
  return Number.isSafeInteger(ms) && ms > 0 ? { heartbeatMs: ms } : {};
}

/** UPLINK_CLUSTER_SIGNING_KEY (gateways) and UPLINK_CLUSTER_VERIFY_KEY (hosts), loaded and checked. */
export function clusterKeysFromEnv(env: Env): { signingKey?: KeyObject; verifyKey?: KeyObject } {
  return {
    ...(env.UPLINK_CLUSTER_SIGNING_KEY ? { signingKey: signingKeyFromFile(env.UPLINK_CLUSTER_SIGNING_KEY) } : {}),
    ...(env.UPLINK_CLUSTER_VERIFY_KEY ? { verifyKey: verifyKeyFromFile(env.UPLINK_CLUSTER_VERIFY_KEY) } : {}),
  };
}

export async function connectFromEnv(env: Env, name: string): Promise<NatsConnection | undefined> {
  const options = natsOptionsFromEnv(env, name);
  return options ? connect(options) : undefined;
}
