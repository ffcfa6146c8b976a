/** The call context's correlation id, and the header numbers the frame writers template. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallContext, type ConnectionInfo } from '../../src/core/context.js';
import { writeCredit, writeEnd, writeItems, writeResult } from '../../src/protocol/frame-writer.js';

const connection: ConnectionInfo = { id: 'c7', remoteAddress: '127.0.0.1', identity: undefined, track: () => {} };

describe('CallContext correlation id', () => {
  it('is the client\'s when it sent one', () => {
    assert.equal(new CallContext(connection, 'trace-1', undefined, undefined).correlationId, 'trace-1');
  });

  it('is <connection>.<call id> otherwise, made on first read and the same on every read', () => {
    const context = new CallContext(connection, 41, undefined, undefined);
    assert.equal(context.correlationId, 'c7.41');
    assert.equal(context.correlationId, 'c7.41');
    assert.equal(new CallContext(connection, 0, undefined, undefined).correlationId, 'c7.0');
  });
});

describe('templated frame headers', () => {
  it('write their numbers as plain JSON integers, large ones included', () => {
    assert.equal(writeResult(123_456_789, undefined, undefined, { text: '3' }), '{"t":"result","id":123456789}\n3');
    assert.equal(writeItems(2, Number.MAX_SAFE_INTEGER, { text: '[1]' }), `{"t":"items","id":2,"seq":${Number.MAX_SAFE_INTEGER}}\n[1]`);
    assert.equal(writeEnd(0, 10), '{"t":"end","id":0,"seq":10}');
    assert.deepEqual(JSON.parse(writeCredit(5, 300, 44) as string), { t: 'credit', id: 5, upTo: 300, ack: 44 });
  });

  it('refuse a number that is not a safe non-negative integer', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => writeResult(bad, undefined, undefined, { text: '1' }), TypeError);
  });
});
