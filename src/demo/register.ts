/** Registers the demo objects on a gateway, or on an object host of the demo cluster (same API). */
import type { Codec } from '../protocol/codec.js';
import type { RegisterOptions } from '../host/registry.js';
import { ChatRoom, Jobs } from './chat.js';
import { AdminPanel, Calculator, Counter, DemoError, Echo, Ticker } from './objects.js';

/** The registration API a gateway and `uplink host`'s registrar share. */
export interface Registrar {
  readonly codec: Codec;
  register(target: object, idOrOptions?: string | RegisterOptions, options?: RegisterOptions): string;
}

/** `chat: false` leaves the chat room out (the demo cluster keeps one room, on one host, for everyone). */
export function registerDemoObjects(registrar: Registrar, options: { chat?: boolean } = {}): void {
  registrar.codec.registerError(DemoError, 'DemoError');
  registrar.register(new Calculator(), 'calc');
  registrar.register(new Echo(), 'echo');
  registrar.register(Counter, { id: 'counter', mode: 'session' });
  registrar.register(new Ticker(), 'ticker');
  registrar.register(new AdminPanel(), 'admin', { access: { scopes: ['admin'] } });
  registrar.register(new Jobs(), 'jobs');
  if (options.chat ?? true) registrar.register(new ChatRoom(), 'chat');
}
