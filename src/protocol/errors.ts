/**
 * The small, named error hierarchy shared by the gateway and the clients.
 * Every error that crosses the wire carries one of the stable codes below; the codes are part of
 * the protocol (docs/protocol.md) and never change meaning.
 */

export const ErrorCode = {
  /** The frame could not be parsed or its envelope is malformed. The connection stays open. */
  BAD_FRAME: 'BAD_FRAME',
  /** No protocol version in common between client and gateway. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** No such object, or one the caller may not use: the two are indistinguishable on purpose. */
  UNKNOWN_OBJECT: 'UNKNOWN_OBJECT',
  /** No such member, or one that is not exposed, refused by rule, or not allowed: indistinguishable on purpose. */
  UNKNOWN_MEMBER: 'UNKNOWN_MEMBER',
  BAD_ARGUMENTS: 'BAD_ARGUMENTS',
  /** A codec limit (depth, keys, array length, string length, bigint digits, attachments) was exceeded. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /**
   * A message larger than the gateway's maxPayloadLength (the welcome's limits.maxPayload): refused
   * whole, nothing of it ran; the connection stays open. Clients refuse such calls before sending.
   */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The payload names a type that is not on the codec's allow-list. */
  TYPE_NOT_ALLOWED: 'TYPE_NOT_ALLOWED',
  /** Too many calls in flight on this connection. Retry later. */
  BUSY: 'BUSY',
  /** The connection sends frames faster than maxMessagesPerSec. Slow down; a sustained flood is disconnected (4529). */
  RATE_LIMITED: 'RATE_LIMITED',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CANCELLED: 'CANCELLED',
  /** An unexpected server-side failure; details are only in the server log. */
  INTERNAL: 'INTERNAL',
  /** A user exception of a registered error class: name, message and data are the user's. */
  APPLICATION_ERROR: 'APPLICATION_ERROR',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The handshake hook refused the client. */
  FORBIDDEN: 'FORBIDDEN',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** A stream cannot be resumed: unknown key, another identity, or the linger window passed. */
  STREAM_LOST: 'STREAM_LOST',
  /** No object host serves the object now (scale-out on NATS: nobody answered); the call never ran, so retrying is safe. */
  OBJECT_UNAVAILABLE: 'OBJECT_UNAVAILABLE',
  /** The object host running the call or stream stopped answering (killed, frozen, cut off): the outcome is unknown. */
  HOST_LOST: 'HOST_LOST',
  /**
   * A reference (a server object handed to the client, or a client callback handed to the server)
   * that was released, dropped by its owner, or never existed on this connection: indistinguishable on purpose.
   */
  REF_RELEASED: 'REF_RELEASED',
  /** Client side: the socket closed before the answer arrived. */
  CONNECTION_CLOSED: 'CONNECTION_CLOSED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error Uplink raises. `data` is optional, serializable detail. */
export class UplinkError extends Error {
  readonly code: ErrorCode;
  data?: unknown;
  /** `options.cause` is kept for the server's log and hooks; it never crosses the wire. */
  constructor(code: ErrorCode, message: string, data?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UplinkError';
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/** Raised on the client when the socket drops or closes with calls pending. */
export class ConnectionClosedError extends UplinkError {
  readonly closeCode: number;
  constructor(closeCode: number, reason: string) {
    super(ErrorCode.CONNECTION_CLOSED, `connection closed (${closeCode}${reason ? `: ${reason}` : ''})`);
    this.name = 'ConnectionClosedError';
    this.closeCode = closeCode;
  }
}

/** Raised by the codec when a payload breaks a limit or names a type that is not allowed. */
export class PayloadError extends UplinkError {
  constructor(code: typeof ErrorCode.LIMIT_EXCEEDED | typeof ErrorCode.TYPE_NOT_ALLOWED | typeof ErrorCode.BAD_FRAME, message: string) {
    super(code, message);
    this.name = 'PayloadError';
  }
}

/** The error body carried by an error frame. */
export interface ErrorBody {
  code: ErrorCode;
  name: string;
  message: string;
  data?: unknown;
}

/** An error body with code and message (name UplinkError). */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { code, name: 'UplinkError', message };
}

export function withData(body: ErrorBody, data: unknown): ErrorBody {
  if (data !== undefined) body.data = data;
  return body;
}

/** The body of an UplinkError as it is (code, message, data), or the fallback for anything else. */
export function asErrorBody(error: unknown, fallbackCode: ErrorCode, fallbackMessage: string): ErrorBody {
  if (!(error instanceof UplinkError)) return errorBody(fallbackCode, fallbackMessage);
  return withData(errorBody(error.code, error.message), error.data);
}
