/**
 * A TCP relay on loopback that a test can cut and restore: a process connected through it loses its
 * connection when the relay is cut and can reconnect only once it is restored (on the same port), so
 * a test decides exactly when one participant of a cluster comes back.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(readonly port: number, private readonly target: () => number) {}

  /** A relay on a free port to 127.0.0.1:`target()` (read at each connection: the target may move). */
  static async start(target: () => number): Promise<TcpProxy> {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((done) => probe.close(() => done()));
    const proxy = new TcpProxy(port, target);
    await proxy.restore();
    return proxy;
  }

  /** Drops every relayed connection and refuses new ones. */
  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((done) => server.close(() => done()));
  }

  /** Accepts and relays again, on the same port. */
  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target() });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => { client.destroy(); upstream.destroy(); });
        s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((done) => server.listen(this.port, '127.0.0.1', done));
    this.server = server;
  }
}
