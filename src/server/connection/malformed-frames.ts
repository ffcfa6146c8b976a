/**
 * What a frame whose header does not check gets, once the connection is open (#29, protocol loose
 * ends; docs/protocol.md section 1). Always a BAD_FRAME error frame, and:
 *
 * - a new request (call, batch, stream, resume, refresh) whose id could be read gets it under that id,
 *   so the client's pending request learns its fate, unless a request of this connection owns the id
 *   (answering under it would settle that one with this one's refusal: then without an id, as for a
 *   duplicate id);
 * - an answer to a callback (callback-result, callback-error) whose id names a waiting callback fails
 *   that callback at once with BAD_FRAME, instead of leaving the method to its deadline;
 * - a `credit` whose id names an open stream ends that stream (its generator's finally runs) and the
 *   refusal goes under the stream's id: the client's stream fails with BAD_FRAME instead of waiting
 *   for items its broken flow control can no longer ask for. Without an id otherwise.
 */
import type { ErrorBody } from '../../protocol/errors.js';
import { HeaderError } from '../../protocol/frames.js';

/** Frames that open a request under a client-chosen id. */
const REQUESTS: ReadonlySet<string> = new Set(['call', 'batch', 'stream', 'resume', 'refresh']);
const CALLBACK_ANSWERS: ReadonlySet<string> = new Set(['callback-result', 'callback-error']);

/** The connection's parts a refusal needs: its error writer, what holds request ids, its waiting callbacks. */
export interface MalformedFrameParts {
  writeError(where: { id?: number | undefined }, error: ErrorBody): void;
  requests: { calls: { has(id: number): boolean }; streams: { has(id: number): boolean; cancel(id: number): boolean } };
  callbacks: { malformedAnswer(id: number, error: ErrorBody): boolean } | undefined;
}

/** `thrown`: what the decoder threw (a HeaderError names the frame's type and id); `error`: its body. */
export function refuseMalformed(parts: MalformedFrameParts, thrown: unknown, error: ErrorBody): void {
  const t = thrown instanceof HeaderError ? thrown.frameType : undefined;
  const id = thrown instanceof HeaderError ? thrown.frameId : undefined;
  if (t !== undefined && id !== undefined) {
    if (CALLBACK_ANSWERS.has(t)) parts.callbacks?.malformedAnswer(id, error);
    else if (t === 'credit' && parts.requests.streams.cancel(id)) return parts.writeError({ id }, error);
    else if (REQUESTS.has(t) && !parts.requests.calls.has(id) && !parts.requests.streams.has(id)) return parts.writeError({ id }, error);
  }
  parts.writeError({}, error);
}
