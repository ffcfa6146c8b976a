/**
 * What `$uplink.metadata` tells about a method's parameters, so that a generic client can build a
 * call form: the parameter names as the function's source declares them (best effort: a destructured
 * parameter is reported as `argN`), and the JSON Schema of the argument tuple when the method has an
 * argument schema whose library can produce one (Standard JSON Schema, e.g. zod 4).
 */
import type { ArgsSchema } from './arg-schemas.js';

export interface Signature {
  name: string;
  /** Parameter names in order; a rest parameter starts with '...'. */
  params: string[];
  /** JSON Schema (draft 2020-12) of the argument list, when the registration declares one that can be described. */
  args?: unknown;
}

const IDENTIFIER = /^(\.\.\.)?[A-Za-z_$][\w$]*$/;

/**
 * The characters of `text` outside string literals, each with the bracket depth before it (a
 * closing bracket is reported at the depth it closes: one less).
 */
function* structure(text: string, from = 0): Generator<{ ch: string; at: number; depth: number }> {
  let depth = 0;
  let quote: string | undefined;
  for (let at = from; at < text.length; at++) {
    const ch = text[at]!;
    if (quote) {
      if (ch === '\\') at++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    yield { ch, at, depth };
    if (ch === '(' || ch === '[' || ch === '{') depth++;
  }
}

/** The text between the parameter list's parentheses (skipping nested brackets and strings). */
function parameterText(source: string): string | undefined {
  const open = source.indexOf('(');
  if (open < 0) return undefined;
  for (const { ch, at, depth } of structure(source, open)) if (ch === ')' && depth === 0) return source.slice(open + 1, at);
  return undefined;
}

/** Splits on commas outside brackets and strings. */
function topLevelParts(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const { ch, at, depth } of structure(text)) {
    if (ch !== ',' || depth !== 0) continue;
    parts.push(text.slice(start, at));
    start = at + 1;
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Parameter names from a function's source; `argN` where a name cannot be read. */
export function parameterNames(fn: Function): string[] {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return [];
  }
  const text = parameterText(source);
  if (text === undefined) return [];
  return topLevelParts(text).map((part, i) => {
    const name = part.split('=')[0]!.trim();
    return IDENTIFIER.test(name) ? name : `arg${i}`;
  });
}

/** The JSON Schema of an argument schema, when its library implements Standard JSON Schema. */
export function argsJsonSchema(schema: ArgsSchema | undefined): unknown {
  const converter = (schema?.['~standard'] as { jsonSchema?: { input?: (options: { target: string }) => unknown } } | undefined)?.jsonSchema;
  if (typeof converter?.input !== 'function') return undefined;
  try {
    return converter.input({ target: 'draft-2020-12' });
  } catch {
    return undefined; // a schema that cannot be described (a transform, a custom check) is still enforced
  }
}
