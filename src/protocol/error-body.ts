/**
 * Errors across the wire, both ways. toErrorBody: anything thrown by user code (a server method, or a
 * client callback) becomes an error body that is safe to send. remoteError: an error body from the
 * peer becomes a typed error again.
 *
 * Only errors the user
 * chose to make public (UplinkError and registered error classes) keep their message and data;
 * everything else becomes INTERNAL with a fixed message. Stacks and causes never leave the process
 * unless debug is on.
 */
import { ErrorCode, UplinkError, withData, type ErrorBody } from './errors.js';
import { EncodedData, type Codec, type EncodedPayload } from './codec.js';

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

// ---- the other way: an error body from the peer as a typed error ----

/** Rebuilds a typed error; `data` is the error frame's body (its data), when it has one. */
export function remoteError(codec: Codec, body: ErrorBody, data: EncodedPayload | undefined): UplinkError {
  const error = rebuildError(codec, body, data);
  asReceived.set(error, data ? { ...body, data: new EncodedData(data) } : body);
  return error;
}

/** The error body as it came over the wire (data still encoded), for errors remoteError() rebuilt. */
const asReceived = new WeakMap<object, ErrorBody>();

/**
 * An error to pass on as the peer sent it: a relay (a gateway between a client and an object host)
 * forwards the body and its encoded data unchanged instead of mapping the rebuilt error again.
 */
export function receivedErrorBody(error: unknown): ErrorBody | undefined {
  return typeof error === 'object' && error !== null ? asReceived.get(error) : undefined;
}

function rebuildError(codec: Codec, body: ErrorBody, data: EncodedPayload | undefined): UplinkError {
  let detail: unknown = body.data;
  if (data) {
    try {
      detail = codec.decode(data);
    } catch {
      detail = undefined; // undecodable data is dropped, never the error
    }
  }
  const cls = body.code === ErrorCode.APPLICATION_ERROR ? codec.errorClass(body.name) : undefined;
  if (cls) {
    const error = Object.create(cls.prototype) as UplinkError;
    Object.assign(error, { message: body.message, name: body.name, code: body.code, stack: `${body.name}: ${body.message}\n    at (remote)` });
    if (detail !== undefined) error.data = detail;
    return error;
  }
  const error = new UplinkError(body.code, body.message, detail);
  if (typeof body.name === 'string' && body.name !== 'UplinkError') error.name = body.name;
  return error;
}
