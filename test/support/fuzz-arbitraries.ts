/**
 * fast-check arbitraries for fuzzing the decoder and the gateway: hostile superjson metas, random
 * frames, and valid frames with mutations. Shared by the CI-sized run (test/integration/codec/decoder-fuzz.test.ts) and the
 * long run (test/long/fuzz.ts), so both fuzz the same ground.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Codec } from '../../src/protocol/codec.js';
import { PayloadError } from '../../src/protocol/errors.js';

const HOSTILE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', 'x', '0', '4294967294', ''];
const TYPE_NAMES = ['undefined', 'bigint', 'Date', 'URL', 'number', 'map', 'set', 'Error', 'regexp', 'symbol', 'constructor', '__proto__'];

export const name = fc.oneof(fc.constantFrom(...HOSTILE_NAMES), fc.string({ maxLength: 8 }));
const annotation = fc.oneof(
  fc.constantFrom(...TYPE_NAMES),
  fc.tuple(fc.constantFrom('class', 'custom', 'symbol', 'typed-array', '__proto__'), fc.oneof(fc.constantFrom('bin', 'binab', 'Point', 'constructor'), fc.string({ maxLength: 6 }))),
  fc.anything({ maxDepth: 2 }),
);
const path = fc.array(name, { minLength: 1, maxLength: 4 }).map((segments) => segments.join('.'));
const tree: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, fc.tuple(annotation), fc.tuple(annotation, tie('children'))),
  children: fc.dictionary(path, tie('node'), { maxKeys: 3 }),
})).node;
/** A superjson meta as a hostile client might write it. */
export const meta = fc.record({
  values: fc.oneof(tree, fc.dictionary(path, tree, { maxKeys: 4 })),
  v: fc.oneof(fc.constant(1), fc.integer()),
}, { requiredKeys: [] }).chain((m) => fc.oneof(fc.constant(m), fc.constant({ ...m, referentialEqualities: { '0': ['1'] } })));

/** Random frame headers: every frame type (and some that do not exist) with fields of any type. */
export const header = fc.record({
  t: fc.constantFrom('call', 'oneway', 'batch', 'stream', 'credit', 'resume', 'cancel', 'ping', 'pong', 'refresh', 'goodbye-not', 'x'),
  id: fc.oneof(fc.nat(1_000), fc.integer(), fc.double(), fc.string({ maxLength: 3 })),
  o: fc.oneof(fc.constantFrom('calc', 'echo', 'counter', '$uplink', 'nope'), name),
  m: fc.oneof(fc.constantFrom('add', 'echo', 'count', 'increment', 'list', 'metadata', 'slow'), name),
  k: fc.constantFrom('get', 'set', 'nope'),
  upTo: fc.nat(10),
  ack: fc.nat(10),
  key: fc.string({ maxLength: 30 }),
  stop: fc.boolean(),
  calls: fc.array(fc.record({ o: fc.constantFrom('calc', 'echo'), m: fc.constantFrom('add', 'echo'), n: fc.nat(8) }), { maxLength: 3 }),
  dl: fc.oneof(fc.nat(50), fc.constant(-1)),
}, { requiredKeys: ['t'] });

/** Random bodies: nothing, JSON, or arguments with a superjson meta. */
export const body = fc.oneof(fc.constant(''), fc.json({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }).map((v) => `${JSON.stringify([v])}\n${JSON.stringify({ values: { '0': ['bigint'] }, v: 1 })}`));

/** A random frame as text: a header line and, maybe, a body. */
export const randomFrame = fc.tuple(header, body).map(([h, b]) => JSON.stringify(h) + (b ? '\n' + b : ''));

/** Frames an honest client sends; mutated below into near-valid hostile ones. */
const VALID = [
  '{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]',
  '{"t":"call","id":2,"o":"echo","m":"echo"}\n[{"a":[1,"x",null]}]',
  '{"t":"call","id":3,"o":"echo","m":"echo"}\n[["12345678901234567890"]]\n{"values":{"0.0":["bigint"]},"v":1}',
  '{"t":"call","id":4,"o":"echo","m":"echo"}\n[[[1,2],[3,4]]]\n{"values":{"0":["map"]},"v":1}',
  '{"t":"call","id":5,"o":"counter","m":"count","k":"get"}',
  '{"t":"batch","id":6,"stop":false,"calls":[{"o":"calc","m":"add","n":5},{"o":"echo","m":"echo","n":5}]}\n[1,2]["x"]',
  '{"t":"stream","id":7,"o":"ticker","m":"watch","upTo":3}\n["UPL",10]',
  '{"t":"credit","id":7,"upTo":6,"ack":3}',
  '{"t":"cancel","id":7}',
  '{"t":"ping","id":8}',
  '{"t":"call","id":9,"o":"$uplink","m":"metadata","dl":100,"cid":"c-9","ann":{"k":"v"}}\n["calc"]',
];
const HOSTILE_SNIPPETS = ['__proto__', '"constructor"', '\\u005f\\u005fproto\\u005f\\u005f', '-1', '1e309', '9007199254740993', 'null', '[]', '{}', '\n', '"', '\\', '\u0000', '\ud800'];

/** One text mutation: flipped, dropped, duplicated or injected characters, a cut, a number swapped for a snippet. */
export type TextMutation = [kind: 'flip' | 'drop' | 'duplicate' | 'inject' | 'truncate' | 'swapNumber', a: number, b: number, snippet: string];
export const textMutations = fc.array(
  fc.tuple(fc.constantFrom('flip', 'drop', 'duplicate', 'inject', 'truncate', 'swapNumber'), fc.nat(), fc.nat(), fc.constantFrom(...HOSTILE_SNIPPETS)),
  { minLength: 1, maxLength: 3 },
) as fc.Arbitrary<TextMutation[]>;

/** Applies mutations in order; positions wrap around the text's length. */
export function mutateText(frame: string, mutations: readonly TextMutation[]): string {
  let text = frame;
  for (const [kind, a, b, snippet] of mutations) {
    const at = text.length === 0 ? 0 : a % text.length;
    switch (kind) {
      case 'flip': text = text.slice(0, at) + String.fromCharCode((text.charCodeAt(at) + 1 + (b % 90)) % 128) + text.slice(at + 1); break;
      case 'drop': text = text.slice(0, at) + text.slice(at + 1 + (b % 8)); break;
      case 'duplicate': text = text.slice(0, at) + text.slice(at, at + 1 + (b % 16)) + text.slice(at); break;
      case 'inject': text = text.slice(0, at) + snippet + text.slice(at); break;
      case 'truncate': text = text.slice(0, at); break;
      case 'swapNumber': text = text.replace(/\d+/, snippet); break;
    }
  }
  return text;
}

/** A valid frame with one to three mutations: flipped, dropped, duplicated or injected characters, cuts. */
export const mutatedFrame = fc.tuple(fc.constantFrom(...VALID), textMutations).map(([frame, mutations]) => mutateText(frame, mutations));

/** A well-formed call whose arguments carry a random value and a hostile meta: reaches the decoder and dispatch. */
export const hostileCall = fc.tuple(
  fc.constantFrom('{"t":"call","id":11,"o":"echo","m":"echo"}', '{"t":"call","id":12,"o":"calc","m":"sum"}', '{"t":"stream","id":13,"o":"ticker","m":"watch","upTo":2}', '{"t":"oneway","o":"counter","m":"note"}'),
  fc.jsonValue({ maxDepth: 3 }), meta,
).map(([head, value, m]) => `${head}\n${JSON.stringify([value])}\n${JSON.stringify(m)}`);

/** Every kind of fuzzed frame, in equal parts. */
export const fuzzedFrame = fc.oneof(randomFrame, mutatedFrame, hostileCall);

/** Decoding either yields a value or a PayloadError with a stable code; nothing else escapes. */
export function decodesSafely(codec: Codec, text: string, attachments?: Uint8Array[]): void {
  try {
    codec.decode({ text, attachments });
  } catch (error) {
    assert.ok(error instanceof PayloadError, `unexpected ${String(error)} for ${text.slice(0, 200)}`);
    assert.match(error.code, /^(BAD_FRAME|LIMIT_EXCEEDED|TYPE_NOT_ALLOWED)$/);
  }
}

// ---- Well-formed pieces for structured frames (test/long/ws-frames.ts): valid per docs/protocol.md,
// with sizes at and just past the limits (names 256, annotations 16 x 1,024, codec limits). ----

/** Characters that grow when re-encoded: multi-byte UTF-8, JSON escapes, percent-encoding, surrogates. */
const WIDE_CHARS = ['x', 'é', '中', '😀', '\u0001', '"', '\\', '%', ' ', '\u007f', '\u2028', '.', '~', '\ud800'];

/** A string of exactly `length` UTF-16 units made of one repeated character (surrogate pairs kept whole). */
export function sized(char: string, length: number): string {
  const text = char.repeat(Math.ceil(length / char.length));
  return text.length === length ? text : text.slice(0, length - 1) + 'x';
}

/** A name-like string: ordinary, at the 256 limit, or one past it, of narrow or wide characters. */
export const limitName = fc.oneof(
  { weight: 12, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...WIDE_CHARS), fc.constantFrom(1, 255, 256, 257)).map(([c, n]) => sized(c, n)) },
);

/** The largest annotations a header may carry (16 keys of 256, values of 1,024) or one past, in wide characters. */
export const bigAnnotations = fc.tuple(fc.constantFrom(...WIDE_CHARS), fc.constantFrom(15, 16, 17), fc.constantFrom(255, 256, 257), fc.constantFrom(1_023, 1_024, 1_025)).map(([c, keys, keyLength, valueLength]) => {
  const ann: Record<string, string> = {};
  for (let i = 0; i < keys; i++) ann[sized('k', keyLength - String(i).length) + i] = sized(c, valueLength);
  return ann;
});

/** Annotations (`ann`): usually small, sometimes the biggest allowed (or one past), sometimes refused keys or values. */
export const annotations = fc.oneof(
  { weight: 40, arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 16 }), { maxKeys: 3 }) },
  { weight: 1, arbitrary: bigAnnotations },
  { weight: 1, arbitrary: fc.constantFrom<Record<string, unknown>>({ __proto__x: 'a' }, { constructor: 'x' }, { k: 1 }, { '': 'empty key' }, { k: null }) },
);

/** One value that travels with a meta annotation, as its JSON and its annotation (docs/protocol.md section 3). */
const typedLeaf: fc.Arbitrary<[unknown, unknown]> = fc.oneof(
  fc.tuple(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), fc.constant('bigint')),
  fc.tuple(fc.constantFrom('1'.repeat(1_000), '1'.repeat(1_001), '-5', '0x10', ''), fc.constant('bigint')),
  fc.tuple(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant('Date')),
  fc.tuple(fc.constantFrom('not a date', 'x'.repeat(65)), fc.constant('Date')),
  fc.tuple(fc.array(fc.integer(), { maxLength: 4 }), fc.constant('set')),
  fc.tuple(fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.integer()), { maxLength: 3 }), fc.constant('map')),
  fc.tuple(fc.constantFrom(null), fc.constant('undefined')),
  fc.tuple(fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '1'), fc.constant('number')),
  fc.tuple(fc.constantFrom('https://example.org/a?b#c', 'not a url', 'javascript:alert(1)'), fc.constant('URL')),
  fc.tuple(fc.constantFrom({ name: 'Error', message: 'm' }, { name: 'E', message: 'm', cause: 'c' }, { name: 1, message: 'm' }), fc.constant('Error')),
  fc.tuple(fc.constantFrom({ x: 1 }), fc.constantFrom(['class', 'Point'], ['class', 'TestError'])),
  fc.tuple(fc.nat(17), fc.constantFrom(['custom', 'bin'], ['custom', 'binab'])),
  fc.tuple(fc.constantFrom({ id: 'c1' }, { id: 'cFuzz_9' }, { id: 'c1', m: ['twice'] }, { id: 'c1', m: ['twice', 'then'] }, { id: 'x1' }, { id: 'c' }), fc.constant(['custom', 'cref'])),
  fc.tuple(fc.constantFrom({ id: '@@SREF@@' }, { id: 's' + 'A'.repeat(22) }, { id: '@@SREF@@', m: [] }), fc.constant(['custom', 'sref'])),
  fc.tuple(fc.constantFrom('/a+/g', '/(a+)+$/'), fc.constant('regexp')),
  fc.tuple(fc.jsonValue({ maxDepth: 1 }), annotation),
);

/** Ways a meta path can go wrong while the meta stays well-formed JSON. */
const PATH_MUTATIONS = ['', '0', '99', '0.0.0', '__proto__', 'constructor.prototype', 'a\\.b', '0\\\\.1', '-1', '1e3', '00'];

/**
 * Arguments `[[leaf, ...]]` with a meta naming each leaf's path, optionally with one path or the version
 * mutated, plus the attachments the `bin` leaves point at. Reaches the codec with a valid header.
 */
export const typedArgs = fc.tuple(
  fc.array(typedLeaf, { minLength: 1, maxLength: 4 }),
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(...PATH_MUTATIONS)) }),
  fc.oneof({ weight: 12, arbitrary: fc.constant<unknown>(1) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(2, '1', undefined, 0) }),
  fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 3 }),
).map(([leaves, pathMutation, version, attachments]) => {
  const values: Record<string, unknown> = {};
  leaves.forEach(([, a], i) => (values[`0.${i}`] = [a]));
  if (pathMutation) {
    const keys = Object.keys(values);
    const key = keys[pathMutation[0] % keys.length]!;
    values[pathMutation[1] === '' ? '' : `0.${pathMutation[1]}`] = values[key];
    delete values[key];
  }
  const meta = { values, ...(version === undefined ? {} : { v: version }) };
  return { text: `${JSON.stringify([leaves.map(([json]) => json)])}\n${JSON.stringify(meta)}`, attachments };
});
