/**
 * An HTTP proxy on loopback that refuses every WebSocket upgrade (as some corporate proxies and edges
 * do) and forwards every other request to the gateway, streaming both ways (SSE included).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NoUpgradeProxy { url: string; upgradesRefused: number; close(): Promise<void> }

export async function noUpgradeProxy(target: string): Promise<NoUpgradeProxy> {
  const { hostname, port } = new URL(target.replace(/^ws/, 'http'));
  const state = { upgradesRefused: 0 };
  const server: Server = createServer((req, res) => {
    const upstream = request({ hostname, port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (_req, socket) => {
    state.upgradesRefused++;
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${own}`,
    get upgradesRefused() { return state.upgradesRefused; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
