/**
 * fast-check arbitraries for fuzzing the decoder and the gateway: hostile superjson metas, random
 * frames, and valid frames with mutations. Shared by the CI-sized run (test/fuzz.test.ts) and the
 * long run (test/long/fuzz.ts), so both fuzz the same ground.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Codec, PayloadError } from '../src/index.js';

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

/** A valid frame with one to three mutations: flipped, dropped, duplicated or injected characters, cuts. */
export const mutatedFrame = fc.tuple(
  fc.constantFrom(...VALID),
  fc.array(fc.tuple(fc.constantFrom('flip', 'drop', 'duplicate', 'inject', 'truncate', 'swapNumber'), fc.nat(), fc.nat(), fc.constantFrom(...HOSTILE_SNIPPETS)), { minLength: 1, maxLength: 3 }),
).map(([frame, mutations]) => {
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
});

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
