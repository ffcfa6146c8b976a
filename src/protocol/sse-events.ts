/**
 * Server-sent events of a stream over HTTP (docs/protocol.md section 13.1): `open` with the resume key, one `item`
 * per item (id `<key>:<seq>`, data its payload), then `end` or `error`; `: ping` comments keep proxies
 * from closing a quiet connection. A reconnect names the last item it has in `Last-Event-ID`.
 *
 * Invariants: every data line is one line of the payload (SSE joins data lines with "\n", so a reader
 * gets the payload's text back exactly); a payload's JSON and meta never hold a raw "\r" or "\n"
 * (JSON escapes them), so no event can be cut or forged by a value.
 */

/** One event: its name, its id if any, its data (lines split on "\n"). */
export function sseEvent(name: string, data: string, id?: string): string {
  const head = id === undefined ? `event: ${name}\n` : `event: ${name}\nid: ${id}\n`;
  return `${head}data: ${data.split('\n').join('\ndata: ')}\n\n`;
}

export const SSE_PING = ': ping\n\n';

/** The id of item `seq` of the stream `key`. */
export function sseItemId(key: string, seq: number): string {
  return `${key}:${seq}`;
}

/** A resume key as the host makes them: base64url (a longer one is refused, not truncated). */
const LAST_EVENT_ID = /^([A-Za-z0-9_-]{1,64}):(0|[1-9]\d{0,14})$/;

/** `Last-Event-ID: <key>:<seq>` read back; undefined when it is not one. */
export function parseLastEventId(text: string): { key: string; seq: number } | undefined {
  const match = LAST_EVENT_ID.exec(text);
  return match ? { key: match[1]!, seq: Number(match[2]) } : undefined;
}
