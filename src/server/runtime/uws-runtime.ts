/**
 * The uWebSockets.js runtime: one uWS app (SSLApp with TLS) whose WebSocket route hands upgrades to
 * the gateway's checks and whose catch-all HTTP route hands every other request over as an
 * HttpExchange. uWS enforces the socket limits itself (runtime.ts lists them).
 */
import type uwsTypes from 'uWebSockets.js';
import type { WireMessage } from '../../protocol/frame-writer.js';
import type { PeerInfo } from '../connection/connection-environment.js';
import type { ServerSocket } from '../connection/server-socket.js';
import { statusLine } from '../http/exchange.js';
import { uwsExchange } from '../http/uws-exchange.js';
import type { Uws } from '../http/uws-loader.js';
import type { RuntimeHandlers, RuntimeSettings, ServerRuntime, SocketListener, UpgradeRequest } from './runtime.js';

/** What uWS keeps per socket: the peer as the upgrade saw it, and its listener once open. */
interface SocketData extends PeerInfo {
  listener?: SocketListener | undefined;
}

/** uWS send status 1: written (0: buffered with backpressure, 2: dropped over the limit). */
const SENT = 1;

/**
 * The uWS socket as a ServerSocket. A class, not an object literal: one small object per connection
 * (a literal with a getter and four closures was a dictionary-mode object of about 700 bytes).
 * Never used after its close handler ran (Connection guarantees it).
 */
class UwsServerSocket implements ServerSocket {
  constructor(private readonly ws: uwsTypes.WebSocket<SocketData>) {}

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

/** An upgrade request of uWS: the head is copied at once (uWS reuses the request when the handler returns). */
class UwsUpgrade implements UpgradeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string;
  readonly headerBytes: number;
  private readonly headers = new Map<string, string>();
  aborted = false;
  private abortHandlers: Array<() => void> = [];
  private readonly extensions: string;

  constructor(private readonly res: uwsTypes.HttpResponse, req: uwsTypes.HttpRequest, private readonly context: uwsTypes.us_socket_context_t) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    this.remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    let bytes = 0;
    req.forEach((name, value) => {
      bytes += name.length + value.length;
      const previous = this.headers.get(name);
      this.headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    });
    this.headerBytes = bytes;
    this.extensions = req.getHeader('sec-websocket-extensions');
    res.onAborted(() => {
      this.aborted = true;
      for (const handler of this.abortHandlers.splice(0)) handler();
    });
  }

  header(name: string): string {
    return this.headers.get(name) ?? '';
  }

  onAborted(handler: () => void): void {
    if (this.aborted) return handler();
    this.abortHandlers.push(handler);
  }

  refuse(status: number, headers: Record<string, string>, body: string): void {
    if (this.aborted) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
      this.res.end(body);
    });
  }

  accept(peer: PeerInfo, protocol: string): void {
    if (this.aborted) return;
    const data: SocketData = { ...peer };
    this.res.cork(() => this.res.upgrade(data, this.header('sec-websocket-key'), protocol, this.extensions, this.context));
  }
}

export class UwsRuntime implements ServerRuntime {
  readonly name = 'uws' as const;
  private app: uwsTypes.TemplatedApp | undefined;
  private listenSocket: uwsTypes.us_listen_socket | undefined;

  constructor(private readonly uws: Uws) {}

  listen(settings: RuntimeSettings, handlers: RuntimeHandlers): Promise<number> {
    const uws = this.uws;
    const app = (this.app = settings.tls ? uws.SSLApp(settings.tls) : uws.App());
    app.ws<SocketData>('/*', {
      compression: uws.DISABLED, // permessage-deflate off: decompression bombs and CPU for little gain on small frames
      maxPayloadLength: settings.maxMessageBytes,
      idleTimeout: settings.idleTimeoutSec,
      sendPingsAutomatically: true,
      maxBackpressure: settings.maxBufferedBytes,
      closeOnBackpressureLimit: true as never,
      maxLifetime: settings.maxLifetimeMin,
      upgrade: (res, req, context) => handlers.upgrade(new UwsUpgrade(res, req, context)),
      open: (ws) => {
        const { listener: _, ...peer } = ws.getUserData();
        ws.getUserData().listener = handlers.open(new UwsServerSocket(ws), peer);
      },
      message: (ws, message, isBinary) => ws.getUserData().listener?.message(message, isBinary),
      drain: (ws) => ws.getUserData().listener?.drain(),
      close: (ws, code) => {
        const listener = ws.getUserData().listener;
        ws.getUserData().listener = undefined;
        listener?.close(code);
      },
    });
    app.any('/*', (res, req) => handlers.http(uwsExchange(res, req, settings.maxBodyBytes)));
    return new Promise<number>((resolve, reject) => {
      app.listen(settings.host, settings.port, (socket) => {
        if (!socket) return reject(new Error(`cannot listen on ${settings.host}:${settings.port}`));
        this.listenSocket = socket;
        resolve(uws.us_socket_local_port(socket));
      });
    });
  }

  stopListening(): void {
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
  }

  terminate(): void {
    (this.app as { close?: () => void } | undefined)?.close?.();
  }
}
