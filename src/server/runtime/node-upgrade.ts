/**
 * An upgrade request of the node runtime. Node emits 'upgrade' (a raw socket) for requests with
 * `Connection: upgrade` and an Upgrade header, and 'request' for the rest; both kinds reach the
 * gateway's checks (as uWS hands every GET with a WebSocket key to its upgrade handler), so a
 * malformed upgrade gets the same status on both runtimes. A refusal on a raw socket is written by
 * hand and the socket ended; only a raw socket can be accepted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { PeerInfo } from '../connection/connection-environment.js';
import { headerMap, reasonPhrase } from '../http/node-exchange.js';
import type { UpgradeRequest } from './runtime.js';

/** What is done with an accepted upgrade (node-runtime.ts: ws's handleUpgrade). */
export type Accept = (req: IncomingMessage, socket: Socket, head: Buffer, peer: PeerInfo, protocol: string) => void;

/** Header names and values may carry only these (a refusal never echoes client text, but be sure). */
const SAFE_HEADER = /^[\t\x20-\x7e]*$/;

export class NodeUpgrade implements UpgradeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string;
  readonly headerBytes: number;
  private readonly headers: Map<string, string>;
  aborted = false;
  private answered = false;
  private abortHandlers: Array<() => void> = [];
  private readonly socket: Socket;

  /** `raw`: the socket and head of an 'upgrade' event; else `res` answers. */
  constructor(private readonly req: IncomingMessage, private readonly raw: { socket: Socket; head: Buffer; accept: Accept } | undefined, private readonly res?: ServerResponse) {
    this.method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
    this.socket = req.socket;
    this.remoteAddress = this.socket.remoteAddress ?? '';
    this.headers = headerMap(req);
    let bytes = 0;
    for (let i = 0; i < req.rawHeaders.length; i++) bytes += req.rawHeaders[i]!.length;
    this.headerBytes = bytes;
    this.socket.once('close', () => {
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
    if (this.aborted || this.answered) return;
    this.answered = true;
    if (this.res) return void this.res.writeHead(status, reasonPhrase(status), headers).end(body);
    const bytes = Buffer.from(body);
    const lines = [`HTTP/1.1 ${status} ${reasonPhrase(status)}`, 'Connection: close', 'Content-Type: text/plain', `Content-Length: ${bytes.byteLength}`];
    for (const [name, value] of Object.entries(headers)) if (SAFE_HEADER.test(name + value)) lines.push(`${name}: ${value}`);
    this.socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), bytes]));
  }

  accept(peer: PeerInfo, protocol: string): void {
    if (this.aborted || this.answered) return;
    // A request node did not emit as an upgrade (no Connection: upgrade) passes no check: never here.
    if (!this.raw) return this.refuse(400, {}, 'bad WebSocket handshake');
    this.answered = true;
    this.raw.accept(this.req, this.raw.socket, this.raw.head, peer, protocol);
  }
}
