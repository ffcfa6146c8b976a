/**
 * Nothing leaks: 100,000 server references and 100,000 client callbacks made and dropped over one
 * connection leave the heap near where it started, with empty reference tables on both sides.
 * Client callbacks the server code merely drops (never released) are released by the finalizer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { callback, type Callback, type RemoteRef, type UplinkClient } from '../../../src/client/index.js';
import { expose, remote, type ClientCallback, type Gateway } from '../../../src/index.js';
import type { LocalObjectHost } from '../../../src/host/local-host.js';
import { eventually } from '../../support/eventually.js';
import { client, startGateway } from '../../support/gateway.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10)); // finalizers run in a task of their own
  }
  return process.memoryUsage().heapUsed;
}

class Session {
  constructor(readonly payload = 'x'.repeat(100)) {}
  @expose ping(): number {
    return 1;
  }
}

class Factory {
  @expose open(n: number): Session[] {
    return Array.from({ length: n }, () => remote(new Session()));
  }

  /** Takes the callbacks and drops them without release(): only the finalizer can tell the client. */
  @expose take(fns: ClientCallback[]): number {
    return fns.length;
  }

  @expose async once(fn: ClientCallback<() => number>): Promise<number> {
    return fn();
  }
}

interface FactoryApi {
  open(n: number): Array<RemoteRef<{ ping(): number }>>;
  take(fns: Array<Callback<() => void>>): number;
  once(fn: Callback<() => number>): number;
}

describe('references leave nothing behind', () => {
  let gateway: Gateway;
  let c: UplinkClient;
  before(async () => {
    let url: string;
    ({ gateway, url } = await startGateway({ maxRefsPerConnection: 1_000 }));
    gateway.register(new Factory(), 'factory');
    c = await client(url);
  });
  after(async () => {
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  const host = (): LocalObjectHost => gateway.registry;

  it('100,000 server references opened and released: tables empty, heap back near its baseline', async () => {
    const factory = c.proxy<FactoryApi>('factory');
    const cycle = async () => {
      const sessions = await factory.open(1_000);
      await Promise.all(sessions.map((s) => s.$release()));
    };
    for (let round = 0; round < 10; round++) await cycle(); // warm-up: compiled code and grown pools are not leaks
    const baseline = await settledHeap();
    for (let round = 0; round < 100; round++) await cycle();
    assert.equal(await factory.open(0).then((x) => x.length), 0); // the releases were sent before this call
    assert.equal(host().references.counts().exported, 0);
    assert.equal(c.refs.size.imported, 0);
    const grown = (await settledHeap()) - baseline;
    // 100,000 live sessions would hold over 20 MB; what is left must not grow with the count.
    assert.ok(grown < 4 * 1024 * 1024, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`);
  });

  it('100,000 client callbacks handed over and dropped by the server: the finalizer releases them on both sides', async () => {
    const factory = c.proxy<FactoryApi>('factory');
    for (let round = 0; round < 4; round++) {
      await factory.take(Array.from({ length: 500 }, () => callback(() => undefined)));
      await settledHeap();
    }
    const baseline = await settledHeap();
    for (let round = 0; round < 200; round++) { // 200 x 500 = 100,000
      assert.equal(await factory.take(Array.from({ length: 500 }, () => callback(() => undefined))), 500);
      // The server's proxies are unreachable once the call returned; a GC lets the finalizer release them.
      if (round % 2 === 1) await settledHeap();
    }
    await eventually(async () => {
      await settledHeap();
      return host().references.counts().imported === 0 && c.refs.size.exported === 0;
    }, { timeoutMs: 10_000, what: 'every dropped callback released' });
    const grown = (await settledHeap()) - baseline;
    assert.ok(grown < 4 * 1024 * 1024, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`);
    assert.equal(await factory.once(callback(() => 7)), 7, 'callbacks still work afterwards');
  });
});
