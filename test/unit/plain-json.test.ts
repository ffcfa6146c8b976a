/**
 * The codec's plain-JSON writer (src/protocol/plain-json.ts) must write exactly what JSON.stringify
 * writes, long strings with and without characters to escape included, and must recognise exactly the
 * values JSON round-trips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LONG_STRING, PlainJson, plainJsonKind, stringifyPlain } from '../../src/protocol/plain-json.js';
import { Codec } from '../../src/protocol/codec.js';

const long = (s: string) => s.repeat(Math.ceil(LONG_STRING / s.length) + 1);
/** Long strings that hit each escape the writer must leave to JSON.stringify, and clean ones. */
const longStrings = [long('x'), long('héllo wörld – ünïcode '), long('a"b'), long('a\\b'), long('line\n'), long('\u0000'), long('\u001f'),
  long('emoji 😀 '), long('x') + '\ud800', '\udfff' + long('x'), long('x') + '\u007f', long('x') + '\u2028'];

describe('plain JSON writer', () => {
  it('writes every long string exactly as JSON.stringify does, clean or not', () => {
    for (const s of longStrings) {
      for (const value of [s, [s], { a: s, 1: [s, 2, null, true] }]) {
        const kind = plainJsonKind(value);
        assert.equal(kind, PlainJson.WithLongStrings);
        assert.equal(stringifyPlain(value, kind), JSON.stringify(value));
      }
    }
  });

  it('matches JSON.stringify on generated JSON values holding long strings', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', minLength: LONG_STRING, maxLength: LONG_STRING + 40 }), fc.constantFrom(...longStrings), fc.string());
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)), fc.boolean(), fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('node'), { maxKeys: 4, noNullPrototype: true })),
    })).node;
    fc.assert(fc.property(value, (v) => {
      const kind = plainJsonKind(v);
      assert.notEqual(kind, PlainJson.No);
      assert.equal(stringifyPlain(v, kind), JSON.stringify(v));
    }), { numRuns: 300, seed: 30 });
  });

  it('calls not plain what JSON would change: undefined, -0, NaN, holes, class instances, Maps, too deep', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    // eslint-disable-next-line no-sparse-arrays
    for (const v of [undefined, -0, NaN, Infinity, [1, , 3], { a: undefined }, new Date(0), new Map(), 1n, deep, [long('x'), undefined]]) {
      assert.equal(plainJsonKind(v), PlainJson.No, String(v));
    }
    assert.equal(plainJsonKind({ a: [1, 'short'] }), PlainJson.Yes);
  });

  it('the codec round-trips long strings on the fast path and in superjson payloads', () => {
    const codec = new Codec();
    for (const s of longStrings) {
      assert.deepEqual(codec.decode(codec.encode([s, 1])), [s, 1]);
      const rich = { s, when: new Date(5), big: 7n };
      assert.deepEqual(codec.decode(codec.encode(rich)), rich);
    }
  });
});
