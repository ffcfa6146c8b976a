/**
 * Lanes of HTTP calls (the `http add(1,2)` rows): one keep-alive connection per lane, one request in
 * flight on each (HTTP/1.1 without pipelining), the same request each time. The same load generator
 * for raw uWS HTTP + JSON and for Uplink's calls over HTTP, so the row compares the servers.
 */
import { Agent, request } from 'node:http';

export function httpLanes(url: string, conns: number, path: string, body: string, token?: string): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
  const { hostname, port } = new URL(url.replace(/^ws/, 'http'));
  const agent = new Agent({ keepAlive: true, maxSockets: conns });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const one = () => new Promise<void>((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'POST', headers, agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
  const lanes = Array.from({ length: conns }, () => one);
  return Promise.resolve({ lanes, close: () => agent.destroy() });
}
