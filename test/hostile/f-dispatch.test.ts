/**
 * Catalogue F (docs/security.md): what a client can name in a call. Only members in the exposure table
 * built at registration are reachable; everything else, including things that do exist on the object,
 * gets exactly the answer a missing member gets.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { z } from 'zod';
import { ErrorCode, expose, Gateway, validate } from '../../src/index.js';
import { client, RawSocket, testRuntime } from '../support/gateway.js';
import { natsServed } from '../support/nats-backed.js';
import { useArena } from './arena.js';

class Base {
  baseUndecorated(): string { return 'base'; }
  @expose baseExposed(): string { return 'base exposed'; }
}

/** An object with every kind of member that must stay unreachable, next to exposed ones. */
class Vault extends Base {
  secretField = () => 'field';
  #hidden = 'hash-private';
  @expose open(): string { return `open ${this.#hidden.length}`; }
  publicButUndecorated(): string { return 'undecorated'; }
  private tsPrivate(): string { return 'ts-private'; }
  get undecoratedGetter(): string { return this.tsPrivate(); }
  override toString(): string { return 'vault'; }
  close(): string { return 'closed'; }
  dispose(): string { return 'disposed'; }
  error(): string { return 'error'; }
  emit(): string { return 'emit'; }
  @expose @validate(z.tuple([z.string(), z.number().int()]))
  pick(name: string, n: number): string { return `${name}:${n}`; }
}

describe('F. dispatch', () => {
  const arena = useArena();
  let raw: RawSocket;
  let id = 0;
  before(async () => {
    arena.gateway.register(new Vault(), 'vault');
    await natsServed(arena.gateway);
  });

  /** Calls vault.<member> (or another object) and returns the error frame's code and message, or the result body. */
  async function answer(member: unknown, object: unknown = 'vault', body = '[]') {
    raw ??= await RawSocket.open(arena.url);
    const frame = await raw.call({ id: ++id, o: object, m: member }, body);
    return frame.header.t === 'result' ? { body: frame.body } : { code: frame.header.code, message: frame.header.message };
  }
  const missing = (member: string) => ({ code: ErrorCode.UNKNOWN_MEMBER, message: `'vault' has no member '${member}'` });

  it('#84 Object.prototype names (even ones the object overrides) answer exactly like a missing member', async () => {
    for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', '__defineGetter__', '__lookupGetter__', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString']) {
      assert.deepEqual(await answer(name), missing(name), name);
    }
    for (const object of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      assert.deepEqual(await answer('open', object), { code: ErrorCode.UNKNOWN_OBJECT, message: `unknown object '${object}'` }, object);
    }
    assert.deepEqual(await answer('open'), { body: '"open 12"' });
  });

  it('#85 unexposed members: public undecorated, base-class, TS-private, getters, instance fields, #private', async () => {
    for (const name of ['publicButUndecorated', 'baseUndecorated', 'tsPrivate', 'undecoratedGetter', 'secretField', '#hidden', 'hidden']) {
      assert.deepEqual(await answer(name), missing(name), name);
    }
    assert.deepEqual(await answer('baseExposed'), { body: '"base exposed"' }, 'a decorated base method is reachable');
  });

  it('#86 private-looking names (_x, __x, #x, symbol-like) are refused at dispatch and at registration', async () => {
    for (const name of ['_x', '__x', '#x', 'Symbol(Symbol.iterator)', '@@iterator', '__dirname']) assert.deepEqual(await answer(name), missing(name), name);
    assert.throws(() => arena.gateway.register({ _x: () => 1 }, 'private-name', { expose: ['_x'] }), /private by naming rule/);
  });

  it('#87 promise and lifecycle names (then, catch, finally, Symbol.asyncIterator, dispose, close) are reserved or hidden', async () => {
    for (const name of ['then', 'catch', 'finally', 'Symbol.asyncIterator', 'dispose', 'close']) assert.deepEqual(await answer(name), missing(name), name);
    assert.throws(() => arena.gateway.register({ then: () => 1 }, 'thenable', { expose: ['then'] }), /prototype name/);
  });

  it('#88 dotted and path names never traverse objects', async () => {
    for (const name of ['open.call', 'secretField.call', 'a/b', '..', '../open', 'open ', 'constructor.prototype']) assert.deepEqual(await answer(name), missing(name), name);
    for (const object of ['vault.open', '../vault', 'vault/']) assert.equal((await answer('open', object)).code, ErrorCode.UNKNOWN_OBJECT, object);
  });

  it('#89 non-string member or object names are malformed frames (no coercion)', async () => {
    for (const [member, object] of [[['open'], 'vault'], [{ toString: 'open' }, 'vault'], [1, 'vault'], [null, 'vault'], ['open', 5], ['open', ['vault']], ['', 'vault']] as const) {
      assert.equal((await answer(member, object)).code, ErrorCode.BAD_FRAME, JSON.stringify([member, object]));
    }
  });

  it('#90 ids are scoped: session objects and streams belong to their connection; stream keys are unguessable', async () => {
    const a = await client(arena.url);
    const b = await client(arena.url);
    type Counter = { increment(by: number): number };
    await a.proxy<Counter>('counter').increment(5);
    assert.equal(await b.proxy<Counter>('counter').increment(1), 1, 'b has its own session instance');
    const ra = await RawSocket.open(arena.url);
    ra.send('{"t":"stream","id":1,"o":"probe","m":"count","upTo":2}\n[1000]');
    assert.equal((await ra.next()).header.t, 'stream-open');
    const rb = await RawSocket.open(arena.url);
    rb.send('{"t":"cancel","id":1}');
    rb.send(JSON.stringify({ t: 'resume', id: 2, key: 'A'.repeat(24), ack: 0, upTo: 10 }));
    assert.equal((await rb.next()).header.code, ErrorCode.STREAM_LOST);
    ra.send('{"t":"credit","id":1,"upTo":5,"ack":2}');
    const items: number[] = [];
    while (items.length < 5) {
      const frame = await ra.next();
      if (frame.header.t === 'items') items.push(...(JSON.parse(frame.body) as number[]));
    }
    assert.deepEqual(items, [0, 1, 2, 3, 4], 'another connection\'s cancel did not touch the stream');
    for (const s of [ra, rb]) s.close();
    await a.close();
    await b.close();
  });

  it('#91 client-chosen names never reach an event emitter: error, emit, on are plain unknown members', async () => {
    for (const name of ['error', 'emit', 'on', 'once', 'listeners']) assert.deepEqual(await answer(name), missing(name), name);
  });

  it('#92 arity abuse: more than maxArgs arguments, missing or extra arguments for a schema, non-array arguments', async () => {
    assert.equal((await answer('open', 'vault', JSON.stringify(new Array(65).fill(0)))).code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await answer('open', 'vault', JSON.stringify(new Array(64).fill(0)))).body, '"open 12"', '64 arguments are fine');
    assert.equal((await answer('pick', 'vault', '["a"]')).code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await answer('pick', 'vault', '["a",1,"extra"]')).code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await answer('pick', 'vault', '{"0":"a","1":1}')).code, ErrorCode.BAD_ARGUMENTS);
    assert.deepEqual(await answer('pick', 'vault', '["a",1]'), { body: '"a:1"' });
    raw.close();
  });
});

describe('F. hidden things under debugErrors', () => {
  it('#107 (debug) with debugErrors on, the message says why a member is hidden; never in production', async () => {
    const gateway = new Gateway({ port: 0, logLevel: 'silent', debugErrors: true, runtime: testRuntime });
    gateway.register(new Vault(), 'vault');
    await gateway.listen();
    const raw = await RawSocket.open(`ws://127.0.0.1:${gateway.port}`);
    assert.match(String((await raw.call({ id: 1, o: 'vault', m: 'publicButUndecorated' }, '[]')).header.message), /not exposed/);
    assert.match(String((await raw.call({ id: 2, o: 'vault', m: '_x' }, '[]')).header.message), /private by naming rule/);
    raw.close();
    await gateway.close({ drainMs: 0 });
  });
});
