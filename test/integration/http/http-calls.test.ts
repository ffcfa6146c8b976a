/** Calls over plain HTTP (POST/GET/PUT /rpc/<object>/<member>) against a real uWS gateway with real JWTs. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { ErrorCode, oneway, type Gateway } from '../../../src/index.js';
import { Echo } from '../../support/fixtures.js';
import { startGateway } from '../../support/gateway.js';
import { natsBacked } from '../../support/nats-backed.js';
import { eventually } from '../../support/eventually.js';
import { hsToken, SECRET } from '../../support/tokens.js';

class Recorder {
  static readonly seen: string[] = [];
  @oneway record(value: string): void {
    Recorder.seen.push(value);
  }
}

describe('calls over HTTP', () => {
  let gateway: Gateway;
  let base: string;
  let token: string;
  before(async () => {
    let url: string;
    ({ gateway, url } = await startGateway({
      authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
      allowedOrigins: ['https://app.example'],
      maxPayloadLength: 16 * 1024,
    }));
    gateway.register(new Recorder(), 'recorder');
    base = url.replace('ws://', 'http://');
    token = await hsToken({ scope: 'admin' }, { sub: 'alice' });
  });
  after(() => gateway.close({ drainMs: 0 }));

  const call = (path: string, init: RequestInit & { auth?: string | null } = {}) => {
    const headers = new Headers(init.headers);
    if (init.auth !== null) headers.set('authorization', `Bearer ${init.auth ?? token}`);
    return fetch(`${base}/rpc/${path}`, { method: 'POST', ...init, headers });
  };

  it('curl, as the README shows it, prints the result', async () => {
    // Asynchronously: the gateway answers from this process's event loop.
    const curl = await promisify(execFile)('curl', ['-s', '--max-time', '10', '-H', `Authorization: Bearer ${token}`, '-d', '[1,2]', `${base}/rpc/calc/add`]);
    assert.equal(curl.stdout, '3');
  });

  it('answers 200 with the JSON result, rich values with the payload type and its meta line', async () => {
    const plain = await call('calc/add', { body: '[\n  2,\n  3\n]', headers: { 'content-type': 'application/json' } });
    assert.deepEqual([plain.status, plain.headers.get('content-type'), await plain.text()], [200, 'application/json', '5']);
    const date = '"2026-11-27T12:00:00.000Z"\n{"values":["Date"],"v":1}';
    const rich = await call('echo/echo', { body: '["2026-11-27T12:00:00.000Z"]\n{"values":{"0":["Date"]},"v":1}', headers: { 'content-type': 'application/vnd.uplink.payload' } });
    assert.deepEqual([rich.status, rich.headers.get('content-type'), await rich.text()], [200, 'application/vnd.uplink.payload', date]);
  });

  it('reads a property with GET, sets it with PUT (a session object lives for one request)', async () => {
    const got = await call('counter/count', { method: 'GET' });
    assert.deepEqual([got.status, await got.text()], [200, '0']);
    const set = await call('counter/count', { method: 'PUT', body: '[5]' });
    assert.equal(set.status, 200);
  });

  it('maps typed errors to statuses with a JSON body', async () => {
    const cases: Array<[Promise<Response>, number, string]> = [
      [call('calc/add', { auth: null }), 401, ErrorCode.UNAUTHENTICATED],
      [call('calc/add', { auth: 'not-a-jwt' }), 401, ErrorCode.UNAUTHENTICATED],
      [call('nope/add'), 404, ErrorCode.UNKNOWN_OBJECT],
      [call('calc/nope'), 404, ErrorCode.UNKNOWN_MEMBER],
      [call('calc/divide', { body: '["x", 1]' }), 400, ErrorCode.BAD_ARGUMENTS],
      [call('calc/add', { body: '[1,' }), 400, ErrorCode.BAD_FRAME],
      [call('echo/echo', { body: JSON.stringify(['x'.repeat(40 * 1024)]) }), 413, ErrorCode.PAYLOAD_TOO_LARGE],
      [call('echo/crash'), 500, ErrorCode.INTERNAL],
      [call('echo/slow', { body: '[5000]', headers: { 'uplink-timeout': '50' } }), 504, ErrorCode.DEADLINE_EXCEEDED],
      [call('calc/add?token=abc'), 401, ErrorCode.UNAUTHENTICATED],
    ];
    for (const [response, status, code] of cases) {
      const answer = await response;
      const body = await answer.json() as { code: string; message: string };
      assert.deepEqual([answer.status, body.code], [status, code], JSON.stringify(body));
    }
    const failed = await call('echo/fail', { body: '["no"]' });
    const body = await failed.json() as { code: string; name: string; message: string; data: unknown };
    assert.deepEqual([failed.status, body.name, body.message, body.data], [500, 'TestError', 'no', { hint: 'this method always fails' }]);
    assert.equal((await call('calc/add', { auth: null })).headers.get('www-authenticate'), 'Bearer');
  });

  it('POST /rpc/ runs a batch: plain args or payload texts, results in order with their meta, errors typed', async () => {
    const body = JSON.stringify({ calls: [{ o: 'calc', m: 'add', a: [1, 2] }, { o: 'echo', m: 'echo', payload: '["2026-01-01T00:00:00.000Z"]\n{"values":{"0":["Date"]},"v":1}' }, { o: 'nope', m: 'x' }] });
    const answer = await call('', { body, headers: { 'content-type': 'application/json' } });
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { results: [
      { value: 3 }, { value: '2026-01-01T00:00:00.000Z', meta: { values: ['Date'], v: 1 } },
      { error: { code: ErrorCode.UNKNOWN_OBJECT, name: 'UplinkError', message: (await (await call('nope/x')).json() as { message: string }).message } },
    ] });
    assert.equal((await call('', { body: '{"calls":[]}' })).status, 400);
    assert.equal((await call('', { body: '{"calls":[{"o":"calc"}]}' })).status, 400);
  });

  it('refuses a body type that is not JSON (415), and a path that names no member (400)', async () => {
    const xml = await call('calc/add', { body: '<a/>', headers: { 'content-type': 'text/xml' } });
    assert.equal(xml.status, 415);
    assert.equal((await call('calc')).status, 400);
    assert.equal((await call('calc/add/more')).status, 400);
  });

  it('a oneway to a method that is not oneway: refused 400 where the gateway sees it at once; behind NATS the host refuses after the 202', async () => {
    const answer = await call('echo/slow', { body: '[1]', headers: { 'uplink-oneway': '1' } });
    if (natsBacked) return assert.equal(answer.status, 202);
    assert.deepEqual([answer.status, ((await answer.json()) as { code: string }).code], [400, ErrorCode.BAD_ARGUMENTS]);
  });

  it('answers a oneway call 202 at once; it runs', async () => {
    const answer = await call('recorder/record', { body: '["over http"]', headers: { 'uplink-oneway': '1' } });
    assert.equal(answer.status, 202);
    await eventually(() => Recorder.seen.includes('over http'), { what: 'the oneway call running' });
  });

  it('an aborted request cancels the call (its AbortSignal fires)', async () => {
    const controller = new AbortController();
    const pending = call('echo/slow', { body: '[10000]', signal: controller.signal }).catch((error: Error) => error.name);
    await eventually(() => Echo.slowRunning > 0, { what: 'the call reaching the method' });
    controller.abort();
    assert.equal(await pending, 'AbortError');
    await eventually(() => Echo.slowRunning === 0, { what: 'the method ending on its signal' });
  });

  it('CORS: a preflight from an allowed origin is answered, another origin gets 403 and no CORS headers', async () => {
    const preflight = await fetch(`${base}/rpc/calc/add`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const allowed = await call('calc/add', { body: '[1,1]', headers: { origin: 'https://app.example' } });
    assert.deepEqual([allowed.status, allowed.headers.get('access-control-allow-origin')], [200, 'https://app.example']);
    const other = await call('calc/add', { body: '[1,1]', headers: { origin: 'https://evil.example' } });
    assert.deepEqual([other.status, other.headers.get('access-control-allow-origin')], [403, null]);
  });

  it('the gateway keeps serving WebSocket and HTTP after all of the above', async () => {
    const answer = await call('calc/add', { body: '[20,22]' });
    assert.deepEqual([answer.status, await answer.text()], [200, '42']);
  });
});
