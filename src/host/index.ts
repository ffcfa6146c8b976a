/**
 * `uplink/host`: what an object host is written against (a host in another process, a test double).
 * Users who register objects on a gateway need only `uplink`.
 */
export type { HostCall, CallKind, ObjectHost, ReplySink, StreamControl, StreamSink } from './object-host.js';
export type { RemoteObjectHost, RemoteHostState } from './remote-object-host.js';
export type { ObjectDeclaration } from './declarations.js';
export type { ObjectMetadata } from './members.js';
export type { EncodedPayload } from '../protocol/codec.js';
export type { CallContext, ConnectionInfo, Identity } from '../core/context.js';
export type { ErrorBody } from '../protocol/errors.js';
export { LocalObjectHost, type LocalHostOptions } from './local-host.js';
