/**
 * Stream resume on the wire: a resume takes the stream over for good (the old connection's cancel or
 * close no longer touches it), and a resume whose ack does not line up is refused with STREAM_LOST.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, type Gateway } from '../../../src/index.js';
import { RawSocket, startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';

let gateway: Gateway;
let url: string;
before(async () => ({ gateway, url } = await startGateway({ streamLingerMs: 30_000 })));
after(() => gateway.close({ drainMs: 0 }));

/** Items received on `raw` for stream `id` so far. */
function itemCount(raw: RawSocket, id: number): number {
  return raw.frames.filter((f) => f.header.t === 'items' && f.header.id === id).reduce((n, f) => n + (JSON.parse(f.body.split('\n')[0]!) as unknown[]).length, 0);
}

/** Opens ticker.watch on A as id 5 and waits for its key and a few items. */
async function openOnA(): Promise<{ a: RawSocket; key: string; received: number }> {
  const a = await RawSocket.open(url);
  a.send('{"t":"stream","id":5,"o":"ticker","m":"watch","upTo":1000}\n["TK",10]');
  await eventually(() => itemCount(a, 5) >= 3, { what: 'items on A' });
  const key = a.frames.find((f) => f.header.t === 'stream-open')!.header.key as string;
  return { a, key, received: itemCount(a, 5) };
}

describe('resume takes the stream over', () => {
  it('the old connection gets STREAM_LOST, and its later cancel does not touch the stream', async () => {
    const { a, key, received } = await openOnA();
    const b = await RawSocket.open(url);
    b.send(JSON.stringify({ t: 'resume', id: 6, key, ack: received, upTo: 1000 }));
    await eventually(() => itemCount(b, 6) >= 3, { what: 'items on B' });
    await eventually(() => a.frames.some((f) => f.header.t === 'error' && f.header.id === 5), { what: 'the STREAM_LOST on A' });
    assert.equal(a.frames.find((f) => f.header.t === 'error' && f.header.id === 5)!.header.code, ErrorCode.STREAM_LOST);
    a.send('{"t":"cancel","id":5}');
    await a.barrier(); // the gateway has read A's cancel
    const before = itemCount(b, 6);
    await eventually(() => itemCount(b, 6) >= before + 3, { what: 'items on B after A cancelled' });
    assert.equal(b.frames.some((f) => f.header.t === 'error' || f.header.t === 'end'), false);
    a.close();
    b.close();
  });

  it('the old connection closing abruptly (TCP abort) leaves the stream flowing on the new one', async () => {
    const { a, key, received } = await openOnA();
    const b = await RawSocket.open(url);
    b.send(JSON.stringify({ t: 'resume', id: 6, key, ack: received, upTo: 1000 }));
    await eventually(() => itemCount(b, 6) >= 1, { what: 'items on B' });
    const lingering = gateway.stats().streams.lingering;
    const connections = gateway.connectionCount;
    a.ws.terminate();
    await a.closed;
    await eventually(() => gateway.connectionCount === connections - 1, { what: 'the gateway to close A' });
    const before = itemCount(b, 6);
    await eventually(() => itemCount(b, 6) >= before + 3, { what: 'items on B after A was gone' });
    assert.equal(gateway.stats().streams.lingering, lingering, 'A\'s close did not detach the stream: it is attached to B');
    b.close();
  });
});

describe('resume ack must line up', () => {
  it('an ack beyond the items sent is refused with STREAM_LOST, and the stream goes on where it was', async () => {
    const { a, key } = await openOnA();
    const b = await RawSocket.open(url);
    b.send(JSON.stringify({ t: 'resume', id: 6, key, ack: 1_000_000, upTo: 1_000_100 }));
    const answer = await b.next();
    assert.deepEqual([answer.header.t, answer.header.id, answer.header.code], ['error', 6, ErrorCode.STREAM_LOST]);
    const before = itemCount(a, 5);
    await eventually(() => itemCount(a, 5) >= before + 3, { what: 'items still on A' });
    assert.equal(a.frames.some((f) => f.header.t === 'error'), false);
    a.close();
    b.close();
  });

  it('an ack below what the consumer already acknowledged is refused with STREAM_LOST', async () => {
    const { a, key, received } = await openOnA();
    a.send(JSON.stringify({ t: 'credit', id: 5, upTo: 1000, ack: received }));
    await a.barrier(); // the gateway has read the ack
    const b = await RawSocket.open(url);
    b.send(JSON.stringify({ t: 'resume', id: 6, key, ack: 0, upTo: 1000 }));
    const answer = await b.next();
    assert.deepEqual([answer.header.t, answer.header.id, answer.header.code], ['error', 6, ErrorCode.STREAM_LOST]);
    a.close();
    b.close();
  });
});
