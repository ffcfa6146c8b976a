/**
 * An HttpExchange over node:http. The head is read when the exchange is made; a body is read at once
 * (like uws-exchange.ts) and kept up to the cap the route gives, the rest read and dropped; the
 * exchange counts as aborted once the response closes before it ended; writes after that are dropped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyRead, HttpExchange } from './exchange.js';
import { BodyParts, capped, statusLine } from './exchange.js';

/** Request headers kept per exchange, at most (as uws-exchange.ts). */
const MAX_HEADERS = 100;

/** The request's headers as one map: repeated headers joined with ', ', names lower case. */
export function headerMap(req: IncomingMessage): Map<string, string> {
  const headers = new Map<string, string>();
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (headers.size >= MAX_HEADERS) break;
    if (values) headers.set(name, values.join(', '));
  }
  return headers;
}

/** The reason phrase the gateway uses for a status (as uWS answers get it). */
export function reasonPhrase(status: number): string {
  return statusLine(status).slice(4);
}

class NodeExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string;
  private readonly headers: Map<string, string>;
  aborted = false;
  private done = false;
  private abortHandlers: Array<() => void> = [];
  private writableHandler: (() => void) | undefined;
  private readonly bodyRead: Promise<BodyRead>;

  constructor(private readonly req: IncomingMessage, private readonly res: ServerResponse, maxBodyBytes: number) {
    this.method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
    this.remoteAddress = req.socket.remoteAddress ?? '';
    this.headers = headerMap(req);
    res.on('close', () => {
      if (res.writableFinished) return;
      this.aborted = true;
      for (const handler of this.abortHandlers.splice(0)) handler();
    });
    res.on('drain', () => {
      const handler = this.writableHandler;
      this.writableHandler = undefined;
      handler?.();
    });
    this.bodyRead = this.readBody(maxBodyBytes);
  }

  header(name: string): string {
    return this.headers.get(name) ?? '';
  }

  body(maxBytes: number): Promise<BodyRead> {
    return capped(this.bodyRead, maxBytes);
  }

  private readBody(maxBytes: number): Promise<BodyRead> {
    return new Promise((resolve) => {
      const parts = new BodyParts(maxBytes);
      this.onAborted(() => resolve({ aborted: true }));
      this.req.on('error', () => resolve({ aborted: true }));
      // Past the cap the route answers 413 at once; the rest is read and dropped.
      this.req.on('data', (chunk: Buffer) => {
        if (!parts.add(chunk)) resolve(parts.read());
      });
      this.req.on('end', () => resolve(parts.read()));
    });
  }

  onAborted(handler: () => void): void {
    if (this.aborted) return handler();
    this.abortHandlers.push(handler);
  }

  respond(status: number, headers: Record<string, string>, body: string | Uint8Array = ''): void {
    if (this.aborted || this.done) return;
    this.done = true;
    if (status === 204 || status === 304) return void this.res.writeHead(status, reasonPhrase(status), headers).end();
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    this.res.writeHead(status, reasonPhrase(status), { ...headers, 'Content-Length': String(bytes.byteLength) }).end(bytes);
  }

  startStream(status: number, headers: Record<string, string>): void {
    if (this.aborted || this.done) return;
    this.res.writeHead(status, reasonPhrase(status), headers);
    this.res.flushHeaders();
  }

  write(part: string): boolean {
    if (this.aborted || this.done) return true;
    return this.res.write(part);
  }

  onWritable(handler: () => void): void {
    this.writableHandler = handler;
  }

  end(): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.end();
  }
}

/** `maxBodyBytes`: the most of a body kept (a longer one is read to its end and dropped). */
export function nodeExchange(req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): HttpExchange {
  return new NodeExchange(req, res, maxBodyBytes);
}
