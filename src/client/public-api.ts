/**
 * What both clients export, listed once: `uplink/client` (index.ts, Node) and `uplink/browser`
 * (browser.ts) re-export this and add their own `connect`. Codec is here because
 * `ClientOptions.codec` takes an instance (limits, registerClass before the first call).
 */
export { UplinkClient, type BatchCallSpec, type BatchResult, type ClientOptions, type ClientState, type ReconnectOptions, type SessionInfo, type Goodbye } from './client.js';
export type { Clock } from '../clock.js';
export type { CallOptions, Remote, StreamOptions } from './proxy.js';
export { callback, exposeLocal, LocalRef, type Callback, type RemoteRef } from './references.js';
export { RemoteStream } from './remote-stream.js';
export { Codec, type CodecOptions } from '../protocol/codec.js';
export { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
export { CloseCode } from '../protocol/close-codes.js';
