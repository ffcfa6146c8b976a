/** The Uplink gateway under test, with the demo objects, on a free loopback port. */
import { Gateway } from '../../src/index.js';
import { registerDemoObjects } from '../../src/demo/register.js';

const gateway = new Gateway({ port: 0, logLevel: 'warn', maxPayloadLength: 16 * 1024 * 1024, maxInflight: 256 });
registerDemoObjects(gateway);
await gateway.listen();
console.log(`ready ${gateway.port}`);
