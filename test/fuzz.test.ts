/** Property-based fuzzing (fast-check) of the decoder and of the gateway's frame handling, CI-sized. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Codec, type Gateway, PayloadError } from '../src/index.js';
import { client, RawSocket, startGateway } from './helpers.js';
import { assertPrototypesClean } from './prototypes.js';

const HOSTILE_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', 'x', '0', '4294967294', ''];
const TYPE_NAMES = ['undefined', 'bigint', 'Date', 'URL', 'number', 'map', 'set', 'Error', 'regexp', 'symbol', 'constructor', '__proto__'];

const name = fc.oneof(fc.constantFrom(...HOSTILE_NAMES), fc.string({ maxLength: 8 }));
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
const meta = fc.record({
  values: fc.oneof(tree, fc.dictionary(path, tree, { maxKeys: 4 })),
  v: fc.oneof(fc.constant(1), fc.integer()),
}, { requiredKeys: [] }).chain((m) => fc.oneof(fc.constant(m), fc.constant({ ...m, referentialEqualities: { '0': ['1'] } })));

/** Decoding either yields a value or a PayloadError with a stable code; nothing else escapes. */
function decodesSafely(codec: Codec, text: string, attachments?: Uint8Array[]): void {
  try {
    codec.decode({ text, attachments });
  } catch (error) {
    assert.ok(error instanceof PayloadError, `unexpected ${String(error)} for ${text.slice(0, 200)}`);
    assert.match(error.code, /^(BAD_FRAME|LIMIT_EXCEEDED|TYPE_NOT_ALLOWED)$/);
  }
}

describe('decoder fuzzing', () => {
  it('round-trips arbitrary values within the limits', () => {
    const codec = new Codec();
    // Keys the codec refuses by design (__proto__, constructor, prototype) are left out of the generated values.
    const key = fc.string({ maxLength: 6 }).filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k));
    fc.assert(fc.property(fc.anything({ key, maxDepth: 4, withMap: true, withSet: true, withBigInt: true, withDate: true, withNullPrototype: false, withObjectString: false, withBoxedValues: false }), (value) => {
      const back = codec.decode(codec.encode(value));
      assert.deepEqual(back, value);
    }), { numRuns: 300 });
  });

  it('refuses or accepts random meta with a stable code, never polluting prototypes', () => {
    const codec = new Codec({ limits: { maxDepth: 16 } });
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), meta, fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 2 }), (json, m, attachments) => {
      decodesSafely(codec, `${JSON.stringify(json) ?? 'null'}\n${JSON.stringify(m)}`, attachments);
      assertPrototypesClean();
    }), { numRuns: 1_000 });
  });

  it('refuses random text with a stable code', () => {
    const codec = new Codec();
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 64 }), fc.json({ maxDepth: 5 }).map((j) => j + '\n' + j)), (text) => {
      decodesSafely(codec, text);
      assertPrototypesClean();
    }), { numRuns: 1_000 });
  });
});

describe('gateway frame fuzzing', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => ({ gateway, url } = await startGateway({ maxOnewayInflight: 4 })));
  after(() => gateway.close({ drainMs: 0 }));

  const header = fc.record({
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
  const body = fc.oneof(fc.constant(''), fc.json({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }).map((v) => `${JSON.stringify([v])}\n${JSON.stringify({ values: { '0': ['bigint'] }, v: 1 })}`));

  it('answers random frames without crashing, and keeps serving an honest client', async () => {
    const honest = await client(url);
    const frames = fc.sample(fc.tuple(header, body), { numRuns: 400, seed: 42 });
    let raw = await RawSocket.open(url);
    let reopened = 0;
    for (const [h, b] of frames) {
      if (raw.ws.readyState !== raw.ws.OPEN) {
        raw = await RawSocket.open(url);
        reopened++;
      }
      raw.send(JSON.stringify(h) + (b ? '\n' + b : ''));
    }
    raw.send('{"t":"ping","id":999999}');
    const deadline = Date.now() + 3_000;
    while (raw.ws.readyState === raw.ws.OPEN && !raw.frames.some((f) => f.header.t === 'pong' && f.header.id === 999999) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(raw.ws.readyState !== raw.ws.OPEN || raw.frames.some((f) => f.header.t === 'pong'), 'the fuzzed connection still answers');
    assert.ok(reopened < frames.length / 4, `the connection was closed ${reopened} times`);
    assert.equal(await honest.proxy<{ add(a: number, b: number): number }>('calc').add(20, 22), 42);
    assertPrototypesClean();
    raw.close();
    await honest.close();
  });
});
