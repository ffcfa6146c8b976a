/** `npm start`: the gateway with the demo objects, configured from the environment (.env.example). */
import { Gateway, optionsFromEnv } from '../index.js';
import { registerDemoObjects } from './register.js';

const gateway = new Gateway(optionsFromEnv());
registerDemoObjects(gateway);
await gateway.listen();
gateway.logger.info({ url: `ws://${gateway.options.host}:${gateway.port}`, calc: gateway.uri('calc') }, 'demo objects ready');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void gateway.close({ drainMs: 5_000 }).then(() => process.exit(0));
  });
}
