/**
 * Messages over the gateway's maxPayloadLength: the client refuses them before sending; the gateway
 * answers one up to twice the limit with PAYLOAD_TOO_LARGE and keeps the connection, and closes with
 * a real 1009 beyond that. Nothing of an oversized message runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloseCode, ErrorCode, type Gateway } from '../../../src/index.js';
import { client, RawSocket, rejection, startGateway } from '../../support/gateway.js';

const LIMIT = 64 * 1024;
let gateway: Gateway;
let url: string;
before(async () => ({ gateway, url } = await startGateway({ maxPayloadLength: LIMIT })));
after(() => gateway.close({ drainMs: 0 }));

describe('oversized messages', () => {
  it('the client refuses a call over the advertised limit with PAYLOAD_TOO_LARGE and the connection stays', async () => {
    const c = await client(url);
    assert.equal(c.session.limits.maxPayload, LIMIT);
    const big = 'x'.repeat(LIMIT);
    const error = await rejection(c.call('echo', 'echo', [big]));
    assert.equal(error.code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal((await rejection(c.call('echo', 'echo', ['€'.repeat(LIMIT / 3 + 10)]))).code, ErrorCode.PAYLOAD_TOO_LARGE, 'counted in UTF-8 bytes, not characters');
    assert.equal((await rejection(c.batch([{ object: 'echo', method: 'echo', args: [big] }]))).code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.throws(() => c.oneway('counter', 'note', [big]), (e: Error & { code?: string }) => e.code === ErrorCode.PAYLOAD_TOO_LARGE);
    const stream = c.stream('ticker', 'watch', [big]);
    assert.equal((await rejection(stream.next())).code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.equal(await c.call('echo', 'echo', ['x'.repeat(LIMIT - 100)]).then((v) => (v as string).length), LIMIT - 100, 'just under the limit still works');
    assert.equal(c.isOpen, true);
    await c.close();
  });

  it('the gateway answers a message up to twice the limit with PAYLOAD_TOO_LARGE under its id, runs nothing, and keeps serving', async () => {
    const raw = await RawSocket.open(url);
    const before = await raw.call({ id: 1, o: 'counter', m: 'increment' }, '[]');
    assert.equal(before.body, '1');
    raw.send(`{"t":"call","id":7,"o":"counter","m":"increment"}\n["${'y'.repeat(LIMIT)}"]`);
    const refusal = await raw.next();
    assert.deepEqual([refusal.header.t, refusal.header.id, refusal.header.code], ['error', 7, ErrorCode.PAYLOAD_TOO_LARGE]);
    const after = await raw.call({ id: 8, o: 'counter', m: 'increment' }, '[]');
    assert.equal(after.body, '2', 'the oversized call did not run, and the connection still serves');
    raw.close();
  });

  it('closes with a real 1009 (a close frame) beyond twice the limit', async () => {
    const raw = await RawSocket.open(url);
    raw.send(`{"t":"call","id":9,"o":"echo","m":"echo"}\n["${'z'.repeat(3 * LIMIT)}"]`);
    assert.equal((await raw.closed).code, CloseCode.MESSAGE_TOO_BIG);
  });
});
