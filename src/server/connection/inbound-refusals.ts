/**
 * What a connection answers to a whole message it will not run: one over the size limit, one over
 * the message rate, or one whose handling made the gateway's own code throw. Each gets a typed answer
 * under the message's id where it can be read, or a documented close code; nothing of it runs.
 */
import type { Identity } from '../../core/context.js';
import { CloseCode } from '../../protocol/close-codes.js';
import { ErrorCode, errorBody, type ErrorBody } from '../../protocol/errors.js';
import { peekFrameId } from '../../protocol/frame-decoder.js';
import type { ClientFrame } from '../../protocol/frames.js';
import type { ConnectionEnvironment } from './connection-environment.js';
import type { MessageRate } from './rate-limit.js';

/** The connection as its refusals need it. */
export interface RefusingConnection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly identity: Identity | undefined;
  writeError(fields: { id?: number | undefined }, error: ErrorBody): void;
  close(code: number, reason: string): void;
}

/**
 * The last guard: a fault in the gateway's own code (or a library it calls) costs this frame an
 * INTERNAL answer and a log line, never the process, and the connection keeps serving.
 */
export function refuseFailed(connection: RefusingConnection, env: ConnectionEnvironment, error: unknown, message: ArrayBuffer, isBinary: boolean): void {
  env.logs.logger.error({ err: error, conn: connection.id }, 'a frame failed inside the gateway');
  try {
    connection.writeError({ id: peekFrameId(message, isBinary) }, errorBody(ErrorCode.INTERNAL, 'the gateway failed to handle this frame'));
  } catch {
    // nothing more can be said on this socket
  }
}

/**
 * A message over maxPayloadLength runs nothing. Up to twice the limit it is answered with
 * PAYLOAD_TOO_LARGE (under its id when the header names one) and the connection stays; beyond that
 * the client ignores the advertised limit and the socket closes with 1009. (Past uWS's own limit,
 * four times ours, uWS drops the TCP connection before we see the message: 1006.)
 */
export function refuseOversized(connection: RefusingConnection, env: ConnectionEnvironment, message: ArrayBuffer, isBinary: boolean): void {
  const limit = env.options.maxPayloadLength;
  if (message.byteLength > 2 * limit) return connection.close(CloseCode.MESSAGE_TOO_BIG, 'message too big');
  const id = peekFrameId(message, isBinary);
  env.logs.clientLog.info({ conn: connection.id, bytes: message.byteLength, id }, 'oversized message refused');
  connection.writeError({ id }, errorBody(ErrorCode.PAYLOAD_TOO_LARGE, `the message has ${message.byteLength} bytes; the limit is ${limit}`));
}

/**
 * Over maxMessagesPerSec: frames that expect an answer get RATE_LIMITED, the rest are dropped; a
 * client that goes on sending a whole burst's worth while refused is disconnected (4529).
 */
export function refuseOverRate(connection: RefusingConnection, env: ConnectionEnvironment, rate: MessageRate, frame: ClientFrame): void {
  env.metrics?.rateLimit('message');
  if (rate.flooded) {
    env.logs.clientLog.warn({ conn: connection.id, remote: connection.remoteAddress, sub: connection.identity?.subject }, 'message flood: disconnected');
    connection.close(CloseCode.RATE_LIMITED, 'too many requests');
    return;
  }
  if (frame.t === 'call' || frame.t === 'batch' || frame.t === 'stream' || frame.t === 'refresh') {
    connection.writeError({ id: frame.id }, errorBody(ErrorCode.RATE_LIMITED, `more than ${env.options.maxMessagesPerSec} frames per second`));
  }
}
