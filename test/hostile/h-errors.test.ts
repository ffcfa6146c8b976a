/** Catalogue H (docs/security.md): what errors and logs may reveal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { ErrorCode, Gateway } from '../../src/index.js';
import { eventually } from '../support/eventually.js';
import { client, RawSocket, rejection, testRuntime } from '../support/gateway.js';
import { natsServed } from '../support/nats-backed.js';
import { hsToken, SECRET } from '../support/tokens.js';
import { Probe, useArena } from './arena.js';

const HOSTILE_THROWS = ['string', 'undefined', 'null', 'proxy', 'getters', 'cause', 'cyclic'];

describe('H. errors and logs', () => {
  const arena = useArena({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
  }, { token: () => hsToken({}, { sub: 'honest' }) });

  async function session(): Promise<RawSocket> {
    const raw = await RawSocket.open(arena.url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token: await hsToken({}, { sub: 'errors' }) }));
    await raw.next();
    return raw;
  }

  it('#104 a method that throws with a stack, a path and internals: the client gets INTERNAL, "internal error", nothing else', async () => {
    const raw = await session();
    const answer = await raw.call({ id: 1, o: 'echo', m: 'crash' }, '[]');
    assert.deepEqual(answer.header, { t: 'error', id: 1, code: ErrorCode.INTERNAL, name: 'InternalError', message: 'internal error' });
    assert.equal(answer.body, '', 'no data, no stack, no cause');
    const logged = arena.logs.lines.find((l) => l.msg === 'user code failed' && l.member === 'crash');
    assert.match(String((logged?.err as { message?: string })?.message), /\/srv\/app\/db\.ts/, 'the full error goes to the server log');
    raw.close();
  });

  it('#105 errors that cannot be described (non-Errors, throwing getters, hostile causes, cyclic data) still get one answer', async () => {
    const raw = await session();
    for (const [i, kind] of HOSTILE_THROWS.entries()) {
      const answer = await raw.call({ id: i + 1, o: 'probe', m: 'throwHostile' }, JSON.stringify([kind]));
      assert.equal(answer.header.t, 'error', kind);
      if (kind === 'cyclic') {
        assert.deepEqual([answer.header.code, answer.header.message, answer.body], [ErrorCode.APPLICATION_ERROR, 'cyclic data', '{"self":null}'], 'the error stays, the cycle in its data is cut');
      } else {
        assert.deepEqual([answer.header.code, answer.header.message], [ErrorCode.INTERNAL, 'internal error'], kind);
      }
    }
    raw.send('{"t":"ping","id":1}');
    assert.equal((await raw.next()).header.t, 'pong');
    raw.close();
  });

  it('#105 (debug) even with debugErrors on, a hostile error is answered and the process keeps serving', async () => {
    const gateway = new Gateway({ port: 0, logLevel: 'silent', debugErrors: true, runtime: testRuntime });
    gateway.register(new Probe(), 'probe');
    await gateway.listen();
    const raw = await RawSocket.open(`ws://127.0.0.1:${gateway.port}`);
    for (const [i, kind] of HOSTILE_THROWS.entries()) {
      assert.equal((await raw.call({ id: i + 1, o: 'probe', m: 'throwHostile' }, JSON.stringify([kind]))).header.t, 'error', kind);
    }
    raw.close();
    await gateway.close({ drainMs: 0 });
  });

  it('#106 attacker text cannot forge log lines or frames: newlines stay inside one JSON line; names are length-capped', async () => {
    const raw = await session();
    const forged = 'x\n{"level":60,"msg":"forged"}\r\n';
    const answer = await raw.call({ id: 1, o: 'probe', m: forged, cid: forged }, '[]');
    assert.equal(answer.header.code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal(answer.header.message, `'probe' has no member '${forged}'`, 'the frame carries it escaped, in one header line');
    assert.equal((await raw.call({ id: 2, o: 'probe', m: 'm'.repeat(300) }, '[]')).header.code, ErrorCode.BAD_FRAME);
    raw.close();
    await eventually(() => arena.logs.lines.some((l) => l.msg === 'call failed' && l.cid === forged), { what: 'the failure is logged with the text as a value' });
    assert.ok(!arena.logs.lines.some((l) => l.msg === 'forged'), 'no forged line');
    for (const line of arena.logs.text().split('\n')) JSON.parse(line);
  });

  it('#107 a hidden object or member answers exactly like a missing one (same code, same message)', async () => {
    arena.gateway.register({ read: () => 'r', purge: () => 'p' }, 'files', { expose: ['read', 'purge'], access: { members: { purge: { roles: ['admin'] } } } });
    await natsServed(arena.gateway);
    const raw = await session();
    const outcome = async (id: number, o: string, m: string) => {
      const { header } = await raw.call({ id, o, m }, '[]');
      return [header.code, String(header.message).replace(`'${o}'`, 'OBJ').replace(`'${m}'`, 'MEMBER')];
    };
    assert.deepEqual(await outcome(1, 'admin', 'stats'), await outcome(2, 'nothing-here', 'stats'), 'an object the caller may not use');
    assert.deepEqual(await outcome(3, 'files', 'purge'), await outcome(4, 'files', 'nothing'), 'a member the caller may not use');
    assert.equal((await raw.call({ id: 5, o: 'files', m: 'read' }, '[]')).body, '"r"');
    raw.close();
  });

  it('#108 tokens, arguments and results never reach the log, even at debug level', async () => {
    const token = await hsToken({ secretClaim: 'claim-secret-77' }, { sub: 'logged' });
    const c = await client(arena.url, { token });
    const echo = c.proxy<{ echo(v: string): string; fail(m: string): never }>('echo');
    assert.equal(await echo.echo('argument-secret-42'), 'argument-secret-42');
    await rejection(echo.fail('message-in-a-failure'));
    await rejection(c.call('echo', 'missing', ['argument-secret-43']));
    const id = c.session.connectionId;
    await c.close();
    await eventually(() => arena.logs.lines.some((l) => l.msg === 'connection closed' && l.conn === id), { what: 'the close logged' });
    const text = arena.logs.text();
    assert.ok(arena.logs.lines.some((l) => l.msg === 'call answered'), 'debug lines were written');
    for (const secret of [token, token.split('.')[2]!, 'claim-secret-77', 'argument-secret-42', 'argument-secret-43']) {
      assert.ok(!text.includes(secret), `${secret.slice(0, 20)} is not in the log`);
    }
  });
});
