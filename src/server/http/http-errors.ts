/**
 * How a typed error travels over HTTP (docs/protocol.md, "Calls over HTTP"): a JSON body
 * `{"code","name","message","data"?}` and a status chosen by the code. The codes are the WebSocket
 * protocol's; the status only lets HTTP tools (curl, proxies, retries) tell the classes apart.
 */
import { EncodedData, type Codec } from '../../protocol/codec.js';
import { ErrorCode, type ErrorBody } from '../../protocol/errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.BAD_FRAME]: 400,
  [ErrorCode.BAD_ARGUMENTS]: 400,
  [ErrorCode.LIMIT_EXCEEDED]: 400,
  [ErrorCode.TYPE_NOT_ALLOWED]: 400,
  [ErrorCode.UNSUPPORTED_VERSION]: 400,
  [ErrorCode.REF_RELEASED]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.TOKEN_EXPIRED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.UNKNOWN_OBJECT]: 404,
  [ErrorCode.UNKNOWN_MEMBER]: 404,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.BUSY]: 429,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.OBJECT_UNAVAILABLE]: 503,
  [ErrorCode.HOST_LOST]: 503,
  [ErrorCode.STREAM_LOST]: 410,
  [ErrorCode.DEADLINE_EXCEEDED]: 504,
};

/** The HTTP status of an error code (500 for INTERNAL and anything unmapped). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/**
 * The JSON of an error body. `data` is the error's data as plain JSON (the text of its encoded
 * payload; a value that needs the codec's meta loses its richer types here, as documented).
 */
export function errorJson(error: ErrorBody, encodedData?: string): string {
  const { code, name, message } = error;
  const head = JSON.stringify({ code, name, message });
  if (encodedData === undefined) return head;
  const newline = encodedData.indexOf('\n');
  return `${head.slice(0, -1)},"data":${newline < 0 ? encodedData : encodedData.slice(0, newline)}}`;
}

/** The JSON of an error body with its data encoded by `codec` (data the codec refuses is left out: the code and message still say what failed). */
export function errorText(error: ErrorBody, codec: Codec): string {
  let data: string | undefined;
  if (error.data !== undefined) {
    try {
      // Data a host in another process encoded already is forwarded as it is (as WebSocket error frames do).
      data = error.data instanceof EncodedData ? error.data.payload.text : codec.encode(error.data).text;
    } catch {
      data = undefined;
    }
  }
  return errorJson(error, data);
}
