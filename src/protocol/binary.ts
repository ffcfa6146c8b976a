/**
 * Binary WebSocket messages: a text frame plus its binary attachments, in one message so that a frame
 * and its bytes can never be separated or reordered.
 *
 *   u32be textBytes | text (UTF-8) | ( u32be length | bytes )*
 *
 * The payload refers to attachment i with the annotation ['custom','bin'] (or 'binab' for an
 * ArrayBuffer) on the JSON value i. Bytes are never expanded into JSON arrays or base64.
 */
import { badFrame } from './frames.js';

const encoder = new TextEncoder();
// ignoreBOM keeps a leading byte-order mark in the text: the codec refuses it, as it does in a text frame.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function packBinary(text: string, attachments: readonly Uint8Array[]): Uint8Array {
  const textBytes = encoder.encode(text);
  let size = 4 + textBytes.length;
  for (const a of attachments) size += 4 + a.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, textBytes.length);
  out.set(textBytes, 4);
  let at = 4 + textBytes.length;
  for (const a of attachments) {
    view.setUint32(at, a.byteLength);
    out.set(a, at + 4);
    at += 4 + a.byteLength;
  }
  return out;
}

/**
 * Unpacks a binary message. The attachments are copies: the input buffer may be reused by the
 * transport (uWS frees it when the message handler returns).
 */
export function unpackBinary(data: ArrayBuffer | Uint8Array, maxAttachments: number): { text: string; attachments: Uint8Array[] } {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) throw badFrame('binary message too short');
  const textLength = view.getUint32(0);
  if (4 + textLength > bytes.byteLength) throw badFrame('binary message text length out of range');
  let text: string;
  try {
    text = decoder.decode(bytes.subarray(4, 4 + textLength));
  } catch {
    throw badFrame('binary message text is not valid UTF-8');
  }
  const attachments: Uint8Array[] = [];
  let at = 4 + textLength;
  while (at < bytes.byteLength) {
    if (attachments.length >= maxAttachments) throw badFrame('too many attachments');
    if (at + 4 > bytes.byteLength) throw badFrame('truncated attachment length');
    const length = view.getUint32(at);
    if (at + 4 + length > bytes.byteLength) throw badFrame('attachment length out of range');
    attachments.push(bytes.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return { text, attachments };
}
