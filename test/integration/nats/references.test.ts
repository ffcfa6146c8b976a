/**
 * Callbacks and references through a real nats-server: two object hosts, two gateways, each on its
 * own NATS connection. A server reference is answered by the host that made it (its id names the
 * host); a callback from a host reaches the client through the client's own gateway, whichever
 * gateway the call that triggered it came through; releases and closed connections reach the hosts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callback, exposeLocal, type Callback, type RemoteRef } from '../../../src/client/index.js';
import { ErrorCode, expose, remote, UplinkError, type ClientCallback, type ClientObject } from '../../../src/index.js';
import type { LocalObjectHost } from '../../../src/host/local-host.js';
import { client, rejection } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { natsUnavailable } from '../../support/nats-server.js';
import { TestCluster, type ClusterGateway, type ClusterHost } from '../../support/nats-cluster.js';

const skip = natsUnavailable();
const disposed = new Map<string, number>();

class Cart {
  readonly items: string[] = [];
  constructor(readonly host: string) {}
  @expose add(item: string): number {
    return this.items.push(item);
  }

  @expose where(): string {
    return this.host;
  }

  @expose async *list(): AsyncGenerator<string> {
    yield* this.items;
  }

  [Symbol.dispose](): void {
    disposed.set(this.host, (disposed.get(this.host) ?? 0) + 1);
  }
}

class Shop {
  constructor(private readonly host: string) {}
  @expose openCart(): { cart: Cart; madeBy: string } {
    return { cart: remote(new Cart(this.host)), madeBy: this.host };
  }
}

/** Lives on one host only: subscribers of every gateway are called back from there. */
class Board {
  private readonly subscribers = new Set<ClientCallback<(message: string) => void>>();
  @expose subscribe(fn: ClientCallback<(message: string) => void>): number {
    this.subscribers.add(fn);
    return this.subscribers.size;
  }

  @expose async publish(message: string): Promise<string[]> {
    return Promise.all([...this.subscribers].map((fn) => fn(message).then(() => 'ok', (e: UplinkError) => String(e.code))));
  }

  @expose async progress(steps: number, fn: ClientCallback<(pct: number) => void>): Promise<string> {
    for (let i = 1; i <= steps; i++) await fn((100 * i) / steps);
    return 'done';
  }

  @expose async ask(target: ClientObject<{ twice(x: number): number }>, x: number): Promise<number> {
    return target.twice(x);
  }

  @expose async silent(fn: ClientCallback<() => void>): Promise<string> {
    return fn().then(() => 'answered', (e: UplinkError) => String(e.code));
  }
}

interface CartApi { add(item: string): number; where(): string; list(): AsyncGenerator<string> }
interface ShopApi { openCart(): { cart: RemoteRef<CartApi>; madeBy: string } }
interface BoardApi {
  subscribe(fn: Callback<(message: string) => void>): number;
  publish(message: string): string[];
  progress(steps: number, fn: Callback<(pct: number) => void>): string;
  ask(target: unknown, x: number): number;
  silent(fn: Callback<() => Promise<void>>): string;
}

let cluster: TestCluster;
let hosts: ClusterHost[];
let gw: ClusterGateway[];

before(async () => {
  if (skip) return;
  cluster = await TestCluster.start();
  const shopOn = (name: string) => (h: LocalObjectHost) => h.register(new Shop(name), { id: 'shop' });
  hosts = [
    await cluster.addHost((h) => {
      shopOn('host-a')(h);
      h.register(new Board(), { id: 'board' });
    }, 'host-a', 500),
    await cluster.addHost(shopOn('host-b'), 'host-b', 500),
  ];
  gw = [await cluster.addGateway(), await cluster.addGateway()];
  await eventually(() => gw.every((g) => g.remote.hosts.live().length === 2), { what: 'both gateways see both hosts' });
});
after(async () => {
  if (!skip) await cluster?.stop();
});

describe('references through NATS', { skip }, () => {
  it('a server reference is answered by the host that made it: calls, streams and releases go there', async () => {
    const c = await client(gw[0]!.url);
    const made = new Set<string>();
    const carts: Array<{ cart: RemoteRef<CartApi>; madeBy: string }> = [];
    for (let i = 0; i < 60 && made.size < 2; i++) {
      const opened = await c.proxy<ShopApi>('shop').openCart();
      made.add(opened.madeBy);
      carts.push(opened);
    }
    assert.deepEqual([...made].sort(), ['host-a', 'host-b'], 'the queue group spread the carts over both hosts');
    for (const { cart, madeBy } of carts) {
      assert.equal(await cart.where(), madeBy);
      assert.equal(await cart.add('x'), 1, 'the same instance');
      assert.equal(await cart.add('y'), 2);
      const listed: string[] = [];
      for await (const item of cart.list()) listed.push(item);
      assert.deepEqual(listed, ['x', 'y']);
    }
    const before = disposed.get(carts[0]!.madeBy) ?? 0;
    await carts[0]!.cart.$release();
    await eventually(() => (disposed.get(carts[0]!.madeBy) ?? 0) === before + 1, { what: 'the host disposes the released cart' });
    const id = c.refs.write(carts[1]!.cart).id;
    const other = await client(gw[1]!.url);
    assert.equal((await rejection(other.call(`~${id}`, 'add', ['z']))).code, ErrorCode.REF_RELEASED, "another connection's id, through another gateway");
    await other.close();
    const total = [...disposed.values()].reduce((a, b) => a + b, 0);
    await c.close();
    await eventually(() => [...disposed.values()].reduce((a, b) => a + b, 0) === total + carts.length - 1, { timeoutMs: 5_000, what: 'the hosts dispose every cart of the closed connection' });
  });

  it('a callback from a host reaches its client through the client\'s own gateway, whoever triggered it', async () => {
    const alice = await client(gw[0]!.url);
    const bob = await client(gw[1]!.url);
    const heard: string[] = [];
    const handler = callback((message: string) => void heard.push(message));
    assert.equal(await alice.proxy<BoardApi>('board').subscribe(handler), 1);
    assert.deepEqual(await bob.proxy<BoardApi>('board').publish('from bob'), ['ok']);
    assert.deepEqual(heard, ['from bob']);
    const seen: number[] = [];
    assert.equal(await bob.proxy<BoardApi>('board').progress(4, callback((pct: number) => void seen.push(pct))), 'done');
    assert.deepEqual(seen, [25, 50, 75, 100]);
    assert.equal(await bob.proxy<BoardApi>('board').ask(exposeLocal({ twice: (x: number) => 2 * x }, ['twice']), 21), 42);
    alice.release(handler);
    await eventually(async () => (await bob.proxy<BoardApi>('board').publish('after'))[0] === ErrorCode.REF_RELEASED, { what: 'the release to reach the host' });
    assert.deepEqual(heard, ['from bob']);
    await alice.close();
    await bob.close();
  });

  it('calls and callbacks keep being answered past the 443rd reply subject (the callback subject can never be an inbox entry\'s)', async () => {
    const c = await client(gw[0]!.url, { timeoutMs: 3_000 });
    const fn = callback((pct: number) => pct);
    for (let i = 0; i < 500; i++) assert.equal(await c.proxy<BoardApi>('board').progress(1, fn), 'done');
    await c.close();
  });

  it('a client that never answers: the host\'s callback deadline holds through NATS', async () => {
    const c = await client(gw[1]!.url);
    const started = performance.now();
    assert.equal(await c.proxy<BoardApi>('board').silent(callback(() => new Promise<void>(() => {}))), ErrorCode.DEADLINE_EXCEEDED);
    assert.ok(performance.now() - started < 1_400, 'the host\'s callbackTimeoutMs (500 ms), not the slack');
    await c.close();
  });

  it('a host that is gone takes its references with it: REF_RELEASED once the gateway knows', async () => {
    const extra = await cluster.addHost((h) => h.register(new Shop('host-gone'), { id: 'shop-gone' }), 'host-gone');
    await eventually(() => gw[0]!.remote.hosts.live().some((h) => h.id === extra.service.id), { what: 'the gateway sees the new host' });
    const c = await client(gw[0]!.url);
    const { cart } = await c.proxy<ShopApi>('shop-gone').openCart();
    assert.equal(await cart.where(), 'host-gone');
    await extra.nc.close(); // no goodbye: like a killed process
    const first = await rejection(cart.where());
    assert.ok(first.code === ErrorCode.HOST_LOST || first.code === ErrorCode.REF_RELEASED, String(first.code));
    await eventually(async () => (await rejection(cart.where())).code === ErrorCode.REF_RELEASED, { timeoutMs: 3_000, what: 'REF_RELEASED once the host is known dead' });
    assert.ok(hosts.length === 2);
    await c.close();
  });
});
