/**
 * The browser client: the client core on the browser's own WebSocket. Bundled by
 * `npm run build:browser` into web-demo/uplink.js (ESM, no Node built-ins).
 */
import { UplinkClient, type ClientOptions } from './client.js';
import type { SocketLike } from './socket.js';

/** Connects to a gateway (ws://, wss://, or an uplink:// URI; several fail over) and completes the hello handshake. */
export function connect(url: string | readonly string[], options: ClientOptions = {}): Promise<UplinkClient> {
  if (options.tokenTransport === 'header') throw new TypeError('browsers cannot set headers on a WebSocket; send the token in the hello frame');
  return UplinkClient.open(url, (u) => new WebSocket(u) as unknown as SocketLike, options);
}

export { UplinkClient, type ClientOptions, type ClientState, type BatchCallSpec, type BatchResult, type ReconnectOptions, type SessionInfo, type Goodbye } from './client.js';
export type { Clock } from '../clock.js';
export type { CallOptions, Remote, StreamOptions } from './proxy.js';
export { callback, exposeLocal, LocalRef, type Callback, type RemoteRef } from './references.js';
export { RemoteStream } from './remote-stream.js';
export { Codec, type CodecOptions } from '../protocol/codec.js';
export { ConnectionClosedError, ErrorCode, UplinkError } from '../protocol/errors.js';
export { CloseCode } from '../protocol/close-codes.js';
