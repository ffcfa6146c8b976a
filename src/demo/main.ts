/** `npm start`: one gateway with the demo objects and the web demo (demo-gateway.ts says how it is set up). */
import { stopOnSignals } from '../server/signals.js';
import { createDemoGateway } from './demo-gateway.js';
import { registerDemoObjects } from './register.js';

const { gateway, drainMs } = createDemoGateway(process.env);
registerDemoObjects(gateway);
await gateway.listen();
gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, demo: `http://${gateway.options.host}:${gateway.port}/`, calc: gateway.uri('calc') }, 'demo objects and web demo ready');

// On SIGTERM / SIGINT: goodbye to every client, in-flight calls get drainMs to finish, then exit 0.
stopOnSignals(gateway, drainMs);
