/**
 * The server-socket seam: what a Connection needs from its WebSocket. Each runtime adapts its sockets
 * to it (server/runtime/); unit tests use a fake. Connection logic never imports a runtime.
 */
import type { WireMessage } from '../../protocol/frame-writer.js';

export interface ServerSocket {
  /** Writes a message; false when it built up backpressure (buffered, or dropped over the runtime's own limit). */
  send(message: WireMessage): boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** Runs `writes` with the socket corked: everything they send leaves in one syscall. */
  cork(writes: () => void): void;
  /** Closes with a close code and reason (the close handler follows). */
  end(code: number, reason: string): void;
}
