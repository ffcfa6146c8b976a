/**
 * The server-socket seam: what a Connection needs from its WebSocket. The gateway adapts uWS sockets
 * to it; unit tests use a fake. Connection logic never imports uWS.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { WireMessage } from '../protocol/frame-writer.js';

export interface ServerSocket {
  /** Writes a message; false when it built up backpressure (buffered, or dropped over uWS's own limit). */
  send(message: WireMessage): boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** Runs `writes` with the socket corked: everything they send leaves in one syscall. */
  cork(writes: () => void): void;
  /** Closes with a close code and reason (the close handler follows). */
  end(code: number, reason: string): void;
}

/** uWS send status 1: written (0: buffered with backpressure, 2: dropped over the limit). */
const SENT = 1;

/** The uWS socket as a ServerSocket. Never used after its close handler ran (Connection guarantees it). */
export function uwsServerSocket<T>(ws: WebSocket<T>): ServerSocket {
  return {
    send: (message) => ws.send(message, typeof message !== 'string') === SENT,
    get bufferedAmount() {
      return ws.getBufferedAmount();
    },
    cork: (writes) => void ws.cork(writes),
    end: (code, reason) => ws.end(code, reason),
  };
}
