/** The restricted codec, directly: what it accepts, what it refuses (with which code), and that refusal happens before superjson runs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../../src/index.js';
import { Codec } from '../../../src/protocol/codec.js';
import { PayloadError } from '../../../src/protocol/errors.js';

const codec = new Codec({ limits: { maxDepth: 8, maxArrayLength: 100, maxObjectKeys: 10, maxStringLength: 1000, maxBigIntDigits: 50 } });

function refusal(text: string, attachments?: Uint8Array[], c = codec): string {
  try {
    c.decode({ text, attachments });
  } catch (error) {
    assert.ok(error instanceof PayloadError, `expected a PayloadError, got ${String(error)}`);
    return error.code;
  }
  assert.fail(`accepted: ${text}`);
}

class Point {
  constructor(public x = 0, public y = 0) {}
  norm(): number { return Math.hypot(this.x, this.y); }
}

describe('codec round trips', () => {
  it('sends plain JSON without any meta (the fast path)', () => {
    const encoded = codec.encode([1, 'a', { b: [true, null] }]);
    assert.equal(encoded.text, '[1,"a",{"b":[true,null]}]');
    assert.equal(encoded.attachments, undefined);
  });

  it('round-trips every allow-listed type', () => {
    const value = {
      date: new Date(1234), map: new Map([['k', 1n]]), set: new Set([1, 2]), big: -12345678901234567890n,
      undef: undefined, url: new URL('https://example.com/x'), nan: NaN, inf: -Infinity, negZero: -0,
      err: new Error('boom'),
    };
    const back = codec.decode(codec.encode(value)) as typeof value;
    assert.deepEqual(back.date, value.date);
    assert.deepEqual(back.map, value.map);
    assert.deepEqual(back.set, value.set);
    assert.equal(back.big, value.big);
    assert.ok('undef' in back && back.undef === undefined);
    assert.equal(back.url.href, value.url.href);
    assert.ok(Number.isNaN(back.nan));
    assert.equal(back.inf, -Infinity);
    assert.ok(Object.is(back.negZero, -0));
    assert.ok(back.err instanceof Error);
    assert.equal(back.err.message, 'boom');
  });

  it('carries binary data as attachments, never as JSON numbers', () => {
    const bytes = new Uint8Array(4096).map((_, i) => i & 0xff);
    const encoded = codec.encode({ bytes, buffer: bytes.buffer.slice(0, 16) });
    assert.ok(encoded.text.length < 200, `text is ${encoded.text.length} chars`);
    assert.equal(encoded.attachments?.length, 2);
    const back = codec.decode(encoded) as { bytes: Uint8Array; buffer: ArrayBuffer };
    assert.ok(back.bytes instanceof Uint8Array);
    assert.deepEqual([...back.bytes], [...bytes]);
    assert.ok(back.buffer instanceof ArrayBuffer);
    assert.equal(back.buffer.byteLength, 16);
  });

  it('rebuilds registered classes without running their constructor', () => {
    const c = new Codec();
    c.registerClass(Point, 'Point');
    const back = c.decode(c.encode(new Point(3, 4))) as Point;
    assert.ok(back instanceof Point);
    assert.equal(back.norm(), 5);
    assert.throws(() => c.registerClass(Point, 'Point'), /already registered/);
  });

  it('sends shared references as copies and no equality table', () => {
    const shared = { d: new Date(0) };
    const encoded = codec.encode([shared, shared]);
    assert.ok(!encoded.text.includes('referentialEqualities'));
    assert.deepEqual(codec.decode(encoded), [shared, shared]);
  });
});

describe('codec limits (checked before superjson)', () => {
  it('refuses nesting deeper than maxDepth', () => {
    assert.equal(refusal('['.repeat(9) + ']'.repeat(9)), ErrorCode.LIMIT_EXCEEDED);
    assert.deepEqual(codec.decode({ text: '['.repeat(8) + ']'.repeat(8) }), [[[[[[[[]]]]]]]]);
  });

  it('survives 100 000 levels of nesting without a stack overflow', () => {
    const big = new Codec();
    assert.equal(refusal('['.repeat(100_000) + ']'.repeat(100_000), undefined, big), ErrorCode.LIMIT_EXCEEDED);
  });

  it('refuses long arrays, wide objects, long strings and long keys', () => {
    assert.equal(refusal(JSON.stringify(new Array(101).fill(0))), ErrorCode.LIMIT_EXCEEDED);
    assert.equal(refusal(JSON.stringify(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])))), ErrorCode.LIMIT_EXCEEDED);
    assert.equal(refusal(JSON.stringify(['x'.repeat(1001)])), ErrorCode.LIMIT_EXCEEDED);
    assert.equal(refusal(JSON.stringify({ ['k'.repeat(1001)]: 1 })), ErrorCode.LIMIT_EXCEEDED);
  });

  it('refuses bigints with more digits than allowed', () => {
    assert.equal(refusal(`["${'9'.repeat(51)}"]\n{"values":{"0":["bigint"]},"v":1}`), ErrorCode.LIMIT_EXCEEDED);
    assert.equal(codec.decode({ text: `["${'9'.repeat(50)}"]\n{"values":{"0":["bigint"]},"v":1}` }) instanceof Array, true);
  });

  it('refuses __proto__, constructor and prototype keys, also when unicode-escaped', () => {
    assert.equal(refusal('{"__proto__":{"polluted":1}}'), ErrorCode.BAD_FRAME);
    assert.equal(refusal('[{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":1}}]'), ErrorCode.BAD_FRAME);
    assert.equal(refusal('[{"constructor":{"prototype":{"polluted":1}}}]'), ErrorCode.BAD_FRAME);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses invalid JSON with BAD_FRAME', () => {
    assert.equal(refusal('[1,'), ErrorCode.BAD_FRAME);
    assert.equal(refusal(''), ErrorCode.BAD_FRAME);
    assert.equal(refusal('[1]\n{'), ErrorCode.BAD_FRAME);
  });
});

// Hostile meta (prototype paths, index bombs, cycles, unknown types...) is tested through a live gateway in test/hostile/e-codec.test.ts.
describe('codec meta allow-list', () => {
  it('accepts a RegExp only when allowed', () => {
    const c = new Codec({ allowRegExp: true });
    const back = c.decode({ text: '["/ab+c/gi"]\n{"values":{"0":["regexp"]},"v":1}' }) as RegExp[];
    assert.ok(back[0] instanceof RegExp);
    assert.equal(back[0]!.flags, 'gi');
  });

  it('refuses more annotations than maxAnnotations', () => {
    const c = new Codec({ limits: { maxAnnotations: 3 } });
    const meta = { values: Object.fromEntries([0, 1, 2, 3].map((i) => [String(i), ['undefined']])), v: 1 };
    assert.equal(refusal(`[null,null,null,null]\n${JSON.stringify(meta)}`, undefined, c), ErrorCode.LIMIT_EXCEEDED);
  });

  it('refuses more attachments than maxAttachments', () => {
    const c = new Codec({ limits: { maxAttachments: 1 } });
    assert.equal(refusal('[0,1]', [new Uint8Array(1), new Uint8Array(1)], c), ErrorCode.LIMIT_EXCEEDED);
  });
});
