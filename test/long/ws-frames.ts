/**
 * Structured WebSocket frames for `npm run fuzz:long`: headers that pass the gateway's shape checks
 * (docs/protocol.md section 2) addressed to the test fixtures' real objects and members, with the
 * mutation in what comes after the header: bodies, meta paths, references, ids, names and sizes at
 * and past the limits, stream credits, cancels and resume keys. A minority is text-mutated or random.
 *
 * Values only the live connection knows (fresh and in-flight ids, open streams, resume keys, server
 * references, callback ids, tokens) are slots that the lane fills at send time (ws-lane.ts).
 */
import fc from 'fast-check';
import { annotations, bigAnnotations, fuzzedFrame, limitName, sized, textMutations, typedArgs, type TextMutation } from '../support/fuzz-arbitraries.js';

export type SlotName = 'id' | 'inflight' | 'stream' | 'key' | 'sref' | 'cb' | 'token';
/** A header value the lane fills in; `variant` picks a mutation of it (0: as it is). */
export interface Slot { $: SlotName; variant: number }
export const slot = (name: SlotName, variant = 0): Slot => ({ $: name, variant });
export const isSlot = (v: unknown): v is Slot => typeof v === 'object' && v !== null && '$' in v;

export interface FrameSpec {
  /** What the frame is, for the tally: call, batch, stream, credit, ... or mutated / random. */
  kind: string;
  header?: Record<string, unknown>;
  /** The payload text; `@@SREF@@` and `@@FILL@@` are filled by the lane. */
  body?: string;
  /** A batch's payloads: the lane joins them into the body and sets each call's `n` (the first's off by `skew`). */
  pieces?: string[];
  skew?: number;
  attachments?: Uint8Array[];
  /** With `@@FILL@@` in the body: bytes left under the gateway's maxPayload once filled (negative: over it). */
  fill?: number;
  /** Applied to the whole text after filling (the mutated minority). */
  mutations?: TextMutation[];
  /** A finished text frame (the random minority). */
  raw?: string;
}

const json = (v: unknown): string => JSON.stringify(v);
const num = fc.oneof(fc.integer({ min: -1_000, max: 1_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(2 ** 53, -0, 1e308));
const garbageArgs = fc.constantFrom('', '[]', '{}', 'null', '"x"', '[1,2', '[1]\n{"values":{"0":["bigint"]}}', json(Array.from({ length: 65 }, (_, i) => i)), '[1]\n\n', '["__proto__"]', '[{"__proto__":{"x":1}}]');

/** Arguments for a member: mostly well-typed, sometimes typed values with metas, sometimes garbage. */
function argsOf(wellTyped: fc.Arbitrary<string>): fc.Arbitrary<{ text: string; attachments?: Uint8Array[] }> {
  return fc.oneof(
    { weight: 8, arbitrary: wellTyped.map((text) => ({ text })) },
    { weight: 2, arbitrary: typedArgs },
    { weight: 1, arbitrary: garbageArgs.map((text) => ({ text })) },
  );
}

/** Bodies at the codec's limits: depth 64, 100,000 elements, 1,000 keys, 64 arguments, 10,000 summands (and one past). */
const limitBodies = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(63, 64, 65).map((d) => `[${'['.repeat(d - 1)}${']'.repeat(d - 1)}]`) },
  { weight: 1, arbitrary: fc.constantFrom(100_000, 100_001).map((n) => `[[${'0,'.repeat(n - 1)}0]]`) },
  { weight: 2, arbitrary: fc.constantFrom(1_000, 1_001).map((n) => json([Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))])) },
  { weight: 4, arbitrary: fc.constantFrom(64, 65).map((n) => json(Array.from({ length: n }, () => 1))) },
  { weight: 2, arbitrary: fc.constantFrom(10_000, 10_001).map((n) => json([Array.from({ length: n }, () => 1)])) },
);

/** One member of the fixtures (test/support/fixtures.ts) with its arguments. */
interface Target { o: string; m: string; k?: 'get' | 'set'; args: fc.Arbitrary<{ text: string; attachments?: Uint8Array[] }> }

const unary: Array<[number, fc.Arbitrary<Target>]> = [
  [6, fc.tuple(num, num).map(([a, b]) => ({ o: 'calc', m: 'add', args: fc.constant({ text: json([a, b]) }) }))],
  [2, fc.tuple(num, fc.constantFrom(0, 1, -1)).map(([a, b]) => ({ o: 'calc', m: 'divide', args: argsOf(fc.constant(json([a, b]))) }))],
  [2, fc.constant({ o: 'calc', m: 'sum', args: argsOf(fc.array(fc.integer(), { maxLength: 20 }).map((v) => json([v]))) })],
  [6, fc.constant({ o: 'echo', m: 'echo', args: argsOf(fc.jsonValue({ maxDepth: 3 }).map((v) => json([v]))) })],
  [2, fc.constantFrom('fail', 'crash', 'whoami').map((m) => ({ o: 'echo', m, args: argsOf(fc.constant('["boom"]')) }))],
  [1, fc.constant({ o: 'echo', m: 'slow', args: fc.integer({ min: 0, max: 200 }).map((ms) => ({ text: json([ms]) })) })],
  [2, fc.constantFrom<Target>(
    { o: 'counter', m: 'count', k: 'get', args: fc.constant({ text: '' }) },
    { o: 'counter', m: 'increment', args: argsOf(fc.integer().map((n) => json([n]))) },
    { o: 'counter', m: 'notes', args: fc.constant({ text: '[]' }) },
  )],
  [1, fc.constant({ o: 'counter', m: 'count', k: 'set', args: argsOf(num.map((n) => json([n]))) })],
  [3, fc.constantFrom('callMe', 'callMember', 'keep').map((m) => ({ o: 'relay', m, args: argsOf(fc.integer({ max: 100 }).map((x) => `[{"id":"c${x & 7 || 1}"${m === 'callMember' ? ',"m":["twice"]' : ''}},${x}]\n{"values":{"0":[["custom","cref"]]},"v":1}`)) }))],
  [1, fc.constantFrom('callKept', 'openTally').map((m) => ({ o: 'relay', m, args: fc.constant({ text: '[3]' }) }))],
  [3, fc.constant({ o: '~@@SREF@@', m: 'add', args: argsOf(fc.integer().map((n) => json([n]))) })],
  [2, fc.constantFrom('ping', 'info', 'list', 'metadata').map((m) => ({ o: '$uplink', m, args: argsOf(fc.constantFrom('[]', '["calc"]', '["c*"]', '["*"]', '["nope"]', '[5]')) }))],
  [1, fc.constant({ o: 'admin', m: 'stats', args: fc.constant({ text: '[]' }) })],
  [2, fc.tuple(fc.constantFrom('calc', 'echo', 'nope', '~s' + 'A'.repeat(22), 'relay', '$uplink'), limitName).map(([o, m]) => ({ o, m, args: fc.constant({ text: '[]' }) }))],
  [1, limitName.map((o) => ({ o, m: 'echo', args: fc.constant({ text: '[1]' }) }))],
  [1, fc.constantFrom('then', 'constructor', '__proto__', 'toString', '_private', 'add ', 'a.b', 'echo\n').map((m) => ({ o: 'echo', m, args: fc.constant({ text: '[]' }) }))],
];
const unaryTarget = fc.oneof(...unary.map(([weight, arbitrary]) => ({ weight, arbitrary }))).chain((t) => t.args.map((args) => ({ ...t, args })));

const streamTarget = fc.oneof(
  fc.integer({ min: 0, max: 1_000 }).map((n) => ({ o: 'numbers', m: 'range', text: json([n]) })),
  fc.tuple(fc.constantFrom('UPL', 'x'.repeat(300)), fc.integer({ min: 10, max: 500 })).map(([s, ms]) => ({ o: 'ticker', m: 'watch', text: json([s, ms]) })),
  fc.constantFrom({ o: 'calc', m: 'add', text: '[1,2]' }, { o: 'numbers', m: 'range', text: '["x"]' }, { o: 'numbers', m: 'range', text: '[1e9]' }, { o: 'nope', m: 'range', text: '[]' }),
);

/** Optional call fields: a deadline, a correlation id (up to 256 and past), annotations. */
const tags = fc.record({ dl: fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.constantFrom(1, 2_147_483_647)), cid: limitName, ann: annotations }, { requiredKeys: [] });
const credit = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 4_096, 4_097, Number.MAX_SAFE_INTEGER));
/** An id that is fresh, already in flight, or at the edges of a safe integer. */
const idSlot = fc.oneof({ weight: 20, arbitrary: fc.constant<unknown>(slot('id')) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(slot('inflight'), 0, Number.MAX_SAFE_INTEGER) });

const call = fc.tuple(unaryTarget, tags, idSlot).map(([t, extra, id]): FrameSpec => ({
  kind: 'call', header: { t: 'call', id, o: t.o, m: t.m, ...(t.k ? { k: t.k } : {}), ...extra }, body: t.args.text || undefined, attachments: t.args.attachments,
}));
const limits = fc.tuple(fc.constantFrom('echo', 'sum'), limitBodies).map(([m, body]): FrameSpec => ({
  kind: 'call', header: { t: 'call', id: slot('id'), o: m === 'sum' ? 'calc' : 'echo', m }, body,
}));

/**
 * A call whose message ends near the gateway's maxPayload (mostly under it by up to 64 KiB, sometimes
 * over it, rarely past twice or four times it), mostly with the biggest annotations: what fits one WebSocket message may not fit one NATS message
 * once the headers re-encode the annotations (escapes, base64).
 */
const fill = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 65_536 }) },
  { weight: 2, arbitrary: fc.integer({ min: -65_536, max: -1 }) },
  { weight: 1, arbitrary: fc.constantFrom(-(1 << 20) - 1, -(3 << 20) - 1) }, // past twice the limit (1009), past four times (dropped)
);
const nearLimit = fc.tuple(fc.constantFrom('echo', 'calc'), fc.oneof({ weight: 2, arbitrary: bigAnnotations }, { weight: 1, arbitrary: annotations }), fill, limitName).map(([o, ann, fill, cid]): FrameSpec => ({
  kind: 'near-limit', header: { t: 'call', id: slot('id'), o, m: o === 'echo' ? 'echo' : 'add', ann, cid }, body: '["@@FILL@@"]', fill,
}));

const batch = fc.tuple(fc.array(unaryTarget, { minLength: 1, maxLength: 6 }), fc.boolean(), tags, fc.constantFrom(0, 0, 0, 1, -1)).map(([targets, stop, extra, skew]): FrameSpec => {
  const calls = targets.map((t) => ({ o: t.o, m: t.m, ...(t.k ? { k: t.k } : {}), n: 0 }));
  return { kind: 'batch', header: { t: 'batch', id: slot('id'), stop, calls, ...extra }, pieces: targets.map((t) => t.args.text), skew };
});
const wideBatch = fc.constantFrom(64, 65).map((n): FrameSpec => ({
  kind: 'batch', header: { t: 'batch', id: slot('id'), stop: false, calls: Array.from({ length: n }, () => ({ o: 'calc', m: 'add', n: 5 })) }, pieces: Array.from({ length: n }, () => '[1,2]'), skew: 0,
}));

const stream = fc.tuple(streamTarget, credit, fc.record({ cid: limitName, ann: annotations }, { requiredKeys: [] })).map(([t, upTo, extra]): FrameSpec => ({
  kind: 'stream', header: { t: 'stream', id: slot('id'), o: t.o, m: t.m, upTo, ...extra }, body: t.text,
}));
const streamControl = fc.oneof(
  fc.tuple(credit, credit).map(([upTo, ack]): FrameSpec => ({ kind: 'credit', header: { t: 'credit', id: slot('stream'), upTo, ack } })),
  fc.constant<FrameSpec>({ kind: 'cancel', header: { t: 'cancel', id: slot('stream') } }),
  fc.constant<FrameSpec>({ kind: 'cancel', header: { t: 'cancel', id: slot('inflight') } }),
  fc.tuple(fc.nat(5), credit, credit).map(([variant, ack, upTo]): FrameSpec => ({ kind: 'resume', header: { t: 'resume', id: slot('id'), key: slot('key', variant), ack: ack % 50, upTo } })),
);

const oneway = fc.tuple(fc.constantFrom('note', 'increment', 'nope'), fc.string({ maxLength: 300 }), fc.record({ cid: limitName, ann: annotations }, { requiredKeys: [] }))
  .map(([m, text, extra]): FrameSpec => ({ kind: 'oneway', header: { t: 'oneway', o: 'counter', m, ...extra }, body: json([text]) }));
const references = fc.oneof(
  fc.tuple(fc.nat(3), fc.option(fc.integer({ min: 1, max: 3 }))).map(([variant, n]): FrameSpec => ({ kind: 'release', header: { t: 'release', ref: slot('sref', variant), ...(n ? { n } : {}) } })),
  fc.constantFrom('c1', 'c2', 'c' + 'x'.repeat(63)).map((ref): FrameSpec => ({ kind: 'release', header: { t: 'release', ref } })),
  fc.jsonValue({ maxDepth: 2 }).map((v): FrameSpec => ({ kind: 'callback-result', header: { t: 'callback-result', id: slot('cb') }, body: json(v) ?? 'null' })),
  fc.tuple(fc.constantFrom('APPLICATION_ERROR', 'INTERNAL', 'REF_RELEASED', 'X'), limitName, fc.constantFrom(0, 4_096, 4_097)).map(([code, name, length]): FrameSpec => ({
    kind: 'callback-error', header: { t: 'callback-error', id: slot('cb'), code, name, message: sized('m', length) },
  })),
);
const refresh = fc.nat(5).map((variant): FrameSpec => ({ kind: 'refresh', header: { t: 'refresh', id: slot('id'), token: slot('token', variant) } }));

/** A well-formed frame, serialized by the lane and then mutated as text. */
const textMutated = fc.tuple(fc.oneof(call, batch, stream), textMutations).map(([spec, mutations]): FrameSpec => ({ ...spec, kind: 'mutated', mutations }));
const random = fuzzedFrame.map((raw): FrameSpec => ({ kind: 'random', raw }));

/** Every kind of frame, weighted so that most frames reach dispatch; mutated and random frames are a minority. */
export const structuredFrame: fc.Arbitrary<FrameSpec> = fc.oneof(
  { weight: 800, arbitrary: call },
  { weight: 20, arbitrary: limits },
  { weight: 160, arbitrary: batch },
  { weight: 10, arbitrary: wideBatch },
  { weight: 200, arbitrary: stream },
  { weight: 240, arbitrary: streamControl },
  { weight: 80, arbitrary: oneway },
  { weight: 100, arbitrary: references },
  { weight: 40, arbitrary: refresh },
  { weight: 2, arbitrary: nearLimit },
  { weight: 160, arbitrary: textMutated },
  { weight: 160, arbitrary: random },
);
