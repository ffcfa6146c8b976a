/**
 * The browser client: the client core on the browser's own WebSocket. Bundled by
 * `npm run build:browser` into web-demo/uplink.js (ESM, no Node built-ins). Its list is public-api.ts,
 * shared with `uplink/client`.
 */
import { UplinkClient, type ClientOptions } from './client.js';
import type { SocketLike } from './socket.js';
import { socketFactory } from './transport.js';

/** Connects to a gateway (ws://, wss://, or an uplink:// URI; several fail over) and completes the hello handshake. */
export function connect(url: string | readonly string[], options: ClientOptions = {}): Promise<UplinkClient> {
  if (options.tokenTransport === 'header') throw new TypeError('browsers cannot set headers on a WebSocket; send the token in the hello frame');
  return UplinkClient.open(url, socketFactory((u) => new WebSocket(u) as unknown as SocketLike, options.transport), options);
}

export * from './public-api.js';
