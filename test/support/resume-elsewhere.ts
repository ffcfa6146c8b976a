/** A raw client that lost its gateway resumes a stream through another one and checks it gets every item once, in order. */
import assert from 'node:assert/strict';
import { RawSocket } from './gateway.js';
import { eventually } from './eventually.js';

/** Items of stream `id` a raw socket received so far, as the test reads them. */
export type ItemsOf = (raw: RawSocket, id: number) => number[];

/** Resumes `key` through `url` from `received` (what came through the lost gateway) and checks the whole sequence. */
export async function resumeElsewhere(url: string, token: string, key: string, received: number[], itemsOf: ItemsOf): Promise<void> {
  const b = await RawSocket.open(url, false);
  b.send(JSON.stringify({ t: 'hello', v: [1], token }));
  assert.equal((await b.next()).header.t, 'welcome');
  b.send(JSON.stringify({ t: 'resume', id: 9, key, ack: received.length, upTo: received.length + 1000 }));
  await eventually(() => itemsOf(b, 9).length >= 5, { what: 'items through the other gateway' });
  const all = [...received, ...itemsOf(b, 9)];
  assert.deepEqual(all, all.map((_, i) => i), 'exactly once, in order, across the two gateways');
  b.send('{"t":"cancel","id":9}');
  b.close();
}
