/**
 * Error bodies from the gateway as typed errors: registered error classes come back as themselves,
 * with their data; everything else as UplinkError with its code.
 */
import { ErrorCode, UplinkError, type ErrorBody } from '../errors.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';

/** Rebuilds a typed error; `data` is the error frame's body (its data), when it has one. */
export function remoteError(codec: Codec, body: ErrorBody, data: EncodedPayload | undefined): UplinkError {
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
