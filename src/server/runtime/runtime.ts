/**
 * The runtime seam: what the gateway needs from an HTTP and WebSocket server. A runtime listens,
 * hands every HTTP request to the gateway as an HttpExchange, every WebSocket upgrade as an
 * UpgradeRequest (the gateway's checks decide; the runtime only performs the accept or refusal), and
 * every accepted socket as a ServerSocket with its events. Two implement it: uws-runtime.ts
 * (uWebSockets.js, native) and node-runtime.ts (node:http / node:https and `ws`). Routes and checks
 * live above this seam, once, for both.
 *
 * Invariants every runtime keeps: permessage-deflate is off; a message over `maxMessageBytes` never
 * reaches the gateway (the socket is cut); a socket silent for `idleTimeoutSec` is pinged and then
 * closed; a socket holding more than `maxBufferedBytes` unsent is closed; a socket is closed after
 * `maxLifetimeMin` minutes (0: never); no event reaches the gateway after a socket's close event.
 */
import type { ServerSocket } from '../connection/server-socket.js';
import type { PeerInfo } from '../connection/connection-environment.js';
import type { HttpExchange } from '../http/exchange.js';
import type { UwsTlsOptions } from '../http/tls.js';

export type RuntimeName = 'uws' | 'node';

export interface RuntimeSettings {
  host: string;
  port: number;
  /** TLS (files already checked by tls.ts), or undefined for plain ws:// and http://. */
  tls: UwsTlsOptions | undefined;
  /** The runtime's own hard limit for one WebSocket message (the gateway refuses smaller ones itself). */
  maxMessageBytes: number;
  /** The most of a request body an exchange keeps. */
  maxBodyBytes: number;
  idleTimeoutSec: number;
  /** Unsent bytes over which a socket is closed (a backstop: Connection closes slow readers first). */
  maxBufferedBytes: number;
  /** Minutes a socket may live (0: no limit). */
  maxLifetimeMin: number;
}

/** One WebSocket upgrade request, before a socket exists. Exactly one of `refuse` or `accept`, once. */
export interface UpgradeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string;
  /** A request header by lower-case name; '' when absent. */
  header(name: string): string;
  /** Bytes of all header names and values together. */
  readonly headerBytes: number;
  /** The client went away (after an asynchronous check): neither refuse nor accept reaches it. */
  readonly aborted: boolean;
  onAborted(handler: () => void): void;
  refuse(status: number, headers: Record<string, string>, body: string): void;
  /** Upgrades; `protocol` is the selected subprotocol ('' for none); `peer` comes back with open. */
  accept(peer: PeerInfo, protocol: string): void;
}

/** What the gateway does with a socket's events; no event follows `close`. */
export interface SocketListener {
  /**
   * True while promise jobs must run between two messages, as uWS gives them (before the welcome, a
   * hello's admission settles before the next frame is read); once false, a runtime may hand over the
   * messages of one read back to back.
   */
  readonly needsTurns: boolean;
  /** `message` is valid during the call only (a runtime may reuse it). */
  message(message: ArrayBuffer, isBinary: boolean): void;
  /** The socket's buffer drained after a send returned false. */
  drain(): void;
  close(code: number): void;
}

export interface RuntimeHandlers {
  http(exchange: HttpExchange): void;
  upgrade(request: UpgradeRequest): void;
  /** A socket upgraded with `peer`; undefined when the gateway ended it at once. */
  open(socket: ServerSocket, peer: PeerInfo): SocketListener | undefined;
}

export interface ServerRuntime {
  readonly name: RuntimeName;
  /** Listens; resolves with the bound port. */
  listen(settings: RuntimeSettings, handlers: RuntimeHandlers): Promise<number>;
  /** Stops accepting new connections (open sockets stay). */
  stopListening(): void;
  /** Ends every socket at once without a close handshake, and the server with them. */
  terminate(): void;
}
