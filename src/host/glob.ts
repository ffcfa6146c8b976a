/**
 * Object-id patterns for `$uplink.list`: `*` matches any run of characters, every other character is
 * literal, and a pattern without `*` is a prefix.
 *
 * Invariant: matching never backtracks. The literal parts between stars are found left to right, each
 * at its first occurrence after the previous one (the leftmost match leaves the most room for the
 * rest, so it is the only one worth trying); the work is at most one indexOf per part, whatever the
 * number of stars. A pattern used to become a regular expression, and 40 stars froze the event loop.
 */
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import { MAX_NAME_LENGTH } from '../protocol/frames.js';

export function globMatcher(pattern: unknown): (id: string) => boolean {
  if (typeof pattern !== 'string' || pattern.length > MAX_NAME_LENGTH) {
    throw new UplinkError(ErrorCode.BAD_ARGUMENTS, `pattern must be a string of at most ${MAX_NAME_LENGTH} characters`);
  }
  if (!pattern.includes('*')) return (id) => id.startsWith(pattern);
  const parts = pattern.split('*');
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  const middle = parts.slice(1, -1).filter((part) => part.length > 0);
  return (id) => {
    if (id.length < first.length + last.length || !id.startsWith(first) || !id.endsWith(last)) return false;
    let at = first.length;
    const end = id.length - last.length;
    for (const part of middle) {
      const found = id.indexOf(part, at);
      if (found < 0 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}
