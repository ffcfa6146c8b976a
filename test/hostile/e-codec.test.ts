/**
 * Catalogue E (docs/security.md): hostile JSON and superjson meta, sent as call arguments through a
 * live gateway. Each refusal is checked twice: the codec's own code, and the error frame the gateway
 * answers with, after which the same connection must still answer a ping.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import SuperJSON from 'superjson';
import { ErrorCode } from '../../src/index.js';
import { Codec } from '../../src/protocol/codec.js';
import { PayloadError } from '../../src/protocol/errors.js';
import { client, RawSocket } from '../support/gateway.js';
import { assertPrototypesClean } from '../support/prototypes.js';
import { useArena } from './arena.js';

const BAD_FRAME = ErrorCode.BAD_FRAME;
const LIMIT = ErrorCode.LIMIT_EXCEEDED;
const TYPE = ErrorCode.TYPE_NOT_ALLOWED;

/** Hostile argument payloads (JSON, then superjson meta after a newline) by catalogue item. */
const HOSTILE: Array<[item: number, what: string, payload: string, code: string]> = [
  [62, 'invalid JSON', '[1,', BAD_FRAME],
  [62, 'trailing garbage', '[1] x', BAD_FRAME],
  [62, 'a byte-order mark', '\ufeff[1]', BAD_FRAME],
  [63, 'referential equalities through __proto__', '[{"a":{}}]\n{"values":{},"referentialEqualities":{"0.a":["__proto__.x"]},"v":1}', TYPE],
  [63, 'referential equalities through prototype and constructor.prototype', '[{"a":{}}]\n{"values":{},"referentialEqualities":{"0.a":["constructor.prototype.x","prototype.x"]},"v":1}', TYPE],
  [64, 'an annotation path through __proto__', '[{"a":null}]\n{"values":{"0.__proto__":["undefined"]},"v":1}', BAD_FRAME],
  [64, 'an annotation path through constructor.prototype', '[{"a":null}]\n{"values":{"0.constructor.prototype":["undefined"]},"v":1}', BAD_FRAME],
  [64, 'an annotation path through prototype', '[{"a":null}]\n{"values":{"0.prototype":["undefined"]},"v":1}', BAD_FRAME],
  [65, 'a __proto__ key in the JSON', '[{"__proto__":{"polluted":1}}]', BAD_FRAME],
  [65, 'a constructor.prototype key chain in the JSON', '[{"constructor":{"prototype":{"polluted":1}}}]', BAD_FRAME],
  [66, 'a unicode-escaped __proto__ key', '[{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":1}}]', BAD_FRAME],
  [67, 'a type named constructor', '[1]\n{"values":{"0":["constructor"]},"v":1}', TYPE],
  [67, 'a type named toString', '[1]\n{"values":{"0":["toString"]},"v":1}', TYPE],
  [67, 'a custom type named constructor', '[1]\n{"values":{"0":[["custom","constructor"]]},"v":1}', TYPE],
  [67, 'a custom type named __proto__', '[1]\n{"values":{"0":[["custom","__proto__"]]},"v":1}', TYPE],
  [68, 'an unregistered class', '[{"x":1}]\n{"values":{"0":[["class","Unknown"]]},"v":1}', TYPE],
  [68, 'an unknown custom type', '[1]\n{"values":{"0":[["custom","evil"]]},"v":1}', TYPE],
  [68, 'a symbol', '["s"]\n{"values":{"0":[["symbol","s"]]},"v":1}', TYPE],
  [68, 'a typed array', '[[1,2]]\n{"values":{"0":[["typed-array","Float64Array"]]},"v":1}', TYPE],
  [69, 'a registered class instance carrying a __proto__ key', '[{"x":1,"__proto__":{"admin":true}}]\n{"values":{"0":[["class","Point"]]},"v":1}', BAD_FRAME],
  [70, 'a RegExp (refused unless allowRegExp)', '["/(a+)+$/"]\n{"values":{"0":["regexp"]},"v":1}', TYPE],
  [71, 'an Error with a forged stack', '[{"name":"E","message":"m","stack":"at /etc/passwd"}]\n{"values":{"0":["Error"]},"v":1}', BAD_FRAME],
  [72, 'a sparse-array index bomb', '[[]]\n{"values":{"0.4294967294":["undefined"]},"v":1}', BAD_FRAME],
  [72, 'an index past the end of an array', '[[1]]\n{"values":{"0.1":["undefined"]},"v":1}', BAD_FRAME],
  [73, 'a Map index bomb', '[[[1,2]]]\n{"values":{"0":["map",{"99999.0":["bigint"]}]},"v":1}', BAD_FRAME],
  [74, 'a reference cycle', '[{"a":1}]\n{"values":{},"referentialEqualities":{"0":["0.a"]},"v":1}', TYPE],
  [74, 'a root equality (plain.a = plain)', '[{"a":1}]\n{"referentialEqualities":[["0"]],"v":1}', TYPE],
  [75, '30,000 levels of nesting', `[${'['.repeat(30_000)}${']'.repeat(30_000)}]`, LIMIT],
  [76, 'a bigint of 1,001 digits', `["${'9'.repeat(1_001)}"]\n{"values":{"0":["bigint"]},"v":1}`, LIMIT],
  [76, 'a bigint that is not digits', '["1e99999"]\n{"values":{"0":["bigint"]},"v":1}', BAD_FRAME],
  [77, 'a Set of 100,001 elements', `[[${'0,'.repeat(100_000)}0]]\n{"values":{"0":["set"]},"v":1}`, LIMIT],
  [77, 'an object of 1,001 keys', `[{${Array.from({ length: 1_001 }, (_, i) => `"k${i}":0`).join(',')}}]`, LIMIT],
  [78, 'a URL that does not parse', '["not a url"]\n{"values":{"0":["URL"]},"v":1}', BAD_FRAME],
  [78, 'a Date that is an object', '[{"a":1}]\n{"values":{"0":["Date"]},"v":1}', BAD_FRAME],
];

describe('E. hostile payloads', () => {
  const arena = useArena({ maxPayloadLength: 1024 * 1024 });
  class Point {
    static constructed = 0;
    constructor(public x = 0) {
      Point.constructed++;
    }
  }
  before(() => arena.gateway.codec.registerClass(Point, 'Point'));

  for (const item of [...new Set(HOSTILE.map(([n]) => n))]) {
    const cases = HOSTILE.filter(([n]) => n === item);
    it(`#${item} ${cases.map(([, what]) => what).join('; ')}: refused with a stable code, the connection stays`, async () => {
      const raw = await RawSocket.open(arena.url);
      for (const [i, [, what, payload, code]] of cases.entries()) {
        const direct = (() => {
          try {
            arena.gateway.codec.decode({ text: payload });
          } catch (error) {
            return error instanceof PayloadError ? error.code : `not a PayloadError: ${String(error)}`;
          }
          return 'accepted';
        })();
        assert.equal(direct, code, `codec: ${what}`);
        const answer = await raw.call({ id: i + 1, o: 'echo', m: 'echo' }, payload);
        assert.equal(answer.header.code, code, `gateway: ${what}`);
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
      }
      raw.send('{"t":"ping","id":99}');
      assert.deepEqual((await raw.next()).header, { t: 'pong', id: 99 }, 'the connection still serves');
      assert.equal(Point.constructed, 0, 'no wire value ran a constructor');
      raw.close();
    });
  }

  it('#62 an empty message and an empty header line get BAD_FRAME; the connection stays', async () => {
    const raw = await RawSocket.open(arena.url);
    for (const text of ['', '\n[1]', ' ']) {
      raw.send(text);
      assert.equal((await raw.next()).header.code, BAD_FRAME, JSON.stringify(text));
    }
    raw.close();
  });

  it('#69 a registered class from the wire is data only: its constructor never runs, only its own fields arrive', async () => {
    class Account {
      static constructed = 0;
      balance = 0;
      constructor() {
        Account.constructed++;
      }
    }
    arena.gateway.codec.registerClass(Account, 'Account');
    const raw = await RawSocket.open(arena.url);
    const answer = await raw.call({ id: 1, o: 'echo', m: 'echo' }, '[{"balance":1000000,"isAdmin":true}]\n{"values":{"0":[["class","Account"]]},"v":1}');
    assert.equal(Account.constructed, 0);
    assert.equal(answer.header.t, 'result');
    const meta = JSON.parse(answer.body.split('\n')[1]!) as { values: unknown };
    assert.deepEqual(meta.values, [['class', 'Account']], 'it travels back as the registered class');
    raw.close();
  });

  it('#71 a forged Error (newlines in its name, a cause) is plain data to the method, and never a log line of its own', async () => {
    const c = await client(arena.url);
    const forged = Object.assign(new Error('boom\n{"level":60,"msg":"forged"}'), { name: 'Evil\nName' });
    const back = await c.proxy<{ echo(e: Error): Error }>('echo').echo(forged);
    assert.ok(back instanceof Error);
    assert.equal(back.message, forged.message);
    assert.ok(!arena.logs.lines.some((l) => l.msg === 'forged'), 'nothing forged reached the log');
    await c.close();
  });

  it('#75 #76 #77 values just inside the limits are accepted (depth 64, 1,000 bigint digits, 100,000 elements, 1,000 keys)', async () => {
    const c = await client(arena.url);
    const echo = c.proxy<{ echo(v: unknown): unknown }>('echo');
    let deep: unknown = 1;
    for (let i = 0; i < 62; i++) deep = [deep];
    assert.deepEqual(await echo.echo(deep), deep);
    assert.equal(await echo.echo(BigInt('9'.repeat(1_000))), BigInt('9'.repeat(1_000)));
    assert.equal((await echo.echo(new Array(100_000).fill(0)) as number[]).length, 100_000);
    assert.equal(Object.keys(await echo.echo(Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i]))) as object).length, 1_000);
    await c.close();
  });

  it('#78 Invalid Date, NaN, -0 and the infinities are values: methods receive them as such', async () => {
    const raw = await RawSocket.open(arena.url);
    const invalid = await raw.call({ id: 1, o: 'probe', m: 'describe' }, '["garbage"]\n{"values":{"0":["Date"]},"v":1}');
    assert.equal(invalid.body, '"[object Date]:Invalid Date"');
    raw.close();
    const c = await client(arena.url);
    const echo = c.proxy<{ echo(v: number[]): number[] }>('echo');
    const [nan, negZero, inf, negInf] = await echo.echo([NaN, -0, Infinity, -Infinity]);
    assert.ok(Number.isNaN(nan));
    assert.ok(Object.is(negZero, -0));
    assert.equal(inf, Infinity);
    assert.equal(negInf, -Infinity);
    await c.close();
  });

  it('#79 own keys that shadow Object.prototype methods are data: echoed, logged and refused without a throw', async () => {
    const raw = await RawSocket.open(arena.url);
    const shadow = '{"toString":1,"valueOf":{},"hasOwnProperty":"x","toJSON":"y","then":2}';
    assert.equal((await raw.call({ id: 1, o: 'echo', m: 'echo' }, `[${shadow}]`)).body, shadow);
    const annotations = { toString: 'x', hasOwnProperty: 'y', valueOf: 'z', __lookupGetter__: 'w' };
    assert.equal((await raw.call({ id: 2, o: 'echo', m: 'nothing', cid: 'c1', ann: annotations }, `[${shadow}]`)).header.code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal((await raw.call({ id: 3, o: 'calc', m: 'divide' }, `[${shadow},1]`)).header.code, ErrorCode.BAD_ARGUMENTS);
    raw.close();
  });

  it('#80 strings are never resolved to live references: socket.io-style placeholders are plain data', async () => {
    const raw = await RawSocket.open(arena.url);
    const placeholder = '{"_placeholder":true,"num":0}';
    assert.equal((await raw.call({ id: 1, o: 'echo', m: 'echo' }, `[${placeholder}]`)).body, placeholder);
    assert.equal((await raw.call({ id: 2, o: 'echo', m: 'echo' }, '["splice"]')).body, '"splice"');
    raw.close();
  });

  it('#81 argument type confusion: a method with a schema gets BAD_ARGUMENTS listing each issue, and never runs', async () => {
    const raw = await RawSocket.open(arena.url);
    const answer = await raw.call({ id: 1, o: 'calc', m: 'divide' }, '["1",{"$gt":""}]');
    assert.equal(answer.header.code, ErrorCode.BAD_ARGUMENTS);
    const { issues } = JSON.parse(answer.body) as { issues: Array<{ path: unknown[]; message: string }> };
    assert.deepEqual(issues.map((i) => i.path), [[0], [1]]);
    assert.equal((await raw.call({ id: 2, o: 'calc', m: 'divide' }, '[6,3]')).body, '2');
    raw.close();
  });

  it('#82 classes registered on the global SuperJSON instance are not accepted from the wire', async () => {
    class Leaked { secret = 1; }
    SuperJSON.registerClass(Leaked, { identifier: 'Leaked' });
    const raw = await RawSocket.open(arena.url);
    assert.equal((await raw.call({ id: 1, o: 'echo', m: 'echo' }, '[{"secret":2}]\n{"values":{"0":[["class","Leaked"]]},"v":1}')).header.code, TYPE);
    assert.equal(new Codec().errorClass('Leaked'), undefined);
    raw.close();
  });

  it('#83 no client data ever reaches an unsafe deserializer: no eval, Function, vm or v8.deserialize in the source', () => {
    const files = readdirSync(new URL('../../src/', import.meta.url), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 20);
    for (const file of files) {
      const source = readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8');
      assert.doesNotMatch(source, /\beval\s*\(|new Function\s*\(|\bFunction\s*\(\s*['"`]|node:vm|\bv8\.deserialize|node-serialize/, file);
    }
  });
});

describe('E. the decoder refuses the same input with the same code every time', () => {
  it('#113 (codec) decoding hostile input twice changes nothing: same code, prototypes unchanged', () => {
    const codec = new Codec({ limits: { maxArrayLength: 100_000 } });
    const codes = (): string[] => HOSTILE.map(([, , payload]) => {
      try {
        codec.decode({ text: payload });
        return 'accepted';
      } catch (error) {
        return (error as PayloadError).code;
      }
    });
    const first = codes();
    assert.ok(!first.includes('accepted'));
    assert.deepEqual(codes(), first);
    assertPrototypesClean();
  });
});
