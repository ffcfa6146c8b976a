/**
 * The server-socket seam: what a Connection needs from its WebSocket. The gateway adapts uWS sockets
 * to it; unit tests use a fake. Connection logic never imports uWS.
 */
import type { WebSocket } from 'uWebSockets.js';
import type { WireMessage } from '../../protocol/frame-writer.js';

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

/**
 * The uWS socket as a ServerSocket. A class, not an object literal: one small object per connection
 * (a literal with a getter and four closures was a dictionary-mode object of about 700 bytes).
 * Never used after its close handler ran (Connection guarantees it).
 */
class UwsServerSocket<T> implements ServerSocket {
  constructor(private readonly ws: WebSocket<T>) {}

  send(message: WireMessage): boolean {
    return this.ws.send(message, typeof message !== 'string') === SENT;
  }

  get bufferedAmount(): number {
    return this.ws.getBufferedAmount();
  }

  cork(writes: () => void): void {
    this.ws.cork(writes);
  }

  end(code: number, reason: string): void {
    this.ws.end(code, reason);
  }
}

export function uwsServerSocket<T>(ws: WebSocket<T>): ServerSocket {
  return new UwsServerSocket(ws);
}
