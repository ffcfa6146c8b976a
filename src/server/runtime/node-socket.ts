/**
 * A `ws` socket as a ServerSocket, with the limits uWS enforces natively: a socket silent for the idle
 * timeout is pinged at half of it and cut at the end of it; one holding more than the backpressure
 * limit unsent is cut; one older than its lifetime is cut (each cut as uWS does it: the TCP connection
 * closes without a close frame, the gateway sees 1006). As with uWS, `end` calls the close handler at
 * once; events after that are dropped, and a client that never answers the close frame is cut.
 *
 * Message order and turns: uWS calls its message handler once per message from native code, so
 * promise jobs run between two messages (a hello's admission settles before the next frame is read).
 * ws emits every message of a TCP chunk in one go; so before the welcome the first message of a burst
 * is handled at once and the rest each in their own setImmediate (in order; the socket pauses while
 * many wait). Once the listener says it needs no turns (welcomed), a burst is handled back to back.
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

/** Messages waiting for their turn over which the socket stops reading (ws buffers the rest). */
const MAX_WAITING = 1_024;

/** A ws message as the ArrayBuffer the gateway reads (a view's own bytes only). */
function arrayBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) return data.buffer as ArrayBuffer;
  return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
}

function messageBytes(data: Buffer | ArrayBuffer | Buffer[]): ArrayBuffer {
  if (Array.isArray(data)) return arrayBuffer(Buffer.concat(data));
  return data instanceof ArrayBuffer ? data : arrayBuffer(data);
}

export class NodeServerSocket implements ServerSocket {
  listener: SocketListener | undefined;
  closed = false;
  private lastHeard = performance.now();
  private pinged = false;
  private readonly openedAt = performance.now();
  private closeTimer: NodeJS.Timeout | undefined;
  /** A message was handled in this turn: the next waits for a setImmediate. */
  private inTurn = false;
  private waiting = 0;
  /** The socket is corked for the messages of the current read (corkRead). */
  private readCorked = false;

  constructor(private readonly ws: WebSocket, private readonly socket: Socket, private readonly limits: SocketLimits, private readonly onGone: (s: NodeServerSocket) => void) {
    ws.on('message', (data, isBinary) => {
      this.heard();
      if (!this.closed) this.receive(messageBytes(data), isBinary);
    });
    ws.on('pong', () => this.heard());
    ws.on('ping', () => this.heard());
    // A protocol violation or a message over the limit: ws has sent its close frame (1002, 1007, 1009);
    // the TCP connection ends now, not when the client answers ('close' follows, with 1006).
    ws.on('error', () => {
      socket.end();
      this.closeTimer ??= setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
    });
    socket.on('drain', () => {
      if (!this.closed) this.listener?.drain();
    });
    ws.on('close', (code) => {
      clearTimeout(this.closeTimer);
      this.finish(code);
    });
  }

  private receive(message: ArrayBuffer, isBinary: boolean): void {
    // Welcomed, nothing waiting for a turn: the messages of one read are handled back to back (as a
    // hand-written ws server does), and what they send leaves in one write once the read is done.
    if (this.waiting === 0 && this.listener?.needsTurns === false) {
      this.corkRead();
      return this.deliver(message, isBinary);
    }
    if (!this.inTurn && this.waiting === 0) {
      this.inTurn = true;
      queueMicrotask(() => (this.inTurn = false));
      return this.deliver(message, isBinary);
    }
    if (++this.waiting === MAX_WAITING) this.ws.pause();
    setImmediate(() => {
      if (--this.waiting === MAX_WAITING - 1) this.ws.resume();
      this.deliver(message, isBinary);
    });
  }

  /** Corks the socket until the current read's work is done (process.nextTick runs before promise jobs and I/O). */
  private corkRead(): void {
    if (this.readCorked) return;
    this.readCorked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.readCorked = false;
      this.socket.uncork();
    });
  }

  private deliver(message: ArrayBuffer, isBinary: boolean): void {
    if (this.closed) return;
    this.socket.cork(); // as uWS: what the message's sync work sends leaves in one write
    try {
      this.listener?.message(message, isBinary);
    } finally {
      this.socket.uncork();
    }
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
