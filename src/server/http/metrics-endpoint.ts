/**
 * Where Prometheus scrapes a gateway: its own HTTP listener (off the public port; the default when
 * metrics are on), or GET /metrics on the public port behind a bearer token. Both answer only
 * GET /metrics; the token is compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { GatewayMetrics } from '../metrics.js';
import type { HttpExchange } from './exchange.js';

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A plain HTTP listener for GET /metrics on `host:port` (port 0: a free one). An object host, which
 * has no HTTP port of its own, passes `ready`: the listener then answers GET /health (200 while the
 * process runs) and GET /ready (200 'ok', or 503 with the reason) for its probes too.
 */
export async function listenForMetrics(metrics: GatewayMetrics, host: string, port: number, ready?: () => string): Promise<MetricsListener> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && ready && (path === '/health' || path === '/ready')) {
      const reason = path === '/health' ? 'ok' : ready();
      res.writeHead(reason === 'ok' ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
        .end(JSON.stringify(reason === 'ok' ? { status: path === '/health' ? 'ok' : 'ready' } : { status: 'not ready', reasons: [reason] }));
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404).end('not found');
      return;
    }
    metrics.scrape().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(body),
      () => res.writeHead(500).end('metrics failed'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** GET /metrics on the public port, for `Authorization: Bearer <token>` only (401 otherwise). */
export function metricsRoute(metrics: GatewayMetrics, token: string): (exchange: HttpExchange) => void {
  const expected = Buffer.from(`Bearer ${token}`);
  return (exchange) => {
    const given = Buffer.from(exchange.header('authorization'));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return exchange.respond(401, { 'WWW-Authenticate': 'Bearer' }, 'metrics need the metrics token');
    }
    void metrics.scrape().then(
      ({ contentType, body }) => exchange.respond(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }, body),
      () => exchange.respond(500, {}, 'metrics failed'),
    );
  };
}
