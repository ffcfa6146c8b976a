/**
 * RFC 6455 section 4.2.1 checks of the upgrade request. The pinned uWS build upgrades requests that
 * break them (a key that is not 16 bytes of base64, a version other than 13, no `Upgrade: websocket`),
 * so the gateway checks them itself and answers with the proper HTTP status before upgrading.
 */
export interface HandshakeHeaders {
  upgrade: string;
  connection: string;
  key: string;
  version: string;
  /** Bytes of all header names and values together. */
  headerBytes: number;
}

/** The one subprotocol Uplink speaks. Offered protocols are never echoed back (a token may hide in one). */
export const SUBPROTOCOL = 'uplink.v1';

/** SUBPROTOCOL when the client offers it, otherwise none (linear in the header's length). */
export function selectSubprotocol(offered: string): string {
  return offered.split(',').some((p) => p.trim() === SUBPROTOCOL) ? SUBPROTOCOL : '';
}

export interface HandshakeRefusal {
  status: string;
  headers: Record<string, string>;
  body: string;
}

const BASE64_16_BYTES = /^[A-Za-z0-9+/]{22}==$/;

/** uWS itself accepts single headers of 64 KiB and more; the gateway caps the whole header block. */
export const MAX_HEADER_BYTES = 8 * 1024;

export function checkUpgradeRequest(h: HandshakeHeaders): HandshakeRefusal | undefined {
  if (h.headerBytes > MAX_HEADER_BYTES) return refuse('431 Request Header Fields Too Large', `headers over ${MAX_HEADER_BYTES} bytes`);
  if (h.upgrade.toLowerCase() !== 'websocket') return refuse('400 Bad Request', "missing 'Upgrade: websocket'");
  if (!h.connection.toLowerCase().split(',').some((t) => t.trim() === 'upgrade')) return refuse('400 Bad Request', "missing 'Connection: Upgrade'");
  if (h.version !== '13') return { status: '426 Upgrade Required', headers: { 'Sec-WebSocket-Version': '13' }, body: 'unsupported WebSocket version' };
  if (!BASE64_16_BYTES.test(h.key)) return refuse('400 Bad Request', 'Sec-WebSocket-Key must be 16 bytes in base64');
  return undefined;
}

function refuse(status: string, body: string): HandshakeRefusal {
  return { status, headers: {}, body };
}
