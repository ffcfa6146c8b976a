/** `uplink/nats`: gateways and object hosts in other processes, linked by NATS (docs/scale-out.md): the gateway side (NatsObjectHost) and the host side (NatsHostService). */
export { NatsObjectHost } from './nats-object-host.js';
export { NatsHostService } from './host-service.js';
