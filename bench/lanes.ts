/**
 * The load `npm run bench` puts on a server: lanes, each a function that runs one operation (one
 * request on a connection of its own, or several streams), driven with a fixed number in flight.
 */
import WebSocket from 'ws';
import { callback, connect, type RemoteRef, type UplinkClient } from '../src/client/index.js';

/** Rows measured against the same server's plain add(1,2) call instead of a raw reference. */
export const CALL_RELATIVE = new Set(['callback 8x32', 'ref call 8x32']);

/** bench.callMe(fn, 1): the method calls the client's function once. One callback per client, reused. */
export function callbackRoundTrip(): (c: UplinkClient) => Promise<unknown> {
  const callbacks = new WeakMap<UplinkClient, unknown>();
  return (c) => {
    let fn = callbacks.get(c);
    if (!fn) callbacks.set(c, (fn = callback((x: number) => x + 1)));
    return c.call('bench', 'callMe', [fn, 1]);
  };
}

/** add(1, 2) on a server reference the client holds (one per client, opened on first use). */
export function refCall(): (c: UplinkClient) => Promise<unknown> {
  const refs = new WeakMap<UplinkClient, Promise<RemoteRef<{ add(a: number, b: number): number }>>>();
  return async (c) => {
    let ref = refs.get(c);
    if (!ref) refs.set(c, (ref = c.call('bench', 'open', []) as Promise<RemoteRef<{ add(a: number, b: number): number }>>));
    return (await ref).add(1, 2);
  };
}

/** Lane builders; Uplink's lanes connect with `token`. */
export function laneBuilders(token: string) {
  /** Lanes over plain `ws` sockets that send the same message each time (both reference servers reply in order). */
  function rawLanes(url: string, conns: number, message: string | Uint8Array): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
    return wireLanes(url, conns, () => message);
  }

  /**
   * Lanes over plain `ws` sockets where each request carries its own id (`message(id)`), and
   * `hello`, when given, is sent and answered first: the same load generator for Uplink (its wire
   * protocol spoken by hand, after a hello with the token) and for raw-json, so that a row compares
   * the servers alone. The Uplink client costs the load generator about twice what a bare socket
   * does (docs/performance.md), so with it the gateway sees fewer messages per wake-up than raw-json.
   */
  async function wireLanes(url: string, conns: number, message: (id: number) => string | Uint8Array, hello?: string): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
    const sockets = await Promise.all(Array.from({ length: conns }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      ws.once('open', () => {
        if (hello === undefined) return resolve(ws);
        ws.send(hello);
        ws.once('message', (welcome) => (String(welcome).startsWith('{"t":"welcome"') ? resolve(ws) : reject(new Error(`no welcome: ${String(welcome)}`))));
      }).once('error', reject);
    })));
    const lanes = sockets.map((ws) => {
      const waiting: Array<() => void> = [];
      let next = 1;
      // Both servers answer in order, so each reply answers the oldest request on its socket.
      ws.on('message', () => waiting.shift()?.());
      return () => new Promise<void>((resolve) => {
        waiting.push(resolve);
        ws.send(message(next++));
      });
    });
    return { lanes, close: () => sockets.forEach((s) => s.close()) };
  }

  async function uplinkLanes(url: string, conns: number, op: (c: UplinkClient) => Promise<unknown>, ca?: string): Promise<{ lanes: Array<() => Promise<void>>; close(): void }> {
    const clients = await Promise.all(Array.from({ length: conns }, () => connect(url, { token, timeoutMs: 0, keepaliveMs: 0, reconnect: false, ...(ca ? { ca } : {}) })));
    return { lanes: clients.map((c) => async () => void (await op(c))), close: () => clients.forEach((c) => void c.close()) };
  }

  /**
   * Stream lanes: each operation is `streams` concurrent streams of `items` items on one connection;
   * ops are counted in items so that per-op figures are per item.
   */
  async function streamLanes(url: string, conns: number, streams: number, items: number, method = 'count', window = 8_192): Promise<{ lanes: Array<() => Promise<void>>; close(): void; itemsPerOp: number }> {
    const clients = await Promise.all(Array.from({ length: conns }, () => connect(url, { token, timeoutMs: 0, keepaliveMs: 0, reconnect: false, streamWindow: window })));
    const lanes = clients.map((c) => async () => {
      await Promise.all(Array.from({ length: streams }, async () => {
        let n = 0;
        for await (const _ of c.stream('bench', method, [items])) n++;
        if (n !== items) throw new Error(`stream delivered ${n} of ${items}`);
      }));
    });
    return { lanes, close: () => clients.forEach((c) => void c.close()), itemsPerOp: streams * items };
  }

  return { rawLanes, wireLanes, uplinkLanes, streamLanes };
}
