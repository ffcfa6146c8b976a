/**
 * HTTP concerns of the gateway besides the WebSocket upgrade: the Host header check (DNS rebinding),
 * GET /health, static files, the demo token endpoint, and an answer for everything else. Every route
 * checks the Host allow-list before anything else.
 */
import type uws from 'uWebSockets.js';
import { mintDevToken } from '../../auth/dev-tokens.js';
import type { GatewayOptions } from '../config.js';
import type { Logger } from '../logger.js';
import type { StaticFiles } from './static-files.js';

/** The host name of a Host header, lower case, without its port (IPv6 literals keep their brackets). */
export function hostName(header: string): string {
  const host = header.toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** Shortest and longest lifetime a demo token may ask for with `ttl` (seconds). */
const DEMO_TTL_RANGE = { min: 10, max: 24 * 3600 };

/**
 * Demo mode only: GET /demo/token?sub=&scope=&ttl= mints a token, answering
 * `{"token", "expiresAt"}` (epoch ms). `ttl` (seconds, 10 s to 24 h) defaults to the configured
 * lifetime. UNSAFE: anyone who can reach it gets one.
 */
export function serveDemoTokens(
  app: uws.TemplatedApp, demo: NonNullable<GatewayOptions['demoTokens']>, logger: Logger, hostAllowed: (req: uws.HttpRequest) => boolean,
): void {
  logger.warn('DEMO TOKEN ENDPOINT ENABLED at GET /demo/token: anyone can mint a token. UNSAFE FOR PRODUCTION.');
  app.get('/demo/token', (res, req) => {
    if (!hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
    const sub = req.getQuery('sub') ?? '';
    const scope = req.getQuery('scope') ?? '';
    let aborted = false;
    res.onAborted(() => (aborted = true));
    const ttlText = req.getQuery('ttl') ?? '';
    const ttlSec = ttlText === '' ? demo.ttlSec ?? 3600 : Number(ttlText);
    if (!/^[\w.@-]{1,64}$/.test(sub) || !/^[\w:. -]{0,256}$/.test(scope) || !Number.isInteger(ttlSec) || ttlSec < DEMO_TTL_RANGE.min || ttlSec > DEMO_TTL_RANGE.max) {
      res.writeStatus('400 Bad Request').end(`sub must be 1-64 word characters; scope space-separated words; ttl whole seconds from ${DEMO_TTL_RANGE.min} to ${DEMO_TTL_RANGE.max}`);
      return;
    }
    void mintDevToken(demo.secret, { sub, scope, ttlSec, ...(demo.issuer ? { issuer: demo.issuer } : {}), ...(demo.audience ? { audience: demo.audience } : {}) }).then((token) => {
      if (aborted) return;
      res.cork(() => res.writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store')
        .end(JSON.stringify({ token, expiresAt: Date.now() + ttlSec * 1000 })));
    });
  });
}

/** The probes: liveness (GET /health) and readiness (GET /ready); 200 when `status` is 'ok' or 'ready'. */
export interface Probes {
  health(): { status: string };
  ready(): { status: string };
}

/** GET /health and GET /ready (200 or 503, the answer as JSON), static files, and 400/404 for the rest. */
export function serveHttp(app: uws.TemplatedApp, probes: Probes, files: StaticFiles | undefined, hostAllowed: (req: uws.HttpRequest) => boolean): void {
  const probe = (path: string, answer: () => { status: string }) => app.get(path, (res, req) => {
    if (!hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
    const body = answer();
    res.writeStatus(body.status === 'ok' || body.status === 'ready' ? '200 OK' : '503 Service Unavailable')
      .writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store')
      .end(JSON.stringify(body));
  });
  probe('/health', () => probes.health());
  probe('/ready', () => probes.ready());
  // Requests the WebSocket route did not take: uWS itself passes over upgrades whose key is not
  // 24 characters long, so they land here too and get a 400 instead of no answer at all.
  app.any('/*', (res, req) => {
    if (!hostAllowed(req)) return void res.writeStatus('421 Misdirected Request').end('host not allowed');
    if (files && req.getMethod() === 'get' && files.serve(res, req)) return;
    const isUpgrade = req.getHeader('upgrade') !== '';
    res.writeStatus(isUpgrade ? '400 Bad Request' : '404 Not Found').end(isUpgrade ? 'bad WebSocket handshake' : 'not found');
  });
}
