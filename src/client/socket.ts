/**
 * The transport seam of the client: the subset of the WHATWG WebSocket that both the browser's own
 * WebSocket and the `ws` package implement. The client core knows nothing else about sockets.
 */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** Opens a socket; `bearer` is set when the token travels in the Authorization header (Node only). */
export type SocketFactory = (url: string, bearer: string | undefined) => SocketLike;

export const SOCKET_OPEN = 1;
