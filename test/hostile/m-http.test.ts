/**
 * Catalogue M (docs/security.md): hostile HTTP requests to the calls over HTTP (/rpc/): huge, slow and
 * chunked bodies, wrong content types, header injection, CORS tricks, tokens in the URL, path tricks,
 * aborted requests. Raw TCP where a real client would not send it. After each, the arena's honest
 * client (WebSocket) still gets correct answers and complete streams, and an honest HTTP call works.
 */
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { Echo } from '../support/fixtures.js';
import { eventually } from '../support/eventually.js';
import { hsToken, SECRET } from '../support/tokens.js';
import { useArena } from './arena.js';

/** Sends raw bytes on a fresh TCP connection; resolves with everything the gateway answered until it closed or `ms` passed. */
function rawHttp(port: number, request: string | Buffer, ms = 2_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, ms);
    socket.on('data', (d) => {
      answer += String(d);
      if (/\r\n\r\n/.test(answer) && /content-length: (\d+)/i.test(answer)) {
        const length = Number(/content-length: (\d+)/i.exec(answer)![1]);
        if (answer.length - answer.indexOf('\r\n\r\n') - 4 >= length) done();
      }
    });
    socket.on('close', done);
    socket.on('error', done);
  });
}

const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('M. calls over HTTP under attack', () => {
  let token = '';
  const arena = useArena({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
    allowedOrigins: ['https://app.example'],
    allowMissingOrigin: true, // Node clients send no Origin
    maxPayloadLength: 16 * 1024,
    acceptQueryToken: true, // WebSocket query tokens allowed: HTTP still refuses tokens in the URL
  }, { token: async () => (token = await hsToken({}, { sub: 'honest' })) });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;

  afterEach(async () => {
    const answer = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '[40,2]' });
    assert.equal(await answer.text(), '42', 'an honest HTTP call still works');
  });

  it('#143 bodies over maxPayload, declared or sent, chunked or not: 413 typed, nothing runs, the gateway lives', async () => {
    const big = JSON.stringify(['x'.repeat(20 * 1024)]);
    assert.equal(status(await rawHttp(arena.port, post('/rpc/echo/echo', big))), 413);
    const chunked = `POST /rpc/echo/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\n\r\n`
      + Array.from({ length: 40 }, () => `400\r\n${'y'.repeat(1024)}\r\n`).join('') + '0\r\n\r\n';
    assert.equal(status(await rawHttp(arena.port, chunked)), 413);
    // A huge declared length with a small body: answered or cut, never waited on forever by others.
    const lying = `POST /rpc/echo/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Length: 999999999999\r\n\r\n[1]`;
    const answer = await rawHttp(arena.port, lying, 500);
    assert.ok(answer === '' || status(answer) >= 400, answer.slice(0, 80));
  });

  it('#144 slow bodies: 50 requests trickling their body do not hold honest calls back, and cost nothing once cut', async () => {
    const slow: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const socket = connectTcp(arena.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /rpc/calc/add HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100\r\n\r\n[1,`);
      slow.push(socket);
    }
    const honest = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '[1,1]' });
    assert.equal(await honest.text(), '2', 'served while 50 bodies trickle');
    for (const socket of slow) socket.destroy();
  });

  it('#145 malformed chunked encoding and broken request lines: refused or cut, no answer runs anything', async () => {
    for (const bad of [
      `POST /rpc/calc/add HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n[1,2]\r\n0\r\n\r\n`,
      `POST /rpc/calc/add HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n`,
      `POST /rpc/calc/add HTTP/9.9\r\n\r\n`, `\x00\x01\x02 / HTTP/1.1\r\n\r\n`,
    ]) {
      const answer = await rawHttp(arena.port, bad, 500);
      assert.ok(answer === '' || status(answer) >= 400, `${JSON.stringify(bad.slice(0, 40))}: ${answer.slice(0, 60)}`);
    }
  });

  it('#146 wrong content types: 415; JSON with a charset and curl\'s form type are JSON', async () => {
    for (const type of ['multipart/form-data; boundary=x', 'application/xml', 'text/html', 'application/octet-stream']) {
      const answer = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: '[1,2]' });
      assert.equal(answer.status, 415, type);
    }
    for (const type of ['application/json; charset=utf-8', 'application/x-www-form-urlencoded']) {
      const answer = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: '[1,2]' });
      assert.equal(await answer.text(), '3', type);
    }
  });

  it('#147 header injection: CR/LF in an echoed Origin or in a percent-encoded path never reaches an answer header', async () => {
    const injected = await rawHttp(arena.port, post('/rpc/calc/add', '[1,2]', { Origin: 'https://app.example\rX-Injected: yes' }), 1_000);
    assert.doesNotMatch(injected, /^X-Injected/im);
    const path = await rawHttp(arena.port, post('/rpc/calc%0d%0aX-Injected:%20yes/add', '[1,2]'), 1_000);
    assert.doesNotMatch(path, /^X-Injected/im);
    assert.equal(status(path), 404, 'a name like any other: no such object');
  });

  it('#148 CORS tricks: null, look-alike and suffixed origins are refused with no CORS headers; preflights too', async () => {
    for (const origin of ['null', 'https://app.example.evil.com', 'https://evil.app.example', 'http://app.example', 'https://APP.example']) {
      const answer = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Bearer ${token}`, origin }, body: '[1,2]' });
      assert.deepEqual([answer.status, answer.headers.get('access-control-allow-origin')], [403, null], origin);
      const preflight = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      assert.deepEqual([preflight.status, preflight.headers.get('access-control-allow-origin')], [403, null], `preflight ${origin}`);
    }
  });

  it('#149 a token in the URL is refused (401) even where WebSocket query tokens are accepted; cookies are never read', async () => {
    const inQuery = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add?token=${token}`, { method: 'POST', body: '[1,2]' });
    assert.equal(inQuery.status, 401);
    const inCookie = await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { cookie: `token=${token}; authorization=Bearer ${token}` }, body: '[1,2]' });
    assert.equal(inCookie.status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${arena.port}/rpc/calc/add`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, body: '[1,2]' })).status, 401);
  });

  it('#150 100 requests aborted mid-call: every method sees its signal, none stays running', async () => {
    const controllers = Array.from({ length: 100 }, () => new AbortController());
    const pending = controllers.map((c) => fetch(`http://127.0.0.1:${arena.port}/rpc/echo/slow`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '[30000]', signal: c.signal }).catch(() => undefined));
    await eventually(() => Echo.slowRunning >= 100, { what: '100 calls running' });
    for (const c of controllers) c.abort();
    await Promise.all(pending);
    await eventually(() => Echo.slowRunning === 0, { what: 'every call ending on its signal' });
  });

  it('#151 path tricks: dot segments, encoded slashes, NUL, over-long names, references: typed refusals', async () => {
    const cases: Array<[string, number]> = [
      ['/rpc/..%2f..%2fetc/passwd', 404], ['/rpc/calc/add/extra', 400], ['/rpc/%00/add', 404], ['/rpc/calc', 400],
      [`/rpc/${'a'.repeat(257)}/add`, 400], ['/rpc/%E0%A4%A/add', 400], ['/rpc/~s1/x', 400], ['/rpc/calc/__proto__', 404], ['/rpc/calc/constructor', 404],
    ];
    for (const [path, expected] of cases) {
      const answer = await rawHttp(arena.port, post(path, '[1,2]'), 1_000);
      assert.equal(status(answer), expected, `${path}: ${answer.slice(0, 120)}`);
      assert.match(answer, /"code":"/, `${path}: a typed error body`);
    }
  });
});
