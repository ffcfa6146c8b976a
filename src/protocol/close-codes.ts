/**
 * WebSocket close codes the gateway uses (docs/protocol.md lists them with their meaning).
 * 4000-4499: terminal, do not reconnect with the same credentials; 4500-4999: transient, reconnect
 * with backoff. 1000/1001/1009/1011 keep their RFC 6455 meaning.
 */
export const CloseCode = {
  NORMAL: 1000,
  /** The gateway is shutting down (sent after a goodbye frame); reconnect later. */
  GOING_AWAY: 1001,
  /** A frame exceeded maxPayloadLength (uWS reports it to the server as 1006). */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** A frame other than hello arrived before the welcome, or a second hello. */
  PROTOCOL_ERROR: 4000,
  /** No protocol version in common. */
  UNSUPPORTED_VERSION: 4001,
  /** The hello (with its token) did not arrive within the deadline. */
  HELLO_TIMEOUT: 4002,
  /** The token was missing, invalid or expired at hello. */
  UNAUTHENTICATED: 4401,
  /** The handshake hook refused the client. */
  FORBIDDEN: 4403,
  /** The token expired and was not refreshed within the grace period. */
  TOKEN_EXPIRED: 4405,
  /** The server revoked the connection's subject or token. */
  REVOKED: 4409,
  /** The client let too much outbound data build up (it does not read). */
  SLOW_CONSUMER: 4508,
  /** The connection kept sending after its frames were refused with RATE_LIMITED. */
  RATE_LIMITED: 4529,
  /** The subject already holds maxConnectionsPerSubject connections. */
  CONNECTION_LIMIT: 4530,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Whether a client should reconnect after this close code. */
export function isTransientClose(code: number): boolean {
  return code === CloseCode.GOING_AWAY || code === 1006 || code === CloseCode.INTERNAL_ERROR || (code >= 4500 && code <= 4999);
}
