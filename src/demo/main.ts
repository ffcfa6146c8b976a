/**
 * `npm start`: the gateway with the demo objects, configured from the environment (.env.example).
 * Demo mode (settings.ts): JWT auth with UPLINK_JWT_SECRET or the public demo secret, the token
 * endpoint for the web demo while the public secret is in use, and a Host allow-list on loopback.
 */
import { fileURLToPath } from 'node:url';
import { Gateway, optionsFromEnv } from '../index.js';
import { stopOnSignals } from '../server/signals.js';
import { registerDemoObjects } from './register.js';
import { demoSettings } from './settings.js';

const settings = demoSettings(process.env);
const staticDir = fileURLToPath(new URL('../../web-demo', import.meta.url));
const gateway = new Gateway({
  ...optionsFromEnv(settings.env), staticDir, allowedHosts: settings.allowedHosts,
  ...(settings.demoTokenSecret ? { demoTokens: { secret: settings.demoTokenSecret, ttlSec: 3600 } } : {}),
});
if (settings.publicSecret) gateway.logger.warn('signing and verifying tokens with the PUBLIC demo secret: set UPLINK_JWT_SECRET outside development');
if (settings.demoTokenSecret && !settings.allowedHosts) gateway.logger.warn('demo tokens on a non-loopback address without UPLINK_ALLOWED_HOSTS: any page that can reach it can mint tokens');
registerDemoObjects(gateway);
await gateway.listen();
gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, demo: `http://${gateway.options.host}:${gateway.port}/`, calc: gateway.uri('calc') }, 'demo objects and web demo ready');

// On SIGTERM / SIGINT: goodbye to every client, in-flight calls get drainMs to finish, then exit 0.
stopOnSignals(gateway, Number(settings.env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000));
