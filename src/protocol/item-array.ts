/**
 * Item payloads joined into one array payload, as an `items` frame carries them (section 3): the
 * JSON of each item in one array, and each item's META moved under its index (a root annotation
 * becomes the index's own; a path inside becomes `<index>.<path>`). The HTTP transport reads items
 * one per SSE event and hands the client core frames it already knows.
 */

interface Meta { values?: unknown; v?: number }

/** `items`: payloads (`JSON` or `JSON "\n" META`) as the gateway sent them, one per item. */
export function itemsPayload(items: readonly string[]): string {
  const jsons: string[] = [];
  let values: Record<string, unknown> | undefined;
  items.forEach((payload, index) => {
    const newline = payload.indexOf('\n');
    if (newline < 0) return void jsons.push(payload);
    jsons.push(payload.slice(0, newline));
    const meta = JSON.parse(payload.slice(newline + 1)) as Meta;
    const tree = meta.values;
    if (tree === undefined) return;
    values ??= {};
    if (Array.isArray(tree)) values[String(index)] = tree; // the item itself is annotated
    else for (const [path, sub] of Object.entries(tree as Record<string, unknown>)) values[`${index}.${path}`] = sub;
  });
  const json = `[${jsons.join(',')}]`;
  return values === undefined ? json : `${json}\n${JSON.stringify({ values, v: 1 })}`;
}
