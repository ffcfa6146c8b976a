/**
 * Random payloads through the decoder alone (no gateway): hostile metas over random JSON, random
 * text, JSON with itself as meta. Every decode yields a value or a typed PayloadError, and the
 * built-in prototypes stay as they were (checked after every chunk).
 */
import fc from 'fast-check';
import { Codec } from '../../src/protocol/codec.js';
import { decodesSafely, meta } from '../support/fuzz-arbitraries.js';
import { assertPrototypesClean } from '../support/prototypes.js';

const payload = fc.oneof(
  fc.tuple(fc.jsonValue({ maxDepth: 4 }), meta).map(([json, m]) => `${JSON.stringify(json) ?? 'null'}\n${JSON.stringify(m)}`),
  fc.string({ maxLength: 64 }),
  fc.json({ maxDepth: 5 }).map((j) => j + '\n' + j),
);

export function runDecoder(count: number, seed: number): { decoded: number; decodeSeconds: number } {
  const codec = new Codec({ limits: { maxDepth: 16 } });
  const started = performance.now();
  let decoded = 0;
  for (let chunk = 0; decoded < count; chunk++) {
    for (const text of fc.sample(payload, { numRuns: Math.min(50_000, count - decoded), seed: seed + chunk })) {
      decodesSafely(codec, text);
      decoded++;
    }
    assertPrototypesClean();
  }
  return { decoded, decodeSeconds: +((performance.now() - started) / 1000).toFixed(1) };
}
