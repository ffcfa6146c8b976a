/**
 * Structural limits of a decoded JSON value, checked before any superjson code sees it.
 *
 * The walk is iterative (an explicit stack), so hostile nesting cannot overflow the call stack; it
 * stops at the first violation, so its cost is bounded by the limits, not by the input.
 */
import { ErrorCode, PayloadError } from './errors.js';

export interface CodecLimits {
  /** Maximum nesting of arrays and objects. */
  maxDepth: number;
  maxArrayLength: number;
  maxObjectKeys: number;
  /** In UTF-16 code units, for every string value and key. */
  maxStringLength: number;
  maxBigIntDigits: number;
  /** Binary attachments per frame. */
  maxAttachments: number;
  /** Type annotations (meta entries) per payload. */
  maxAnnotations: number;
}

export const defaultCodecLimits: Readonly<CodecLimits> = Object.freeze({
  maxDepth: 64,
  maxArrayLength: 100_000,
  maxObjectKeys: 1_000,
  maxStringLength: 1_048_576,
  maxBigIntDigits: 1_000,
  maxAttachments: 16,
  maxAnnotations: 1_000,
});

/**
 * Keys that are refused anywhere in client data: JSON.parse keeps `__proto__` as an own key, and
 * any of the three can re-parent or pollute an object in code that merges or rebuilds values.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function limitExceeded(message: string): PayloadError {
  return new PayloadError(ErrorCode.LIMIT_EXCEEDED, message);
}

/**
 * Checks depth, sizes and keys of a JSON value. Throws LIMIT_EXCEEDED or BAD_FRAME.
 * The stack is made only when a container holds another one: the common argument list of
 * primitives is checked without allocating.
 */
export function checkJsonLimits(root: unknown, limits: CodecLimits): void {
  if (typeof root !== 'object' || root === null) {
    if (typeof root === 'string' && root.length > limits.maxStringLength) throw limitExceeded('string too long');
    return;
  }
  let stack: Pending | undefined;
  let node = root;
  let depth = 1;
  for (;;) {
    if (depth > limits.maxDepth) throw limitExceeded(`nesting deeper than ${limits.maxDepth}`);
    if (Array.isArray(node)) {
      if (node.length > limits.maxArrayLength) throw limitExceeded(`array longer than ${limits.maxArrayLength}`);
      for (let i = 0; i < node.length; i++) stack = visit(node[i], depth, stack, limits);
    } else {
      const keys = Object.keys(node);
      if (keys.length > limits.maxObjectKeys) throw limitExceeded(`object with more than ${limits.maxObjectKeys} keys`);
      for (const key of keys) {
        if (key.length > limits.maxStringLength) throw limitExceeded('key too long');
        if (FORBIDDEN_KEYS.has(key)) throw new PayloadError(ErrorCode.BAD_FRAME, `forbidden key '${key}'`);
        stack = visit((node as Record<string, unknown>)[key], depth, stack, limits);
      }
    }
    if (stack === undefined || stack.nodes.length === 0) return;
    node = stack.nodes.pop() as object;
    depth = stack.depths.pop() as number;
  }
}

/** Containers still to walk, with their depths. */
interface Pending { nodes: object[]; depths: number[] }

function visit(value: unknown, depth: number, stack: Pending | undefined, limits: CodecLimits): Pending | undefined {
  if (typeof value === 'string') {
    if (value.length > limits.maxStringLength) throw limitExceeded(`string longer than ${limits.maxStringLength}`);
  } else if (typeof value === 'object' && value !== null) {
    stack ??= { nodes: [], depths: [] };
    stack.nodes.push(value);
    stack.depths.push(depth + 1);
  }
  return stack;
}
