/** The NATS call envelope's way-back flag: a connection without one (HTTP) reaches the host as one without a peer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeCall, encodeCall } from '../../src/nats/call-envelope.js';

const context = { connection: 'AAAAAAAAAAAAAAAAAAAAAA/h1', remoteAddress: '127.0.0.1', correlationId: 'x' };

describe('call envelope: the way back', () => {
  it('"w":0 travels only for a connection without a way back, and reads back as noPeer', () => {
    const plain = encodeCall({ member: 'm', kind: 'call', timeoutMs: undefined, identity: undefined, context }, { text: '[]' });
    assert.equal(decodeCall(plain, 4).call.context.noPeer, undefined);
    const http = encodeCall({ member: 'm', kind: 'stream', timeoutMs: undefined, identity: undefined, context: { ...context, noPeer: true }, upTo: 256 }, { text: '[]' });
    assert.match(Buffer.from(http).toString('latin1'), /"w":0/);
    assert.equal(decodeCall(http, 4).call.context.noPeer, true);
  });

  it('any other value is a malformed call', () => {
    const forged = Buffer.from(Buffer.from(encodeCall({ member: 'm', kind: 'call', timeoutMs: undefined, identity: undefined, context: { ...context, noPeer: true } }, { text: '[]' })).toString('latin1').replace('"w":0', '"w":1'), 'latin1');
    assert.throws(() => decodeCall(forged, 4), /way back/);
  });
});
