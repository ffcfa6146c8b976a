/**
 * Inbound frames after the welcome, each to the part that owns it: answers to pending calls, stream
 * frames to the streams, callbacks and releases to the references, pings and pongs to liveness.
 * Invariant: a frame that cannot be decoded or matched is dropped, never thrown: it has no call to fail.
 */
import type { Codec } from '../protocol/codec.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import { remoteError } from '../protocol/error-body.js';
import { decodeServerFrame, type DecodedFrame } from '../protocol/frame-decoder.js';
import { writePong, type WireMessage } from '../protocol/frame-writer.js';
import type { ServerFrame } from '../protocol/frames.js';
import type { ClientStreams } from './client-streams.js';
import type { Goodbye } from './options.js';
import type { PendingCalls } from './pending-calls.js';
import type { ClientReferences } from './references.js';

/** What the frames go to; `send` writes on the current socket. */
export interface FrameTargets {
  readonly codec: Codec;
  readonly pending: PendingCalls;
  readonly streams: ClientStreams;
  readonly refs: ClientReferences;
  send(frame: WireMessage): void;
  pong(): void;
  goodbye(goodbye: Goodbye): void;
}

/** Decodes one message from the gateway and hands its frame on. */
export function routeFrame(data: unknown, to: FrameTargets): void {
  let decoded: DecodedFrame<ServerFrame>;
  try {
    decoded = decodeServerFrame(data, to.codec.limits.maxAttachments);
  } catch {
    return; // a malformed frame from the server cannot be matched to a call; ignore it
  }
  const { frame, body, attachments } = decoded;
  switch (frame.t) {
    case 'result':
      return to.pending.answer(frame.id, (call) => {
        if (frame.ann) call.onAnnotations?.(frame.ann);
        return to.refs.decode({ text: body, attachments });
      });
    case 'batch-result':
      return to.pending.answer(frame.id, (call) => {
        if (!call.batch) throw new UplinkError(ErrorCode.BAD_FRAME, 'a batch result for a call that is not a batch');
        return call.batch(frame.results, body, attachments);
      });
    case 'error': {
      if (frame.id === undefined) return;
      const error = remoteError(to.codec, frame, body ? { text: body, attachments } : undefined);
      if (to.streams.failed(frame.id, frame.seq, error)) return;
      if (frame.code === ErrorCode.HOST_LOST && to.pending.retryLost(frame.id, to.send)) return;
      to.pending.settle(frame.id)?.reject(error);
      return;
    }
    case 'stream-open':
      return to.streams.opened(frame);
    case 'items':
      return to.streams.items(frame, body, attachments);
    case 'end':
      return to.streams.end(frame);
    case 'pong':
      return to.pong();
    case 'ping':
      return to.send(writePong(frame.id));
    case 'goodbye':
      return to.goodbye({ reason: frame.reason, ...(frame.reconnectMs !== undefined ? { reconnectMs: frame.reconnectMs } : {}) });
    case 'refreshed':
      to.pending.settle(frame.id)?.resolve(frame);
      return;
    case 'callback':
      return void to.refs.onCallback(frame, { text: body, attachments });
    case 'callback-cancel':
      return to.refs.onCancel(frame.id);
    case 'release':
      return to.refs.onRelease(frame.ref, frame.n);
    case 'welcome':
      return;
  }
}
