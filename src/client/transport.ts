/**
 * Which transport a socket uses (ClientOptions.transport): WebSocket, HTTP (http-socket.ts), or
 * `auto`: a WebSocket first and, when its upgrade fails before it opens (a proxy that refuses
 * upgrades, a network that drops them), HTTP to the same gateway, for that connection attempt.
 */
import { HttpSocket } from './http-socket.js';
import type { SocketFactory, SocketLike } from './socket.js';

export type Transport = 'auto' | 'websocket' | 'http';

/** The transport of a socket the factory made (what `session.transport` reports). */
export function transportOf(socket: SocketLike): 'websocket' | 'http' {
  return socket instanceof HttpSocket || (socket instanceof AutoSocket && socket.usesHttp) ? 'http' : 'websocket';
}

export function socketFactory(webSocket: SocketFactory, transport: Transport = 'websocket'): SocketFactory {
  if (transport === 'websocket') return webSocket;
  if (transport === 'http') return (url, bearer) => new HttpSocket(url, bearer);
  return (url, bearer) => new AutoSocket(url, bearer, webSocket);
}

/** A WebSocket until it fails before opening; from then on an HttpSocket (the core never sees the switch). */
class AutoSocket implements SocketLike {
  binaryType = 'arraybuffer';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private inner: SocketLike;
  usesHttp = false;

  constructor(private readonly url: string, private readonly bearer: string | undefined, webSocket: SocketFactory) {
    this.inner = webSocket(url, bearer);
    this.wire(this.inner, true);
  }

  get readyState(): number {
    return this.inner.readyState;
  }

  send(data: string | Uint8Array): void {
    this.inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }

  private wire(socket: SocketLike, fallback: boolean): void {
    socket.binaryType = this.binaryType;
    let opened = false;
    socket.onopen = (event) => {
      opened = true;
      this.onopen?.(event);
    };
    socket.onmessage = (event) => this.onmessage?.(event);
    socket.onerror = (event) => {
      if (!opened && fallback) return; // the close that follows switches to HTTP
      this.onerror?.(event);
    };
    socket.onclose = (event) => {
      if (!opened && fallback && !this.usesHttp) return this.fallBack();
      this.onclose?.(event);
    };
  }

  private fallBack(): void {
    this.usesHttp = true;
    this.inner = new HttpSocket(this.url, this.bearer);
    this.wire(this.inner, false);
  }
}
