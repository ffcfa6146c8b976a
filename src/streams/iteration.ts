/** What counts as a stream result, and the iterator behind one. */
/**
 * Whether a method's result is a stream: an async iterable (ReadableStream included) or an iterator
 * (a generator). Arrays, Maps and Sets are values, not streams.
 */
export function isStreamResult(value: unknown): value is AsyncIterable<unknown> | IterableIterator<unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map || value instanceof Set) return false;
  const v = value as Partial<AsyncIterable<unknown> & IterableIterator<unknown>>;
  return typeof v[Symbol.asyncIterator] === 'function' || (typeof v[Symbol.iterator] === 'function' && typeof v.next === 'function');
}

/** The iterator behind a stream result, or undefined when the value is not one. */
export function iteratorOf(value: unknown): AsyncIterator<unknown> | Iterator<unknown> | undefined {
  if (!isStreamResult(value)) return undefined;
  return Symbol.asyncIterator in value ? value[Symbol.asyncIterator]() : value[Symbol.iterator]();
}
