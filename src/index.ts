/**
 * `uplink`: the gateway and what server code writes against it. The Node client is `uplink/client`.
 * The codec is reached through `gateway.codec` (registerClass) and filled as `codec: CodecOptions`, so
 * only its type is here; object URIs come from `gateway.register` and go to `client.proxy` as strings.
 */
export { Gateway, type CloseOptions, type GatewayStats } from './server/gateway.js';
export { optionsFromEnv, type GatewayOptions } from './server/config.js';
export type { TlsOptions } from './server/http/tls.js';
export { expose, oneway, stream } from './host/expose.js';
export { remote, dropRemote, type RemoteOptions } from './host/remote.js';
export type { ClientCallback, ClientObject, ClientRefHandle } from './host/client-ref.js';
export { validate, type ArgsSchema } from './host/arg-schemas.js';
export { callContext, type CallContext, type ConnectionInfo, type Identity, type Resource } from './core/context.js';
export type { AccessPolicy, InstanceMode, RegisterOptions } from './host/local-host.js';
export type { ObjectMetadata } from './host/members.js';
export type { Authenticator, HandshakeInfo } from './auth/authenticator.js';
export { JwtAuthenticator, type JwtOptions } from './auth/jwt.js';
export type { AccessRule, ClaimNames, ObjectAccess } from './auth/access.js';
export type { RevocationTarget } from './auth/revocations.js';
export type { Codec, CodecOptions } from './protocol/codec.js';
export type { CodecLimits } from './protocol/limits.js';
export { CloseCode } from './protocol/close-codes.js';
export { ConnectionClosedError, ErrorCode, UplinkError, type ErrorBody } from './protocol/errors.js';
export type { Clock } from './clock.js';
