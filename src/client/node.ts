/** The Node.js client: the client core on the `ws` package (Node 20 has no global WebSocket). */
import WebSocket from 'ws';
import { UplinkClient, type ClientOptions } from './client.js';
import type { SocketLike } from './socket.js';

export interface NodeClientOptions extends ClientOptions {
  /** Largest message accepted from the gateway, in bytes (default 64 MiB). */
  maxPayload?: number;
}

/** Connects to a gateway (ws://, wss://, or an uplink:// URI) and completes the hello handshake. */
export function connect(url: string, options: NodeClientOptions = {}): Promise<UplinkClient> {
  const maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
  return UplinkClient.open(url, (u, bearer) => new WebSocket(u, {
    maxPayload, perMessageDeflate: false, ...(bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {}),
  }) as unknown as SocketLike, options);
}
