/** The templated call header (src/protocol/frame-writer.ts writeCall) is the text JSON.stringify gives its object form. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { writeCall } from '../../src/protocol/frame-writer.js';

describe('writeCall', () => {
  it('writes the same header as JSON.stringify of { t, id, o, m, k, dl, cid, ann }, undefined fields left out', () => {
    const tags = fc.record({
      dl: fc.option(fc.oneof(fc.nat(), fc.double()), { nil: undefined }),
      cid: fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
      ann: fc.option(fc.dictionary(fc.string(), fc.string({ unit: 'binary' }), { noNullPrototype: true }), { nil: undefined }),
    });
    fc.assert(fc.property(fc.nat(), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), fc.constantFrom(undefined, 'get' as const, 'set' as const), tags,
      (id, o, m, k, t) => {
        const expected = JSON.stringify({ t: 'call', id, o, m, k, dl: t.dl, cid: t.cid, ann: t.ann });
        assert.equal(writeCall(id, o, m, k, t), expected);
        assert.equal(writeCall(id, o, m, k, t, { text: '[1]' }), `${expected}\n[1]`);
      }), { numRuns: 500, seed: 30 });
  });

  it('refuses an id that is not a safe non-negative integer', () => {
    assert.throws(() => writeCall(-1, 'o', 'm', undefined, {}), TypeError);
    assert.throws(() => writeCall(1.5, 'o', 'm', undefined, {}), TypeError);
  });
});
