/**
 * The Node client's socket: a `ws` WebSocket seen as a SocketLike through ws's own events rather than
 * its EventTarget shim (which makes an event object per message), with writes batched per turn: the
 * frames sent in one turn of the event loop leave in one write. The TCP socket (from ws's public
 * 'upgrade' event) is corked at the first send of a turn and uncorked in process.nextTick, which runs
 * once the turn's synchronous work and promise jobs are done: 32 calls sent as 32 answers arrive cost
 * one system call here and one wake-up at the gateway instead of 32.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { SocketLike } from './socket.js';

export class NodeWebSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private tcp: Socket | undefined;
  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.tcp?.uncork();
  };

  constructor(private readonly ws: WebSocket) {
    ws.on('upgrade', (response) => (this.tcp = response.socket));
    ws.on('open', () => this.onopen?.({ type: 'open' }));
    // Text arrives as a Buffer of valid UTF-8 (ws checked it); binary as binaryType says.
    ws.on('message', (data, isBinary) => this.onmessage?.({ data: isBinary ? data : String(data) }));
    // Always listened to: an 'error' without a listener would throw from ws.
    ws.on('error', (error) => this.onerror?.({ type: 'error', error, message: error.message }));
    ws.on('close', (code, reason) => this.onclose?.({ code, reason: String(reason) }));
  }

  get binaryType(): string {
    return this.ws.binaryType;
  }

  set binaryType(type: string) {
    this.ws.binaryType = type as WebSocket['binaryType'];
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string | Uint8Array): void {
    if (!this.corked && this.tcp && this.ws.readyState === WebSocket.OPEN) {
      this.corked = true;
      this.tcp.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}
