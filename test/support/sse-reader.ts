/** A test's SSE client: one response parsed into events as it arrives, which a test may pause or cut. */
import type { IncomingMessage } from 'node:http';

export interface SseEvent { event: string; id?: string; data: string }

/** One SSE response, parsed as it arrives; `res` may be paused and the request destroyed. */
export class SseReader {
  readonly events: SseEvent[] = [];
  private buffer = '';
  ended = false;
  private waiters: Array<() => void> = [];
  constructor(readonly res: IncomingMessage, readonly destroy: () => void) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let cut = this.buffer.indexOf('\n\n'); cut >= 0; cut = this.buffer.indexOf('\n\n')) {
        this.parse(this.buffer.slice(0, cut));
        this.buffer = this.buffer.slice(cut + 2);
      }
      this.wake();
    });
    res.on('end', () => { this.ended = true; this.wake(); });
    res.on('error', () => { this.ended = true; this.wake(); });
  }

  private parse(block: string): void {
    const event: SseEvent = { event: 'message', data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(': ');
      const [field, value] = colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 2)];
      if (field === 'event') event.event = value;
      else if (field === 'id') event.id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0 && event.event === 'message') return; // a comment
    event.data = data.join('\n');
    this.events.push(event);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!condition()) {
      if (this.ended && !condition()) throw new Error(`the response ended before ${what}`);
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 50); });
    }
  }

  items(): SseEvent[] {
    return this.events.filter((e) => e.event === 'item');
  }
}
