/**
 * The attack catalogue and its tests agree: every item 1-151 has one row in docs/security.md, each row
 * names the files whose tests carry its number (or says why the item does not apply), and every
 * numbered test in test/hostile/ appears in the table.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const here = new URL('./', import.meta.url);
const security = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
const section = security.slice(security.indexOf('### Catalogue coverage'), security.indexOf('### Fuzzing'));
const rows = [...section.matchAll(/^\| (\d+) \| (.+) \| (.+) \|$/gm)].map((m) => ({ item: Number(m[1]), outcome: m[2]!, files: m[3]! }));

/** Catalogue numbers each test file carries: in test titles (`#N ...`) and in table-driven cases (`[N, '...`). */
const tested = new Map<number, Set<string>>();
for (const file of readdirSync(here).filter((f) => f.endsWith('.test.ts') && f !== 'catalogue.test.ts')) {
  const source = readFileSync(new URL(file, here), 'utf8');
  const numbers = [
    ...[...source.matchAll(/it\(\s*[`'"]((?:#\d+\s*)+)/g)].flatMap((m) => [...m[1]!.matchAll(/#(\d+)/g)].map((n) => Number(n[1]))),
    ...[...source.matchAll(/^\s+\[(\d+), '/gm)].map((m) => Number(m[1])),
  ];
  for (const n of numbers) (tested.get(n) ?? tested.set(n, new Set()).get(n)!).add(file);
}

describe('attack catalogue coverage', () => {
  it('has exactly one row per catalogue item, 1 to 151', () => {
    assert.deepEqual(rows.map((r) => r.item), Array.from({ length: 151 }, (_, i) => i + 1));
  });

  it('names, for every tested item, exactly the files whose tests carry its number', () => {
    for (const row of rows) {
      const files = tested.get(row.item);
      if (row.files === '—') {
        assert.match(row.outcome, /^not applicable\b/, `#${row.item} has no test and no reason`);
        assert.equal(files, undefined, `#${row.item} is marked not applicable but is tested`);
        continue;
      }
      assert.deepEqual(row.files.split(', ').sort(), [...(files ?? [])].sort(), `#${row.item}`);
    }
  });

  it('leaves at most a handful of items not applicable, each with its reason', () => {
    const notApplicable = rows.filter((r) => r.files === '—').map((r) => r.item);
    assert.deepEqual(notApplicable, [52, 99]);
  });
});
