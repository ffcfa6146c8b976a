/**
 * Turns anything thrown by user code into an error body that is safe to send. Only errors the user
 * chose to make public (UplinkError and registered error classes) keep their message and data;
 * everything else becomes INTERNAL with a fixed message. Stacks and causes never leave the process
 * unless debug is on.
 */
import { ErrorCode, UplinkError, withData, type ErrorBody } from '../errors.js';
import type { Codec } from '../protocol/codec.js';

export function toErrorBody(error: unknown, codec: Codec, debug: boolean): ErrorBody {
  try {
    return describeError(error, codec, debug);
  } catch {
    // A hostile error (throwing getters, a cause whose toString throws) still gets an answer.
    return { code: ErrorCode.INTERNAL, name: 'InternalError', message: 'internal error' };
  }
}

function describeError(error: unknown, codec: Codec, debug: boolean): ErrorBody {
  if (error instanceof UplinkError) {
    return withData({ code: error.code, name: error.name, message: error.message }, error.data);
  }
  if (error instanceof Error) {
    const name = codec.errorName(error);
    if (name !== undefined) {
      return withData({ code: ErrorCode.APPLICATION_ERROR, name, message: error.message }, (error as { data?: unknown }).data);
    }
  }
  if (debug) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { code: ErrorCode.INTERNAL, name: 'InternalError', message: e.message, data: { stack: e.stack, cause: String(e.cause ?? '') } };
  }
  return { code: ErrorCode.INTERNAL, name: 'InternalError', message: 'internal error' };
}

