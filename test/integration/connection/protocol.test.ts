/** The wire protocol against a real gateway: handshake, version negotiation, envelopes, ordering, malformed frames. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect as connectTcp } from 'node:net';
import { CloseCode, ErrorCode, type Gateway } from '../../../src/index.js';
import { packBinary } from '../../../src/protocol/binary.js';
import { client, RawSocket, startGateway } from '../../support/gateway.js';

let gateway: Gateway;
let url: string;
before(async () => ({ gateway, url } = await startGateway({ helloTimeoutMs: 300, maxPayloadLength: 16 * 1024 })));
after(() => gateway.close({ drainMs: 0 }));

describe('handshake', () => {
  it('welcomes a client with the negotiated version, its connection id and the limits', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [7, 1, 0] }));
    const { header } = await raw.next();
    assert.equal(header.t, 'welcome');
    assert.equal(header.v, 1);
    assert.match(String(header.conn), /^c[0-9a-z]+$/);
    assert.deepEqual(header.limits, { maxPayload: 16 * 1024, maxInflight: 64, maxArgs: 64, maxRefs: 1024 });
    raw.close();
  });

  it('refuses a client with no common version: error frame, then close 4001', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [2, 3] }));
    const { header } = await raw.next();
    assert.equal(header.code, ErrorCode.UNSUPPORTED_VERSION);
    assert.match(String(header.message), /speaks 1/);
    assert.equal((await raw.closed).code, CloseCode.UNSUPPORTED_VERSION);
  });

  it('closes with 4000 when a frame other than hello comes first, and dispatches nothing', async () => {
    const before = (await (await client(url)).proxy<{ notes(): string[] }>('counter').notes()).length;
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'call', id: 1, o: 'calc', m: 'add' }) + '\n[1,2]');
    assert.equal((await raw.closed).code, CloseCode.PROTOCOL_ERROR);
    assert.equal(raw.frames.length, 0);
    assert.equal(before, 0);
  });

  it('closes with 4000 on a malformed hello and on a second hello', async () => {
    const a = await RawSocket.open(url, false);
    a.send('not json');
    assert.equal((await a.closed).code, CloseCode.PROTOCOL_ERROR);
    const b = await RawSocket.open(url);
    b.send('{"t":"hello","v":[1]}');
    assert.equal((await b.closed).code, CloseCode.PROTOCOL_ERROR);
  });

  it('closes with 4002 when no hello arrives in time', async () => {
    const raw = await RawSocket.open(url, false);
    const started = Date.now();
    assert.equal((await raw.closed).code, CloseCode.HELLO_TIMEOUT);
    assert.ok(Date.now() - started >= 250);
  });

  it('closes with 4000 when a frame before the welcome is larger than allowed', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token: 'x'.repeat(9000) }));
    assert.equal((await raw.closed).code, CloseCode.PROTOCOL_ERROR);
  });
});

describe('frames after the welcome', () => {
  it('answers a malformed frame with BAD_FRAME and keeps the connection', async () => {
    const raw = await RawSocket.open(url);
    for (const bad of ['{', '[1,2]', '{"t":"nope"}', '{"t":"call","id":-1,"o":"calc","m":"add"}', '{"t":"call","id":1,"o":"calc","m":7}',
      '{"t":"call","id":1,"o":"","m":"add"}', '{"t":"call","id":1.5,"o":"calc","m":"add"}', '{"t":"call","id":1,"o":"calc","m":"add","k":"delete"}',
      '{"t":"call","id":1,"o":"calc","m":"add","ann":{"k":5}}', `{"t":"call","id":1,"o":"${'o'.repeat(300)}","m":"add"}`,
      '\ufeff{"t":"ping","id":1}' /* a byte-order mark is not stripped before the header */]) {
      raw.send(bad);
      const { header } = await raw.next();
      assert.equal(header.t, 'error', bad);
      assert.equal(header.code, ErrorCode.BAD_FRAME, bad);
    }
    const ok = await raw.call({ id: 9, o: 'calc', m: 'add' }, '[40,2]');
    assert.deepEqual(ok, { header: { t: 'result', id: 9 }, body: '42' });
    raw.close();
  });

  it('answers a malformed binary message with BAD_FRAME and keeps the connection', async () => {
    const raw = await RawSocket.open(url);
    raw.send(new Uint8Array([0, 0, 0, 99, 1]));
    assert.equal((await raw.next()).header.code, ErrorCode.BAD_FRAME);
    raw.send(packBinary('{"t":"call","id":1,"o":"echo","m":"echo"}\n[0]\n{"values":{"0":[["custom","bin"]]},"v":1}', []));
    assert.equal((await raw.next()).header.code, ErrorCode.BAD_FRAME);
    assert.equal((await raw.call({ id: 2, o: 'calc', m: 'add' }, '[1,1]')).body, '2');
    raw.close();
  });

  it('answers ping with pong carrying the same id', async () => {
    const raw = await RawSocket.open(url);
    raw.send('{"t":"ping","id":77}');
    assert.deepEqual((await raw.next()).header, { t: 'pong', id: 77 });
    raw.close();
  });

  it('runs many calls at once on one connection and returns results out of order', async () => {
    const raw = await RawSocket.open(url);
    raw.send('{"t":"call","id":1,"o":"echo","m":"slow"}\n[150]');
    raw.send('{"t":"call","id":2,"o":"echo","m":"slow"}\n[10]');
    raw.send('{"t":"call","id":3,"o":"calc","m":"add"}\n[1,2]');
    const order = [(await raw.next()).header.id, (await raw.next()).header.id, (await raw.next()).header.id];
    assert.deepEqual(order, [3, 2, 1]);
    raw.close();
  });

  it('echoes the correlation id and carries annotations both ways', async () => {
    const raw = await RawSocket.open(url);
    const answer = await raw.call({ id: 5, o: 'echo', m: 'whoami', cid: 'req-123', ann: { tenant: 'acme' } }, '[]');
    assert.equal(answer.header.cid, 'req-123');
    assert.deepEqual(answer.header.ann, { 'served-by': 'echo' });
    assert.equal(JSON.parse(answer.body).correlationId, 'req-123');
    raw.close();
  });

  it('refuses a duplicate in-flight id with a frame error (no id), and keeps the first call', async () => {
    const raw = await RawSocket.open(url);
    raw.send('{"t":"call","id":1,"o":"echo","m":"slow"}\n[50]');
    raw.send('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    const first = await raw.next();
    assert.equal(first.header.code, ErrorCode.BAD_FRAME);
    assert.equal(first.header.id, undefined, 'the refusal is not an answer to call 1');
    const second = await raw.next();
    assert.deepEqual(second.header, { t: 'result', id: 1 });
    assert.equal(second.body, '"slept 50 ms"');
    raw.close();
  });

  it('answers a request whose other fields do not check under its id, unless a request of the connection owns that id', async () => {
    const raw = await RawSocket.open(url);
    const cases: Array<[string, number | undefined]> = [
      ['{"t":"stream","id":5,"o":"numbers","m":"range","upTo":-1}', 5], ['{"t":"resume","id":6,"key":5,"ack":0,"upTo":1}', 6],
      ['{"t":"resume","id":7,"key":"k","ack":-1,"upTo":1}', 7], ['{"t":"call","id":8,"o":"calc","m":7}', 8], ['{"t":"refresh","id":9,"token":5}', 9],
      // Not requests: a credit names an open stream (or none), an unknown type names nothing.
      ['{"t":"credit","id":10,"upTo":1,"ack":-1}', undefined], ['{"t":"nope","id":11}', undefined], ['{"t":"call","id":-1,"o":"calc","m":"add"}', undefined],
    ];
    for (const [bad, id] of cases) {
      raw.send(bad);
      const { header } = await raw.next();
      assert.equal(header.code, ErrorCode.BAD_FRAME, bad);
      assert.equal(header.id, id, bad);
    }
    raw.send('{"t":"call","id":1,"o":"echo","m":"slow"}\n[50]');
    raw.send('{"t":"stream","id":1,"o":"numbers","m":"range","upTo":-1}');
    const refusal = await raw.next();
    assert.equal(refusal.header.code, ErrorCode.BAD_FRAME);
    assert.equal(refusal.header.id, undefined, 'id 1 belongs to the running call');
    assert.deepEqual((await raw.next()).header, { t: 'result', id: 1 });
    raw.close();
  });

  it('ends an open stream whose credit does not check, and refuses it under the stream\'s id; the id is free again', async () => {
    const raw = await RawSocket.open(url);
    raw.send('{"t":"stream","id":20,"o":"numbers","m":"range","upTo":2}\n[1000]');
    assert.equal((await raw.next()).header.t, 'stream-open');
    assert.deepEqual((await raw.next()).header, { t: 'items', id: 20, seq: 0 });
    raw.send('{"t":"credit","id":20,"upTo":10,"ack":-1}');
    const refusal = await raw.next();
    assert.equal(refusal.header.code, ErrorCode.BAD_FRAME);
    assert.equal(refusal.header.id, 20, 'the stream learns its fate');
    assert.equal(refusal.header.seq, undefined, 'no final credit is awaited');
    // The stream is gone on the gateway: its id opens a new stream (a live one would make this a duplicate).
    raw.send('{"t":"stream","id":20,"o":"numbers","m":"range","upTo":1}\n[1]');
    assert.equal((await raw.next()).header.t, 'stream-open');
    raw.close();
  });

  it('refuses a frame over maxPayloadLength with PAYLOAD_TOO_LARGE, closes 1009 beyond twice that, and keeps serving others', async () => {
    const honest = await client(url);
    const raw = await RawSocket.open(url);
    raw.send(JSON.stringify({ t: 'call', id: 1, o: 'echo', m: 'echo' }) + '\n' + JSON.stringify(['x'.repeat(17 * 1024)]));
    assert.deepEqual([(await raw.next()).header.code, raw.ws.readyState], [ErrorCode.PAYLOAD_TOO_LARGE, raw.ws.OPEN]);
    raw.send(JSON.stringify({ t: 'call', id: 2, o: 'echo', m: 'echo' }) + '\n' + JSON.stringify(['x'.repeat(40 * 1024)]));
    const { code } = await raw.closed;
    assert.equal(code, 1009);
    assert.equal(await honest.proxy<{ add(a: number, b: number): number }>('calc').add(2, 3), 5);
    await honest.close();
  });

});

/** Sends a raw HTTP request over TCP and returns the status line and headers. */
async function rawHttp(port: number, request: string): Promise<string> {
  const socket = connectTcp(port, '127.0.0.1');
  socket.write(request);
  let response = '';
  socket.on('data', (d) => (response += String(d)));
  await new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    setTimeout(() => { socket.destroy(); resolve(); }, 1_000);
  });
  return response;
}

describe('upgrade request validation (RFC 6455 4.2.1)', () => {
  const upgrade = (headers: Record<string, string>) =>
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const good = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' };

  it('upgrades a well-formed request', async () => {
    assert.match(await rawHttp(gateway.port, upgrade(good)), /^HTTP\/1\.1 101/);
  });
  it('answers 426 with Sec-WebSocket-Version: 13 for another version, or none', async () => {
    for (const version of ['8', '']) {
      const response = await rawHttp(gateway.port, upgrade({ ...good, 'Sec-WebSocket-Version': version }));
      assert.match(response, /^HTTP\/1\.1 426/);
      assert.match(response, /Sec-WebSocket-Version: 13/i);
    }
  });
  it('answers 400 for a key that is not 16 bytes of base64', async () => {
    assert.match(await rawHttp(gateway.port, upgrade({ ...good, 'Sec-WebSocket-Key': 'c2hvcnQ=' })), /^HTTP\/1\.1 400/);
  });
  it('answers 400 without Upgrade: websocket', async () => {
    assert.match(await rawHttp(gateway.port, upgrade({ ...good, Upgrade: 'h2c' })), /^HTTP\/1\.1 400/);
  });
});
