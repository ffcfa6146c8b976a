/** Test helpers: a real gateway on a loopback port, the real client, and a raw socket for hostile frames. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { connect, type NodeClientOptions } from '../../src/client/index.js';
import { registerFixtures, TestError } from './fixtures.js';
import { Gateway, type GatewayOptions } from '../../src/index.js';
import { natsBacked, natsBackedGateway, natsServed } from './nats-backed.js';

export interface LogCapture { lines: Array<Record<string, unknown>>; text(): string }

/** A pino logger that keeps every line in memory, so tests can assert what was (not) logged. */
export function captureLogs(level = 'debug'): { logger: pino.Logger; logs: LogCapture } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), logs: { lines, text: () => raw.join('\n') } };
}

/** UPLINK_TEST_RUNTIME=node (or uws): the same tests on that server runtime (unless a test names one). */
export const testRuntime = (process.env.UPLINK_TEST_RUNTIME || undefined) as GatewayOptions['runtime'];
/** True when the gateways of this run are on the node runtime (tests of a uWS-only behaviour skip then). */
export const onNodeRuntime = testRuntime === 'node';

export async function startGateway(options: GatewayOptions = {}, demo = true): Promise<{ gateway: Gateway; url: string; logs: LogCapture }> {
  const { logger, logs } = captureLogs(options.logLevel ?? 'debug');
  if (testRuntime && options.runtime === undefined) options = { ...options, runtime: testRuntime };
  // UPLINK_TEST_NATS=1: the same tests with every object on a host behind NATS (support/nats-backed.ts).
  const gateway = natsBacked && !options.remoteObjects && !options.objectHost
    ? await natsBackedGateway({ port: 0, logger, ...options })
    : new Gateway({ port: 0, logger, ...options });
  if (demo) registerFixtures(gateway);
  await gateway.listen();
  await natsServed(gateway);
  return { gateway, url: `ws://127.0.0.1:${gateway.port}`, logs };
}

/** The real client; reconnecting is off unless a test turns it on (so closed gateways end their clients). */
export async function client(url: string, options: NodeClientOptions = {}) {
  const c = await connect(url, { reconnect: false, ...options });
  c.codec.registerError(TestError, 'TestError');
  return c;
}

export interface RawFrame { header: Record<string, unknown>; body: string }

/** A plain WebSocket that speaks the protocol by hand (for frames the real client never sends). */
export class RawSocket {
  readonly frames: RawFrame[] = [];
  private waiters: Array<() => void> = [];
  private barriers = 0;
  readonly closed: Promise<{ code: number; reason: string }>;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : String(data);
      const nl = text.indexOf('\n');
      this.frames.push({ header: JSON.parse(nl < 0 ? text : text.slice(0, nl)), body: nl < 0 ? '' : text.slice(nl + 1) });
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const w of this.waiters.splice(0)) w();
    }));
  }

  static async open(url: string, hello = true, headers: Record<string, string> = {}): Promise<RawSocket> {
    const ws = new WebSocket(url, { headers });
    const raw = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (hello) {
      raw.send('{"t":"hello","v":[1]}');
      const welcome = await raw.next();
      if (welcome.header.t !== 'welcome') throw new Error(`expected welcome, got ${JSON.stringify(welcome.header)}`);
    }
    return raw;
  }

  send(data: string | Uint8Array): void {
    this.ws.send(data);
  }

  /** The next frame (waits up to 5 s). */
  async next(timeoutMs = 5_000): Promise<RawFrame> {
    const until = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame');
      if (Date.now() > until) throw new Error('no frame within the timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, until - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.frames.shift() as RawFrame;
  }

  /** Sends a call frame and returns its answer. */
  async call(header: Record<string, unknown>, body?: string): Promise<RawFrame> {
    this.send(JSON.stringify({ t: 'call', ...header }) + (body === undefined ? '' : '\n' + body));
    return this.next();
  }

  /**
   * A ping round trip: once its pong is back, the gateway has read every frame sent before it (one
   * socket is read in order). The pong is taken out of `frames`.
   */
  async barrier(timeoutMs = 5_000): Promise<void> {
    const id = 900_000 + ++this.barriers; // ping ids are their own; far from the ids tests use
    this.send(JSON.stringify({ t: 'ping', id }));
    const until = Date.now() + timeoutMs;
    for (;;) {
      const at = this.frames.findIndex((f) => f.header.t === 'pong' && f.header.id === id);
      if (at >= 0) { this.frames.splice(at, 1); return; }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for the pong');
      if (Date.now() > until) throw new Error('no pong within the timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, until - Date.now()));
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  close(): void {
    this.ws.close();
  }
}

/** Rejects with the error a promise rejects with, or fails when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; data?: unknown }> {
  try {
    await p;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay between client and gateway, so tests can cut or freeze real sockets mid-call. */
export class TcpRelay {
  private readonly sockets = new Set<import('node:net').Socket>();
  private frozen = false;
  private inboundFrozen = false;
  private constructor(private readonly server: import('node:net').Server, readonly port: number) {}

  /** Bytes from clients that a freeze dropped. */
  dropped = 0;

  /** The gateway port new connections go to (change it to stand for a restarted server). */
  targetPort = 0;

  static async start(targetPort: number): Promise<TcpRelay> {
    const net = await import('node:net');
    let relay: TcpRelay;
    const server = net.createServer((inbound) => {
      const outbound = net.connect(relay.targetPort, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        relay.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => { relay.sockets.delete(s); inbound.destroy(); outbound.destroy(); });
      }
      inbound.on('data', (d) => {
        if (!relay.frozen) outbound.write(d);
        else relay.dropped += d.length;
      });
      outbound.on('data', (d) => {
        if (relay.frozen) return;
        if (relay.inboundFrozen) outbound.pause(); // the client stops reading: TCP backpressure reaches the server
        else inbound.write(d);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    relay = new TcpRelay(server, (server.address() as import('node:net').AddressInfo).port);
    relay.targetPort = targetPort;
    return relay;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Destroys every relayed socket: both peers see an abrupt TCP reset, no close frame. */
  cut(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  /** Silently drops all traffic from now on, like a dead network path. */
  freeze(): void {
    this.frozen = true;
  }

  /** Lets traffic through again (sockets that lost data while frozen stay broken: cut them). */
  unfreeze(): void {
    this.frozen = false;
  }

  /** The client stops reading: nothing more is read from the gateway's side of the relay. */
  freezeInbound(): void {
    this.inboundFrozen = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
