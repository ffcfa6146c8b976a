/** Public API of the gateway (server side). The Node client is `uplink/client`. */
export { Gateway, type CloseOptions, type GatewayStats } from './server/gateway.js';
export { optionsFromEnv, type GatewayOptions } from './server/config.js';
export { expose, oneway, stream } from './host/expose.js';
export { validate, type ArgsSchema } from './host/arg-schemas.js';
export { callContext, type CallContext, type ConnectionInfo, type Identity, type Resource } from './core/context.js';
export type { AccessPolicy, InstanceMode, RegisterOptions } from './host/local-host.js';
export type { ObjectMetadata } from './host/members.js';
export type { Authenticator, HandshakeInfo } from './auth/authenticator.js';
export { JwtAuthenticator, type JwtOptions } from './auth/jwt.js';
export type { AccessRule, ClaimNames, ObjectAccess } from './auth/access.js';
export type { RevocationTarget } from './auth/revocations.js';
export { Codec, type CodecOptions } from './protocol/codec.js';
export type { CodecLimits } from './protocol/limits.js';
export { CloseCode } from './protocol/close-codes.js';
export { ConnectionClosedError, ErrorCode, PayloadError, UplinkError, type ErrorBody } from './errors.js';
export { formatUri, parseUri } from './protocol/uri.js';
export type { Clock } from './clock.js';
