/**
 * Paths of a payload's meta line (superjson's version-1 syntax), checked against the raw JSON before
 * superjson sees them: every segment must name an own key or an in-range index, and paths in one
 * dictionary must be prefix-free.
 */
import { badFrame } from './frames.js';
import { FORBIDDEN_KEYS } from './limits.js';

const INDEX = /^(?:0|[1-9]\d{0,9})$/;

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * superjson's version-1 path syntax: segments joined by '.', with '\.' and '\\' as escapes (the
 * only rules superjson applies once the meta says `v: 1`, which validateMeta requires).
 */
export function parseMetaPath(key: string): string[] {
  const segments: string[] = [];
  let segment = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '\\') {
      const next = key[i + 1];
      if (next !== '.' && next !== '\\') throw badFrame('invalid meta path escape');
      segment += next;
      i++;
    } else if (c === '.') {
      segments.push(segment);
      segment = '';
    } else {
      segment += c;
    }
  }
  segments.push(segment);
  return segments;
}

export function child(node: unknown, segment: string): unknown {
  if (Array.isArray(node)) {
    if (!INDEX.test(segment) || Number(segment) >= node.length) throw badFrame('meta path index out of range');
    return node[Number(segment)];
  }
  if (isDict(node) && !FORBIDDEN_KEYS.has(segment) && Object.hasOwn(node, segment)) return node[segment];
  throw badFrame('meta path does not name a value');
}

export function checkPrefixFree(paths: string[][]): void {
  if (paths.length < 2) return;
  const seen = new Set(paths.map((p) => p.join('\u0000')));
  if (seen.size !== paths.length) throw badFrame('duplicate meta path');
  for (const p of paths) {
    for (let n = 1; n < p.length; n++) {
      if (seen.has(p.slice(0, n).join('\u0000'))) throw badFrame('meta paths overlap');
    }
  }
}

