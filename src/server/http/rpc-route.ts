/**
 * The /rpc/ route: the checks every HTTP request of the gateway makes first (Host
 * allow-list, origin allow-list for browser requests, CORS preflight, per-address rate), then the
 * call (http-calls.ts). CORS is answered for allowed origins only, and only for the headers a call
 * uses: a token travels in the Authorization header, so no cookie is ever read and a cross-site form
 * cannot call anything.
 */
import type { BodyRead, HttpExchange } from './exchange.js';
import type { HttpCalls } from './http-calls.js';

export interface RpcRouteGate {
  hostAllowed(exchange: HttpExchange): boolean;
  originAllowed(origin: string | undefined): boolean;
  /** False when the client's address is over its rate (the request gets 429). */
  takeRate(exchange: HttpExchange): boolean;
  /** The last resort: a fault in the gateway's code is logged, never the process's end. */
  failed(error: unknown): void;
}

const ALLOWED_HEADERS = 'authorization, content-type, accept, uplink-timeout, uplink-oneway, last-event-id';

/** An exchange whose every answer carries the CORS headers of an allowed browser origin. */
class CorsExchange implements HttpExchange {
  private readonly cors: Record<string, string>;
  constructor(private readonly inner: HttpExchange, origin: string) {
    this.cors = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Expose-Headers': 'content-type' };
  }
  get method(): string { return this.inner.method; }
  get path(): string { return this.inner.path; }
  get query(): string { return this.inner.query; }
  get remoteAddress(): string { return this.inner.remoteAddress; }
  get aborted(): boolean { return this.inner.aborted; }
  header(name: string): string { return this.inner.header(name); }
  body(maxBytes: number): Promise<BodyRead> { return this.inner.body(maxBytes); }
  onAborted(handler: () => void): void { this.inner.onAborted(handler); }
  respond(status: number, headers: Record<string, string>, body?: string | Uint8Array): void { this.inner.respond(status, { ...headers, ...this.cors }, body); }
  startStream(status: number, headers: Record<string, string>): void { this.inner.startStream(status, { ...headers, ...this.cors }); }
  write(part: string): boolean { return this.inner.write(part); }
  onWritable(handler: () => void): void { this.inner.onWritable(handler); }
  end(): void { this.inner.end(); }
}

/** The route for /rpc/*: `calls` after the gateway-wide checks. */
export function rpcRoute(calls: HttpCalls, gate: RpcRouteGate): (exchange: HttpExchange) => void {
  return (request) => {
    let exchange = request;
    try {
      if (!gate.hostAllowed(exchange)) return exchange.respond(421, {}, 'host not allowed');
      const origin = exchange.header('origin') || undefined;
      if (origin !== undefined && !gate.originAllowed(origin)) return exchange.respond(403, {}, 'origin not allowed');
      if (exchange.method === 'OPTIONS') {
        return exchange.respond(origin ? 204 : 405, origin ? {
          'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Allow-Methods': 'GET, POST, PUT',
          'Access-Control-Allow-Headers': ALLOWED_HEADERS, 'Access-Control-Max-Age': '600',
        } : { Allow: 'GET, POST, PUT' });
      }
      if (origin !== undefined) exchange = new CorsExchange(exchange, origin);
      if (!gate.takeRate(exchange)) return exchange.respond(429, { 'Retry-After': '1' }, 'too many requests from this address');
      const answered = exchange;
      void calls.handle(answered).catch((error: unknown) => {
        gate.failed(error);
        calls.fail(answered, { code: 'INTERNAL', name: 'UplinkError', message: 'the gateway failed to handle this request' });
      });
    } catch (error) {
      gate.failed(error);
      exchange.respond(500, {}, 'internal error');
    }
  };
}
