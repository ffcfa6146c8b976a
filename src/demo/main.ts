/**
 * `npm start`: the gateway with the demo objects, configured from the environment (.env.example).
 * Demo mode: JWT auth with UPLINK_JWT_SECRET (or the public demo secret) and the token endpoint
 * for the web demo, unless UPLINK_DEMO_TOKENS=0.
 */
import { fileURLToPath } from 'node:url';
import { Gateway, optionsFromEnv } from '../index.js';
import { registerDemoObjects } from './register.js';
import { DEMO_SECRET } from './settings.js';

const env = { ...process.env };
const secret = env.UPLINK_JWT_SECRET || DEMO_SECRET;
if (!env.UPLINK_JWT_PUBLIC_KEY && !env.UPLINK_JWKS_URL) env.UPLINK_JWT_SECRET = secret;
const demoTokens = env.UPLINK_DEMO_TOKENS !== '0';
const staticDir = fileURLToPath(new URL('../../web-demo', import.meta.url));
const gateway = new Gateway({ ...optionsFromEnv(env), staticDir, ...(demoTokens ? { demoTokens: { secret, ttlSec: 3600 } } : {}) });
if (secret === DEMO_SECRET) gateway.logger.warn('signing and verifying tokens with the PUBLIC demo secret: set UPLINK_JWT_SECRET outside development');
registerDemoObjects(gateway);
await gateway.listen();
gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, demo: `http://${gateway.options.host}:${gateway.port}/`, calc: gateway.uri('calc') }, 'demo objects and web demo ready');

// On SIGTERM / SIGINT: goodbye to every client, in-flight calls get drainMs to finish, then exit 0.
const drainMs = Number(env.UPLINK_SHUTDOWN_DRAIN_MS || 5_000);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void gateway.close({ drainMs: drainMs }).then(() => process.exit(0));
  });
}
