/**
 * HTTP concerns of the gateway besides the WebSocket upgrade: the Host header check (DNS rebinding),
 * GET /health and /ready, the metrics route, the demo token endpoint, /rpc/, static files, and an
 * answer for everything else. Every route checks the Host allow-list before anything else. One router
 * over the HTTP seam (exchange.ts), whatever the runtime.
 */
import { mintDevToken } from '../../auth/dev-tokens.js';
import type { GatewayOptions } from '../config.js';
import type { HttpExchange } from './exchange.js';
import type { StaticFiles } from './static-files.js';
import { queryParameter } from './upgrade.js';

/** The host name of a Host header, lower case, without its port (IPv6 literals keep their brackets). */
export function hostName(header: string): string {
  const host = header.toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** Shortest and longest lifetime a demo token may ask for with `ttl` (seconds). */
const DEMO_TTL_RANGE = { min: 10, max: 24 * 3600 };

type Route = (exchange: HttpExchange) => void;

/**
 * Demo mode only: GET /demo/token?sub=&scope=&ttl= mints a token, answering
 * `{"token", "expiresAt"}` (epoch ms). `ttl` (seconds, 10 s to 24 h) defaults to the configured
 * lifetime. UNSAFE: anyone who can reach it gets one.
 */
export function demoTokenRoute(demo: NonNullable<GatewayOptions['demoTokens']>): Route {
  return (exchange) => {
    const sub = queryParameter(exchange.query, 'sub');
    const scope = queryParameter(exchange.query, 'scope');
    const ttlText = queryParameter(exchange.query, 'ttl');
    const ttlSec = ttlText === '' ? demo.ttlSec ?? 3600 : Number(ttlText);
    if (!/^[\w.@-]{1,64}$/.test(sub) || !/^[\w:. -]{0,256}$/.test(scope) || !Number.isInteger(ttlSec) || ttlSec < DEMO_TTL_RANGE.min || ttlSec > DEMO_TTL_RANGE.max) {
      exchange.respond(400, {}, `sub must be 1-64 word characters; scope space-separated words; ttl whole seconds from ${DEMO_TTL_RANGE.min} to ${DEMO_TTL_RANGE.max}`);
      return;
    }
    void mintDevToken(demo.secret, { sub, scope, ttlSec, ...(demo.issuer ? { issuer: demo.issuer } : {}), ...(demo.audience ? { audience: demo.audience } : {}) }).then((token) => {
      exchange.respond(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify({ token, expiresAt: Date.now() + ttlSec * 1000 }));
    }, () => exchange.respond(500, {}, 'token minting failed'));
  };
}

/** The probes: liveness (GET /health) and readiness (GET /ready); 200 when `status` is 'ok' or 'ready'. */
export interface Probes {
  health(): { status: string };
  ready(): { status: string };
}

function probeRoute(answer: () => { status: string }): Route {
  return (exchange) => {
    const body = answer();
    exchange.respond(body.status === 'ok' || body.status === 'ready' ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(body));
  };
}

export interface HttpRoutes {
  probes: Probes;
  files: StaticFiles | undefined;
  hostAllowed(exchange: HttpExchange): boolean;
  /** GET /demo/token, when demo tokens are on. */
  demoTokens?: Route | undefined;
  /** GET /metrics on the public port, when it is served there. */
  metrics?: Route | undefined;
  /** Everything under /rpc/. */
  rpc: Route;
  /** The last resort: a fault in the gateway's code is logged, never the process's end. */
  failed(error: unknown): void;
}

/** One handler for every HTTP request: 421 for a foreign Host, then the routes, 400/404 for the rest. */
export function httpRouter(routes: HttpRoutes): Route {
  const exact = new Map<string, Route>([['/health', probeRoute(() => routes.probes.health())], ['/ready', probeRoute(() => routes.probes.ready())]]);
  if (routes.demoTokens) exact.set('/demo/token', routes.demoTokens);
  if (routes.metrics) exact.set('/metrics', routes.metrics);
  return (exchange) => {
    try {
      if (exchange.path.startsWith('/rpc/')) return routes.rpc(exchange); // its own checks (CORS first)
      if (!routes.hostAllowed(exchange)) return exchange.respond(421, {}, 'host not allowed');
      const route = exchange.method === 'GET' ? exact.get(exchange.path) : undefined;
      if (route) return route(exchange);
      if (routes.files && exchange.method === 'GET' && routes.files.serve(exchange)) return;
      // Upgrades the runtime did not take (uWS passes over those whose key is not 24 characters long).
      const isUpgrade = exchange.header('upgrade') !== '';
      exchange.respond(isUpgrade ? 400 : 404, {}, isUpgrade ? 'bad WebSocket handshake' : 'not found');
    } catch (error) {
      routes.failed(error);
      exchange.respond(500, {}, 'internal error');
    }
  };
}
