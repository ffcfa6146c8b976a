/** `uplink/nats`: object hosts in other processes, through NATS (docs/scale-out.md; first slice: calls and oneway calls). */
export { NatsObjectHost } from './nats-object-host.js';
export { NatsHostService } from './host-service.js';
