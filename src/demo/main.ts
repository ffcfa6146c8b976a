/** `npm start`: one gateway with the demo objects and the web demo (demo-gateway.ts says how it is set up). */
import { stopOnSignals } from '../server/signals.js';
import { createDemoGateway } from './demo-gateway.js';
import { registerDemoObjects } from './register.js';
import { pino } from 'pino';

async function prettyLogger(level: string): Promise<pino.Logger> {
  const { default: pretty } = await import('pino-pretty'); // a devDependency: only `npm start` loads it
  return pino({ level }, pretty({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
}

// `npm start` sets UPLINK_LOG_PRETTY=1: readable lines for a person at a terminal. Everything else
// (the CLI, a process manager, the tests) gets pino's JSON lines.
const logger = process.env.UPLINK_LOG_PRETTY === '1' ? await prettyLogger(process.env.UPLINK_LOG_LEVEL || 'info') : undefined;
const { gateway, drainMs } = createDemoGateway(process.env, logger ? { logger } : {});
registerDemoObjects(gateway);
await gateway.listen();
gateway.logger.info({
  url: `ws://${gateway.options.host}:${gateway.port}`, demo: `http://${gateway.options.host}:${gateway.port}/`, calc: gateway.uri('calc'),
  metrics: gateway.metricsPort === undefined ? undefined : `http://127.0.0.1:${gateway.metricsPort}/metrics`,
}, 'demo objects and web demo ready');

// On SIGTERM / SIGINT: goodbye to every client, in-flight calls get drainMs to finish, then exit 0.
stopOnSignals(gateway, drainMs);
