/**
 * The one frame decoder both peers use: a WebSocket message in, a validated header plus its
 * undecoded body and attachments out. The body stays text: the gateway forwards it to the object
 * host without decoding it, and the codec decodes it where the value is needed.
 *
 * Invariant: every header field is checked against its frame type's shape (frames.ts) before anyone
 * reads it; anything else throws BAD_FRAME.
 */
import { unpackBinary } from './binary.js';
import { parseClientHeader, parseServerHeader, splitFrame, type ClientFrame, type ServerFrame } from './frames.js';

export interface DecodedFrame<F> {
  frame: F;
  /** The payload text ('' when the frame has none). */
  body: string;
  attachments: Uint8Array[] | undefined;
}

const utf8 = new TextDecoder();

/** Text of a text message. uWS has already checked it is UTF-8; Buffer is the fast path in Node. */
function textOf(data: ArrayBuffer): string {
  return typeof Buffer === 'function' ? Buffer.from(data).toString('utf8') : utf8.decode(data);
}

function decode<F>(text: string, attachments: Uint8Array[] | undefined, parse: (header: unknown) => F): DecodedFrame<F> {
  const { header, body } = splitFrame(text);
  return { frame: parse(header), body, attachments };
}

/** A message a client sent (the gateway's side): `isBinary` as the transport reported it. */
export function decodeClientFrame(message: ArrayBuffer, isBinary: boolean, maxAttachments: number): DecodedFrame<ClientFrame> {
  if (!isBinary) return decode(textOf(message), undefined, parseClientHeader);
  const { text, attachments } = unpackBinary(message, maxAttachments);
  return decode(text, attachments, parseClientHeader);
}

/** A message the gateway sent (the client's side): a string for text messages, an ArrayBuffer for binary ones. */
export function decodeServerFrame(data: unknown, maxAttachments: number): DecodedFrame<ServerFrame> {
  if (typeof data === 'string') return decode(data, undefined, parseServerHeader);
  const { text, attachments } = unpackBinary(data as ArrayBuffer, maxAttachments);
  return decode(text, attachments, parseServerHeader);
}
