/**
 * The demo gateway of `npm start` and of the demo cluster: options from the environment
 * (.env.example), the web demo's static files, and demo mode (settings.ts): JWT auth with
 * UPLINK_JWT_SECRET or the public demo secret, the token endpoint while the public secret is in use,
 * a Host allow-list on loopback, metrics and the `$admin` view (docs/operations.md).
 */
import { fileURLToPath } from 'node:url';
import { Gateway, optionsFromEnv, type GatewayOptions } from '../index.js';
import { demoSettings } from './settings.js';

export function createDemoGateway(env: Record<string, string | undefined>, extra: GatewayOptions = {}): { gateway: Gateway; drainMs: number } {
  const settings = demoSettings(env);
  const staticDir = fileURLToPath(new URL('../../web-demo', import.meta.url));
  const fromEnv = optionsFromEnv(settings.env);
  const gateway = new Gateway({
    // The demo shows the operations side too: metrics on a port of their own (a free one unless
    // UPLINK_METRICS_PORT says), and the admin view for tokens with the admin scope.
    metrics: { port: 0 }, adminScope: 'admin',
    ...fromEnv, staticDir, allowedHosts: settings.allowedHosts,
    ...(settings.demoTokenSecret ? { demoTokens: { secret: settings.demoTokenSecret, ttlSec: 3600 } } : {}),
    ...extra,
  });
  if (settings.publicSecret) gateway.logger.warn('signing and verifying tokens with the PUBLIC demo secret: set UPLINK_JWT_SECRET outside development');
  if (settings.demoTokenSecret && !settings.allowedHosts) gateway.logger.warn('demo tokens on a non-loopback address without UPLINK_ALLOWED_HOSTS: any page that can reach it can mint tokens');
  return { gateway, drainMs: Number(settings.env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000) };
}
