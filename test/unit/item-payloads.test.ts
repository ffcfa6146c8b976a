/**
 * One payload per stream item (protocol/item-payloads.ts), for SSE: every annotation shape of
 * docs/protocol.md section 3, split out of a real `items` payload and read back by the real codec;
 * and the SSE event text and Last-Event-ID syntax (protocol/sse-events.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codec } from '../../src/protocol/codec.js';
import { ErrorCode, UplinkError } from '../../src/protocol/errors.js';
import { itemPayloads } from '../../src/protocol/item-payloads.js';
import { parseLastEventId, sseEvent } from '../../src/protocol/sse-events.js';

const codec = new Codec();

/** Splits the codec's payload of `items` and checks each part against the item encoded alone. */
function roundTrip(items: unknown[]): string[] {
  const parts = itemPayloads(codec.encode(items));
  assert.equal(parts.length, items.length);
  parts.forEach((part, i) => {
    assert.equal(part, codec.encode(items[i]).text, `item ${i} is what the codec writes for it alone`);
    assert.deepEqual(codec.decode({ text: part }), items[i]);
  });
  return parts;
}

describe('item payloads (SSE)', () => {
  it('plain items are their JSON, with no meta line', () => {
    assert.deepEqual(roundTrip([1, 'two', null, { a: [true] }]), ['1', '"two"', 'null', '{"a":[true]}']);
  });

  it('paths inside an item lose the index segment (Date and Set inside an object)', () => {
    const [part] = roundTrip([{ at: new Date('2026-11-27T12:00:00.000Z'), tags: new Set(['a', 'b']) }]);
    assert.equal(part, '{"at":"2026-11-27T12:00:00.000Z","tags":["a","b"]}\n{"values":{"at":["Date"],"tags":["set"]},"v":1}');
  });

  it('a path equal to the index is the item\'s root annotation, a nested tree included (Map of bigint)', () => {
    const [part] = roundTrip([new Map([['k', 1n]])]);
    assert.equal(part, '[["k","1"]]\n{"values":["map",{"0.1":["bigint"]}],"v":1}');
  });

  it('undefined, NaN and bigint, as items and inside one item; plain items between rich ones stay plain', () => {
    const parts = roundTrip([undefined, 7, NaN, 10n, [undefined, NaN, 10n], -0, Infinity]);
    assert.equal(parts[1], '7');
    assert.equal(parts[4], '[null,"NaN","10"]\n{"values":{"0":["undefined"],"1":["number"],"2":["bigint"]},"v":1}');
  });

  it('escaped keys keep their escapes, deep trees keep their shape', () => {
    const [dotted, deep] = roundTrip([{ 'a.b': new Date(0) }, { nested: { deep: [new Map([[1, new Set([2])]])] } }]);
    assert.equal(dotted, '{"a.b":"1970-01-01T00:00:00.000Z"}\n{"values":{"a\\\\.b":["Date"]},"v":1}');
    assert.equal(deep, '{"nested":{"deep":[[[1,[2]]]]}}\n{"values":{"nested.deep.0":["map",{"0.1":["set"]}]},"v":1}');
  });

  it('many items (indexes of several digits) split to the right item', () => {
    const items = Array.from({ length: 25 }, (_, i) => (i % 3 === 0 ? new Date(i) : i % 3 === 1 ? { n: BigInt(i) } : i));
    roundTrip(items);
  });

  it('URL, Error and a Set of Dates', () => {
    roundTrip([new URL('https://example.com/x'), [new Set([new Date(5)])]]);
    const error = new Error('boom');
    const [part] = itemPayloads(codec.encode([error]));
    assert.equal(part, codec.encode(error).text);
  });

  it('binary values are refused: they travel over WebSocket only', () => {
    const payload = codec.encode([new Uint8Array([1, 2, 3])]);
    assert.ok(payload.attachments?.length);
    assert.throws(() => itemPayloads(payload), (e: unknown) => e instanceof UplinkError && e.code === ErrorCode.TYPE_NOT_ALLOWED);
  });

  it('a meta that does not annotate items by index is refused, not misread', () => {
    assert.throws(() => itemPayloads({ text: '[1]\n{"values":{"x":["Date"]},"v":1}' }), /item index/);
    assert.throws(() => itemPayloads({ text: '[1]\n{"values":{"3":["Date"]},"v":1}' }), /item index/);
    assert.throws(() => itemPayloads({ text: '[1]\n{"values":["set"],"v":1}' }), /not the array/);
  });
});

describe('SSE events', () => {
  it('a payload with a meta line is two data lines; SSE joins them back with "\\n"', () => {
    assert.equal(sseEvent('item', '"x"\n{"values":["Date"],"v":1}', 'k:3'), 'event: item\nid: k:3\ndata: "x"\ndata: {"values":["Date"],"v":1}\n\n');
    assert.equal(sseEvent('end', '{"total":0}'), 'event: end\ndata: {"total":0}\n\n');
  });

  it('Last-Event-ID is <key>:<seq>; anything else is refused', () => {
    assert.deepEqual(parseLastEventId('evzNs8w7GVDjuUXscfwUS9Vz:41'), { key: 'evzNs8w7GVDjuUXscfwUS9Vz', seq: 41 });
    for (const bad of ['', 'key', 'key:', ':1', 'k:-1', 'k:01', 'k:1.5', 'k:1e3', 'k:9999999999999999', 'k y:1', 'k:1:2', `${'a'.repeat(65)}:1`, 'k:1\n']) {
      assert.equal(parseLastEventId(bad), undefined, JSON.stringify(bad));
    }
  });
});
