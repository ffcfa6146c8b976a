/** What counts as a stream result, and the iterator behind one. */
import { ErrorCode, UplinkError } from '../protocol/errors.js';

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

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** An iterator over the iterable a promise resolves to (for async methods that return a stream). */
export function deferredIterator(promise: PromiseLike<unknown>): AsyncIterator<unknown> {
  let inner: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  return {
    async next() {
      inner ??= iteratorOf(await promise) ?? (() => { throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'the method did not return an iterable'); })();
      return inner.next();
    },
    async return(value?: unknown) {
      return (await inner?.return?.(value)) ?? { done: true, value: undefined };
    },
  };
}
