/**
 * `DELETE /rpc/<object>/<member>` with `Last-Event-ID: <key>:<seq>` (or the key alone, before any
 * item): the client cancels an SSE stream.
 * Closing the response alone is a drop, after which the stream lingers for a resume; a reader that
 * is done says so, and the generator's `finally` runs at once. Only the stream's owner (the identity
 * that opened it) can name it: the host's resume checks that, as for a resume.
 */
import type { Identity } from '../../core/context.js';
import type { ObjectHost, StreamSink } from '../../host/object-host.js';
import { ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import { parseLastEventId } from '../../protocol/sse-events.js';

/** Takes the stream over (its old response, if still open, ends) without reading anything, to cancel it. */
const DISCARD: StreamSink = { writable: false, opened() {}, items() {}, end() {}, fail() {}, released() {} };

/** Cancels the stream `lastEventId` names; undefined when it did, else why not. */
export function cancelSseStream(host: ObjectHost, identity: Identity | undefined, lastEventId: string): ErrorBody | undefined {
  // Only the key: cancelled before any item arrived.
  const id = /^[A-Za-z0-9_-]{1,64}$/.test(lastEventId) ? { key: lastEventId, seq: -1 } : parseLastEventId(lastEventId);
  if (!id) return errorBody(ErrorCode.BAD_FRAME, 'Last-Event-ID is <key>:<seq>, the id of the last item received');
  const control = host.resumeStream(id.key, identity, id.seq + 1, id.seq + 1, DISCARD);
  if (!control) return errorBody(ErrorCode.STREAM_LOST, 'no stream to cancel for this id');
  control.cancel();
  return undefined;
}
