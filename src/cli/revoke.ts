/**
 * `uplink revoke <subject>` / `uplink revoke --token-id <jti>`: a revocation published on NATS for
 * operators without a WebSocket client. It is the message gateways share (NatsObjectHost
 * publishRevocation): every gateway closes the subject's connections (4409) and refuses its tokens
 * issued until now, hosts end its streams. Connects with the UPLINK_NATS_* variables (src/nats/connect.ts).
 *
 * docs/nats-server.conf lets `uplink-gateway` and `uplink-ops` publish `uplink.evt.revoke`. The
 * server refuses others with a permission error that arrives before the flush's PONG, so a refused
 * revocation is reported, never silently lost.
 */
import { parseArgs } from 'node:util';
import { connect, nuid, type NatsConnection } from '@nats-io/transport-node';
import { natsOptionsFromEnv } from '../nats/connect.js';
import { UsageError } from './usage.js';

type Env = Record<string, string | undefined>;

/** The subject revocations travel on (src/nats/envelope.ts REVOCATIONS; the gateways subscribe to it). */
export const REVOKE_SUBJECT = 'uplink.evt.revoke';
const CONNECT_TIMEOUT_MS = 3_000;

export interface RevokeTarget { subject?: string; tokenId?: string }

/** The revocation the arguments describe: exactly one subject or one token id. */
export function revokeTarget(args: string[]): RevokeTarget {
  const { values, positionals } = parseArgs({ args, options: { 'token-id': { type: 'string' } }, allowPositionals: true });
  const tokenId = values['token-id'];
  if (tokenId !== undefined && positionals.length > 0) throw new UsageError('uplink revoke takes a subject or --token-id, not both');
  if (positionals.length > 1) throw new UsageError('uplink revoke takes one subject');
  const subject = positionals[0];
  if (tokenId !== undefined) {
    if (!tokenId) throw new UsageError('uplink revoke --token-id needs the token id (its jti)');
    return { tokenId };
  }
  if (!subject) throw new UsageError('uplink revoke needs a subject (or --token-id <jti>)');
  return { subject };
}

/** Rejects after `ms` with `what`: NATS unreachable must not hang an operator's shell. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Publishes the revocation and waits until the server has it; throws when NATS refuses or is unreachable. */
export async function publishRevocation(target: RevokeTarget, env: Env): Promise<void> {
  const options = natsOptionsFromEnv(env, `uplink-revoke-${process.pid}`);
  if (!options) throw new UsageError('uplink revoke publishes on NATS: set UPLINK_NATS_URL (and UPLINK_NATS_USER/UPLINK_NATS_PASS)');
  const servers = String(options.servers);
  const nc: NatsConnection = await within(connect({ ...options, maxReconnectAttempts: 0, timeout: CONNECT_TIMEOUT_MS }),
    CONNECT_TIMEOUT_MS + 500, `NATS at ${servers} unreachable within ${CONNECT_TIMEOUT_MS} ms`);
  try {
    const refused: Error[] = [];
    void (async () => {
      for await (const status of nc.status()) if (status.type === 'error') refused.push(status.error);
    })();
    const message = { ...target, origin: `cli-${nuid.next()}` };
    nc.publish(REVOKE_SUBJECT, new TextEncoder().encode(JSON.stringify(message)));
    await within(nc.flush(), CONNECT_TIMEOUT_MS, `NATS at ${servers} did not confirm the revocation within ${CONNECT_TIMEOUT_MS} ms`);
    if (refused.length > 0) {
      throw new Error(`NATS refused the revocation (${refused[0]!.message}): publish on ${REVOKE_SUBJECT} as uplink-gateway or uplink-ops (docs/nats-server.conf)`);
    }
  } finally {
    await nc.close().catch(() => {});
  }
}
