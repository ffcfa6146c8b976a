/**
 * Server-sent events read from a fetch response body (the WHATWG event-stream format: `field: value`
 * lines, a blank line ends an event, `data` lines joined with "\n", lines starting with `:` are
 * comments). Works on the browser's and Node's fetch alike; no EventSource (it cannot send headers).
 */

export interface SseEvent { event: string; id: string; data: string }

/** Reads events until `onEvent` says the stream is over (true) or the body ends (false). */
export async function readSse(body: ReadableStream<Uint8Array>, onEvent: (event: SseEvent) => boolean): Promise<boolean> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let id = '';
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (data.length > 0 || event !== '') {
            if (onEvent({ event: event || 'message', id, data: data.join('\n') })) return true;
          }
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
    }
  } finally {
    reader.releaseLock();
    void body.cancel().catch(() => {});
  }
}
