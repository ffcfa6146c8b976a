/**
 * A `ws` socket as a ServerSocket, with the limits uWS enforces natively: a socket silent for the idle
 * timeout is pinged at half of it and cut at the end of it; one holding more than the backpressure
 * limit unsent is cut; one older than its lifetime is cut (each cut as uWS does it: the TCP connection
 * closes without a close frame, the gateway sees 1006). As with uWS, `end` calls the close handler at
 * once; events after that are dropped, and a client that never answers the close frame is cut.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { WireMessage } from '../../protocol/frame-writer.js';
import type { ServerSocket } from '../connection/server-socket.js';
import type { SocketListener } from './runtime.js';

/** How long a client may take to answer our close frame before its socket is cut. */
const CLOSE_GRACE_MS = 1_000;
/** Close code of a connection that ended without a close frame. */
const ABNORMAL = 1006;

export interface SocketLimits {
  idleTimeoutSec: number;
  maxBufferedBytes: number;
  maxLifetimeMin: number;
}

/** A ws message as the ArrayBuffer the gateway reads (a view's own bytes only). */
function arrayBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

export class NodeServerSocket implements ServerSocket {
  listener: SocketListener | undefined;
  closed = false;
  private lastHeard = performance.now();
  private pinged = false;
  private readonly openedAt = performance.now();
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ws: WebSocket, private readonly socket: Socket, private readonly limits: SocketLimits, private readonly onGone: (s: NodeServerSocket) => void) {
    ws.on('message', (data, isBinary) => {
      this.heard();
      if (this.closed) return;
      socket.cork(); // as uWS: what the message's sync work sends leaves in one write
      try {
        this.listener?.message(arrayBuffer(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)), isBinary);
      } finally {
        socket.uncork();
      }
    });
    ws.on('pong', () => this.heard());
    ws.on('ping', () => this.heard());
    ws.on('error', () => {}); // a protocol violation: ws closes the socket itself ('close' follows)
    socket.on('drain', () => {
      if (!this.closed) this.listener?.drain();
    });
    ws.on('close', (code) => {
      clearTimeout(this.closeTimer);
      this.finish(code);
    });
  }

  send(message: WireMessage): boolean {
    if (this.closed) return false;
    this.ws.send(message, { binary: typeof message !== 'string' });
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.cut(); // uWS's closeOnBackpressureLimit
      return false;
    }
    return !this.socket.writableNeedDrain;
  }

  get bufferedAmount(): number {
    return this.closed ? 0 : this.ws.bufferedAmount;
  }

  cork(writes: () => void): void {
    this.socket.cork();
    try {
      writes();
    } finally {
      this.socket.uncork();
    }
  }

  end(code: number, reason: string): void {
    if (this.closed) return;
    try {
      this.ws.close(code, reason);
      this.closeTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
      this.closeTimer.unref();
    } catch {
      this.ws.terminate(); // a code or reason ws refuses: no close frame then
    }
    this.finish(code);
  }

  /** Ends the TCP connection without a close frame. */
  cut(): void {
    this.ws.terminate();
    this.finish(ABNORMAL);
  }

  /** Pings a socket silent for half the idle timeout, cuts one silent for all of it or past its lifetime. */
  sweep(now: number): void {
    const idleMs = this.limits.idleTimeoutSec * 1000;
    const lifetimeMs = this.limits.maxLifetimeMin * 60_000;
    if ((idleMs > 0 && now - this.lastHeard >= idleMs) || (lifetimeMs > 0 && now - this.openedAt >= lifetimeMs)) return this.cut();
    if (idleMs > 0 && !this.pinged && now - this.lastHeard >= idleMs / 2) {
      this.pinged = true;
      this.ws.ping();
    }
  }

  private heard(): void {
    this.lastHeard = performance.now();
    this.pinged = false;
  }

  /** The close handler, once. */
  private finish(code: number): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone(this);
    const listener = this.listener;
    this.listener = undefined;
    listener?.close(code);
  }
}
