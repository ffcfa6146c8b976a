/**
 * One payload per item of an `items` frame's payload (SSE sends one event per item). An items payload
 * is the JSON array of its items, and its meta line (docs/protocol.md section 3) annotates positions
 * by paths from that array: a path's first segment is the item's index. An item's own payload keeps
 * the paths that start with its index, with that segment taken off; a path that is just the index
 * annotates the item itself, so its TREE becomes the item's root TREE.
 *
 * Invariants: the array came from the codec (already validated), so the split never decodes values or
 * runs superjson; an index segment is digits only (no escapes), so the rest of a path is kept as
 * written, escapes included; binary attachments are refused (they travel over WebSocket only).
 */
import type { EncodedPayload } from './codec.js';
import { ErrorCode, PayloadError } from './errors.js';
import { badFrame } from './frames.js';

/** `JSON` or `JSON "\n" META`, one per item, in order. */
export function itemPayloads(payload: EncodedPayload): string[] {
  if (payload.attachments && payload.attachments.length > 0) {
    throw new PayloadError(ErrorCode.TYPE_NOT_ALLOWED, 'binary values travel over WebSocket only');
  }
  const newline = payload.text.indexOf('\n');
  const json = newline < 0 ? payload.text : payload.text.slice(0, newline);
  const items: unknown = JSON.parse(json);
  if (!Array.isArray(items)) throw badFrame('an items payload is an array');
  const texts = items.map((item) => JSON.stringify(item));
  if (newline < 0) return texts;
  const trees = metaByItem(payload.text.slice(newline + 1), items.length);
  return texts.map((text, index) => {
    const tree = trees[index];
    return tree === undefined ? text : `${text}\n${JSON.stringify({ values: tree, v: 1 })}`;
  });
}

/** Each item's TREE (undefined: plain JSON): its root annotation, or the paths inside it. */
function metaByItem(metaText: string, count: number): unknown[] {
  const meta = JSON.parse(metaText) as { values?: unknown };
  const values = meta.values;
  const trees: unknown[] = new Array<unknown>(count);
  if (values === undefined) return trees;
  // The array of items is never annotated itself: its positions are listed in a dictionary.
  if (typeof values !== 'object' || values === null || Array.isArray(values)) throw badFrame('an items payload annotates its items, not the array');
  const inner: Array<Record<string, unknown> | undefined> = new Array(count);
  for (const [path, tree] of Object.entries(values as Record<string, unknown>)) {
    const dot = path.indexOf('.');
    const head = dot < 0 ? path : path.slice(0, dot);
    const index = Number(head);
    if (!/^(?:0|[1-9]\d*)$/.test(head) || index >= count) throw badFrame('an items payload path starts with an item index');
    if (dot < 0) trees[index] = tree; // paths are prefix-free: nothing else annotates this item
    else (inner[index] ??= {})[path.slice(dot + 1)] = tree;
  }
  inner.forEach((paths, index) => {
    if (paths !== undefined) trees[index] = paths;
  });
  return trees;
}
