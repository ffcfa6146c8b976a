/**
 * The node runtime: node:http (node:https with TLS) and `ws`, for platforms where no native uWS build
 * loads. HTTP requests become HttpExchanges (node-exchange.ts), upgrades go through the gateway's
 * checks (node-upgrade.ts) before ws's handleUpgrade, and sockets are NodeServerSockets, which hold
 * the limits uWS enforces natively (runtime.ts lists them). A client error in the HTTP parser (a
 * header block over the limit, bad syntax) drops the connection without an answer, as uWS does, and
 * so does a request with more headers than uWS parses.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { nodeExchange } from '../http/node-exchange.js';
import type { UwsTlsOptions } from '../http/tls.js';
import { NodeServerSocket } from './node-socket.js';
import { NodeUpgrade, type Accept } from './node-upgrade.js';
import type { RuntimeHandlers, RuntimeSettings, ServerRuntime } from './runtime.js';

/** The largest request head node parses (uWS's own cap is near this; the upgrade check caps at 8 KiB). */
const MAX_HEADER_BYTES = 16 * 1024;
/** More headers than this and the connection is dropped unanswered, as uWS does past its own count (50). */
const MAX_HEADER_COUNT = 50;
/** A request head must arrive within this (slowloris), as uWS's HTTP timeout. */
const HEADERS_TIMEOUT_MS = 10_000;
/** A whole request, body included, must arrive within this (a body dribbled byte by byte is cut). */
const REQUEST_TIMEOUT_MS = 30_000;

const SERVER_OPTIONS: ServerOptions = {
  maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000,
  keepAliveTimeout: 5_000,
};

function tlsOptions(tls: UwsTlsOptions): { cert: Buffer; key: Buffer; passphrase?: string; ca?: Buffer } {
  return {
    cert: readFileSync(tls.cert_file_name), key: readFileSync(tls.key_file_name),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.ca_file_name !== undefined ? { ca: readFileSync(tls.ca_file_name) } : {}),
  };
}

/**
 * SO_REUSEPORT on a port that is given (as uWS sets it), so worker threads share one port: node's
 * listen takes `reusePort` from Node.js 22.12 and 23.1 on; older versions ignore it, and a second
 * listener on the port fails with EADDRINUSE.
 */
export const REUSE_PORT_SUPPORTED = ((major, minor) => major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))(
  ...(process.versions.node.split('.').map(Number) as [number, number]),
);

/** A GET that carries a WebSocket key is an upgrade attempt, whichever event node gave it to. */
function isUpgradeAttempt(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers['sec-websocket-key'] !== undefined;
}

export class NodeRuntime implements ServerRuntime {
  readonly name = 'node' as const;
  private server: Server | undefined;
  private readonly sockets = new Set<NodeServerSocket>();
  /** Raw sockets of upgrades still being checked (a token being verified). */
  private readonly pending = new Set<Socket>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;

  listen(settings: RuntimeSettings, handlers: RuntimeHandlers): Promise<number> {
    const server = (this.server = settings.tls ? createHttpsServer({ ...SERVER_OPTIONS, ...tlsOptions(settings.tls) }) : createHttpServer(SERVER_OPTIONS));
    const accept = this.acceptor(settings, handlers);
    // A throw in a handler would be an uncaught exception in an event listener: the connection goes instead.
    server.on('request', (req, res) => {
      try {
        if (req.rawHeaders.length > 2 * MAX_HEADER_COUNT) return void req.socket.destroy();
        if (isUpgradeAttempt(req)) handlers.upgrade(new NodeUpgrade(req, undefined, res));
        else handlers.http(nodeExchange(req, res, settings.maxBodyBytes));
      } catch {
        req.socket.destroy();
      }
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      socket.on('error', () => {}); // a reset while checking: 'close' says the rest
      if (req.rawHeaders.length > 2 * MAX_HEADER_COUNT) return void socket.destroy();
      this.pending.add(socket);
      socket.once('close', () => this.pending.delete(socket));
      try {
        // RFC 6455 asks for HTTP/1.1 (uWS leaves 1.0 unanswered; a 400 says why).
        if (req.httpVersion !== '1.1') new NodeUpgrade(req, { socket, head, accept }).refuse(400, {}, 'HTTP/1.1 required');
        else if (isUpgradeAttempt(req)) handlers.upgrade(new NodeUpgrade(req, { socket, head, accept }));
        else new NodeUpgrade(req, { socket, head, accept }).refuse(400, {}, 'bad WebSocket handshake');
      } catch {
        socket.destroy();
      }
    });
    server.on('clientError', (_error, socket) => socket.destroy());
    server.on('tlsClientError', () => {}); // a failed TLS handshake: the socket is already gone
    const sweepMs = Math.max(100, Math.min(1_000, (settings.idleTimeoutSec * 1000) / 4));
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const s of [...this.sockets]) s.sweep(now);
    }, sweepMs);
    this.sweeper.unref();
    return new Promise<number>((resolve, reject) => {
      const failed = (error: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${settings.host}:${settings.port}: ${error.code ?? error.message}`));
      server.once('error', failed);
      server.listen({ port: settings.port, host: settings.host, ...(settings.port !== 0 && REUSE_PORT_SUPPORTED ? { reusePort: true } : {}) }, () => {
        server.off('error', failed);
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : settings.port);
      });
    });
  }

  /** ws's handleUpgrade for accepted upgrades: the socket goes to the gateway's open handler. */
  private acceptor(settings: RuntimeSettings, handlers: RuntimeHandlers): Accept {
    const protocols = new WeakMap<IncomingMessage, string>();
    const wss = new WebSocketServer({
      noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: settings.maxMessageBytes,
      // Only the protocol the gateway selected (never an offered one echoed back).
      handleProtocols: (_offered, req) => protocols.get(req) || false,
    });
    const limits = { idleTimeoutSec: settings.idleTimeoutSec, maxBufferedBytes: settings.maxBufferedBytes, maxLifetimeMin: settings.maxLifetimeMin };
    return (req, socket, head, peer, protocol) => {
      protocols.set(req, protocol);
      wss.handleUpgrade(req, socket, head, (ws) => {
        this.pending.delete(socket);
        const serverSocket = new NodeServerSocket(ws, socket, limits, (s) => {
          this.sockets.delete(s);
          if (this.stopped && this.sockets.size === 0) clearInterval(this.sweeper); // the last socket of a closed server
        });
        this.sockets.add(serverSocket);
        try {
          serverSocket.listener = handlers.open(serverSocket, peer);
        } catch {
          serverSocket.cut();
        }
      });
    };
  }

  stopListening(): void {
    this.stopped = true;
    if (this.sockets.size === 0) clearInterval(this.sweeper);
    this.server?.close();
    this.server?.closeIdleConnections();
  }

  terminate(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const s of [...this.sockets]) s.cut();
    for (const socket of this.pending) socket.destroy();
    this.server?.closeAllConnections();
    this.server?.close();
  }
}
