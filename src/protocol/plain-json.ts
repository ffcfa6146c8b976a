/**
 * The codec's fast path: values that JSON represents exactly skip superjson, and this file recognises
 * and writes them.
 *
 * Why a writer of our own: JSON.stringify escapes a string one character at a time (on Node 20 about
 * 150 MB/s on this machine: 440 us for 64 KiB), while most long strings users send (text, base64,
 * HTML, JSON held as text) have nothing to escape. A string of LONG_STRING characters or more with no
 * `"`, `\`, control character or surrogate (one regular-expression scan, about 2.5x faster than the
 * escaping) is written as `"` + s + `"`, which is exactly what JSON.stringify returns for it. Values
 * without such a string take JSON.stringify alone, as before: the writer never slows small calls.
 *
 * Invariant: stringifyPlain(v, kind) === JSON.stringify(v) for every value plainJsonKind calls plain
 * (test/unit/plain-json.test.ts checks it on generated values).
 */

/** Strings at least this long are worth scanning instead of escaping. */
export const LONG_STRING = 1024;

/** What JSON.stringify would escape: quote, backslash, control characters, and any surrogate (lone ones are escaped). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * No: not JSON as it is (undefined, -0, a Map, a class instance...), superjson's work. WithLongStrings:
 * plain, and holding a string of LONG_STRING characters or more, where the writer pays off.
 */
export const enum PlainJson { No = 0, Yes = 1, WithLongStrings = 2 }

/**
 * Whether JSON.stringify round-trips the value exactly: finite numbers (not -0), strings, booleans,
 * null, and arrays / plain objects of those (no undefined, no holes), at most 32 deep.
 */
export function plainJsonKind(value: unknown, depth = 0): PlainJson {
  switch (typeof value) {
    case 'string':
      return value.length >= LONG_STRING ? PlainJson.WithLongStrings : PlainJson.Yes;
    case 'boolean':
      return PlainJson.Yes;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? PlainJson.Yes : PlainJson.No;
    case 'object': {
      if (value === null) return PlainJson.Yes;
      if (depth > 32) return PlainJson.No;
      let kind: PlainJson = PlainJson.Yes;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const k = plainJsonKind(value[i], depth + 1);
          if (k === PlainJson.No) return k;
          if (k > kind) kind = k;
        }
        return kind;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return PlainJson.No;
      for (const key in value) {
        const k = plainJsonKind((value as Record<string, unknown>)[key], depth + 1);
        if (k === PlainJson.No) return k;
        if (k > kind) kind = k;
      }
      return kind;
    }
    default:
      return PlainJson.No;
  }
}

/** JSON.stringify for a plain value (plainJsonKind not No), with long clean strings written without escaping. */
export function stringifyPlain(value: unknown, kind: PlainJson): string {
  return kind === PlainJson.WithLongStrings ? write(value) : JSON.stringify(value);
}

function write(value: unknown): string {
  if (typeof value === 'string') return value.length >= LONG_STRING && !NEEDS_ESCAPE.test(value) ? '"' + value + '"' : JSON.stringify(value);
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + write(value[i]);
    return out + ']';
  }
  // Object.keys: own enumerable string keys in JSON.stringify's order (integer keys first).
  let out = '{';
  let first = true;
  for (const key of Object.keys(value)) {
    out += (first ? '' : ',') + JSON.stringify(key) + ':' + write((value as Record<string, unknown>)[key]);
    first = false;
  }
  return out + '}';
}
