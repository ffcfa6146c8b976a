/**
 * An HttpExchange over uWebSockets.js. uWS reuses its request object once the handler returns,
 * invalidates the response once the client aborts, and drops body chunks nobody listens for while
 * the handler runs, so the head is copied here at once, the abort handler and the body reader are
 * registered at once (the body is buffered up to the cap the route gives), and every write from
 * asynchronous code is corked and skipped after an abort.
 */
import type uws from 'uWebSockets.js';
import type { BodyRead, HttpExchange } from './exchange.js';
import { BodyParts, capped, statusLine } from './exchange.js';

/** Request headers kept per exchange, at most (uWS itself bounds the header block). */
const MAX_HEADERS = 100;

class UwsExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly remoteAddress: string;
  private readonly headers = new Map<string, string>();
  aborted = false;
  private done = false;
  private abortHandlers: Array<() => void> = [];
  private writableHandler: (() => void) | undefined;
  private readonly bodyRead: Promise<BodyRead>;

  constructor(private readonly res: uws.HttpResponse, req: uws.HttpRequest, maxBodyBytes: number) {
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    this.remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    req.forEach((name, value) => {
      if (this.headers.size >= MAX_HEADERS && !this.headers.has(name)) return;
      const previous = this.headers.get(name);
      this.headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    });
    res.onAborted(() => {
      this.aborted = true;
      for (const handler of this.abortHandlers.splice(0)) handler();
    });
    const hasBody = this.header('transfer-encoding') !== '' || (this.header('content-length') !== '' && this.header('content-length') !== '0');
    this.bodyRead = hasBody ? this.readBody(maxBodyBytes) : Promise.resolve({ bytes: new Uint8Array(0) });
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
      this.res.onData((chunk, isLast) => {
        if (parts.over) return;
        // uWS frees the chunk when this callback returns: a copy is kept.
        if (!parts.add(Buffer.from(chunk.slice(0)))) return resolve(parts.read());
        if (isLast) resolve(parts.read());
      });
    });
  }

  onAborted(handler: () => void): void {
    if (this.aborted) return handler();
    this.abortHandlers.push(handler);
  }

  respond(status: number, headers: Record<string, string>, body: string | Uint8Array = ''): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
      this.res.end(body);
    });
  }

  startStream(status: number, headers: Record<string, string>): void {
    if (this.aborted || this.done) return;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
    });
    this.res.onWritable(() => {
      const handler = this.writableHandler;
      this.writableHandler = undefined;
      handler?.();
      return true;
    });
  }

  write(part: string): boolean {
    if (this.aborted || this.done) return true;
    let written = true;
    this.res.cork(() => (written = this.res.write(part)));
    return written;
  }

  onWritable(handler: () => void): void {
    this.writableHandler = handler;
  }

  end(): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.cork(() => this.res.end());
  }
}

/** `maxBodyBytes`: the most of a body kept (a longer one is read to its end and dropped). */
export function uwsExchange(res: uws.HttpResponse, req: uws.HttpRequest, maxBodyBytes: number): HttpExchange {
  return new UwsExchange(res, req, maxBodyBytes);
}
