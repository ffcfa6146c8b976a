/** The Node.js client: the client core on the `ws` package (Node 20 has no global WebSocket). */
import WebSocket from 'ws';
import { UplinkClient, type ClientOptions } from './client.js';
import { NodeWebSocket } from './node-socket.js';
import { socketFactory } from './transport.js';

export interface NodeClientOptions extends ClientOptions {
  /** Largest message accepted from the gateway, in bytes (default 64 MiB). */
  maxPayload?: number;
  /** CA certificates (PEM) to trust for wss:// besides the system's: a private CA, a test certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/**
 * Connects to a gateway (ws://, wss://, or an uplink:// URI) and completes the hello handshake. Given
 * several URLs (gateways of one cluster), it connects to the first that answers and fails over to the
 * next when a connection is lost; streams resume there.
 */
export function connect(url: string | readonly string[], options: NodeClientOptions = {}): Promise<UplinkClient> {
  const maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
  return UplinkClient.open(url, socketFactory((u, bearer) => new NodeWebSocket(new WebSocket(u, {
    maxPayload, perMessageDeflate: false, ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(bearer ? { headers: { Authorization: `Bearer ${bearer}` } } : {}),
  })), options.transport), options);
}
