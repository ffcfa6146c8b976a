/** Registers the demo objects on a gateway (used by `npm start` and by the tests). */
import type { Gateway } from '../server/gateway.js';
import { AdminPanel, Calculator, Counter, DemoError, Echo, Ticker } from './objects.js';

export function registerDemoObjects(gateway: Gateway): void {
  gateway.codec.registerError(DemoError, 'DemoError');
  gateway.register(new Calculator(), 'calc');
  gateway.register(new Echo(), 'echo');
  gateway.register(Counter, { id: 'counter', mode: 'session' });
  gateway.register(new Ticker(), 'ticker');
  gateway.register(new AdminPanel(), 'admin', { access: { scopes: ['admin'] } });
}
