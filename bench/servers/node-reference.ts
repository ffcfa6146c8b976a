/** What the node-runtime reference servers (ws-*.ts, node-http.ts) share: listen on a free loopback port and say so. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function listenAndSayReady(http: Server): void {
  http.listen(0, '127.0.0.1', () => console.log(`ready ${(http.address() as AddressInfo).port}`));
  // The idle-connection bench reads RSS after a full collection (the bench starts servers with --expose-gc).
  process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
}
