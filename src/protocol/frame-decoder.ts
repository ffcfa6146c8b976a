/**
 * The one frame decoder both peers use: a WebSocket message in, a validated header plus its
 * undecoded body and attachments out. The body stays text: the gateway forwards it to the object
 * host without decoding it, and the codec decodes it where the value is needed.
 *
 * Invariant: every header field is checked against its frame type's shape (frames.ts) before anyone
 * reads it; anything else throws BAD_FRAME.
 */
import { unpackBinary } from './binary.js';
import { frameBody, isFrameId, parseClientHeader, parseFrameHeader, parseServerHeader, type ClientFrame, type ServerFrame } from './frames.js';

export interface DecodedFrame<F> {
  frame: F;
  /** The payload text ('' when the frame has none). */
  body: string;
  attachments: Uint8Array[] | undefined;
}

/**
 * ignoreBOM keeps a leading byte-order mark in the text, so that the header parse refuses it (as
 * Buffer's decoding did). Measured faster than Buffer.from(data).toString() on Node 20, 22 and 24,
 * for short and 1 KiB messages alike (no Buffer view per message).
 */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function decode<F>(text: string, attachments: Uint8Array[] | undefined, parse: (header: unknown) => F): DecodedFrame<F> {
  const nl = text.indexOf('\n');
  return { frame: parse(parseFrameHeader(text, nl)), body: frameBody(text, nl), attachments };
}

/** A message a client sent (the gateway's side): `isBinary` as the transport reported it. */
export function decodeClientFrame(message: ArrayBuffer, isBinary: boolean, maxAttachments: number): DecodedFrame<ClientFrame> {
  if (!isBinary) return decode(utf8.decode(message), undefined, parseClientHeader); // uWS has checked it is UTF-8
  const { text, attachments } = unpackBinary(message, maxAttachments);
  return decode(text, attachments, parseClientHeader);
}

/** A message the gateway sent (the client's side): a string for text messages, an ArrayBuffer for binary ones. */
export function decodeServerFrame(data: unknown, maxAttachments: number): DecodedFrame<ServerFrame> {
  if (typeof data === 'string') return decode(data, undefined, parseServerHeader);
  const { text, attachments } = unpackBinary(data as ArrayBuffer, maxAttachments);
  return decode(text, attachments, parseServerHeader);
}

/** How far into an oversized message the header is looked for. */
const MAX_PEEK_BYTES = 4_096;

/**
 * The id of an oversized client message, read from its header without decoding the rest (so that the
 * refusal can name the request); undefined when the header cannot be read or has no valid id.
 */
export function peekFrameId(message: ArrayBuffer, isBinary: boolean): number | undefined {
  let bytes = new Uint8Array(message);
  if (isBinary) {
    if (bytes.byteLength < 4) return undefined;
    const textLength = new DataView(message).getUint32(0);
    bytes = bytes.subarray(4, 4 + Math.min(textLength, bytes.byteLength - 4));
  }
  const window = bytes.subarray(0, MAX_PEEK_BYTES);
  const newline = window.indexOf(0x0a);
  try {
    const header = JSON.parse(utf8.decode(newline < 0 ? window : window.subarray(0, newline))) as { id?: unknown };
    return isFrameId(header.id) ? header.id : undefined;
  } catch {
    return undefined;
  }
}
