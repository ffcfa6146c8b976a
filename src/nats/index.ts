/** `uplink/nats`: gateways and object hosts in other processes, linked by NATS (docs/scale-out.md): the gateway side (NatsObjectHost, a RemoteObjectHost) and the host side (NatsHostService). */
export { NatsObjectHost, type NatsObjectHostOptions } from './nats-object-host.js';
export { NatsHostService, type NatsHostOptions } from './host-service.js';
