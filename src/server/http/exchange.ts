/**
 * The HTTP seam: one request and its answer, as every route of the gateway sees it (calls over HTTP,
 * SSE streams, probes, static files; a runtime adapts its server to it: uws-exchange.ts for uWebSockets.js,
 * node-exchange.ts for node:http). Routes never
 * touch a runtime's request or response objects.
 *
 * Invariants: the head (method, path, query, headers, address) is read when the exchange is made, so
 * it stays valid across awaits; exactly one of `respond` or `startStream` is called, once; nothing is
 * written after the client went away (`aborted`), and writes after that are dropped, not thrown.
 */

/** What a body read gives: the bytes, or why there are none. */
export type BodyRead = { bytes: Uint8Array } | { tooLarge: true } | { aborted: true };

export interface HttpExchange {
  /** Upper case: GET, POST, ... */
  readonly method: string;
  /** The path without the query string, as sent (percent-escapes kept). */
  readonly path: string;
  /** The query string without its `?` ('' when none). */
  readonly query: string;
  /** The peer's address (forwarding headers are the caller's to weigh). */
  readonly remoteAddress: string;
  /** A request header by lower-case name; '' when absent (repeated headers joined with ', '). */
  header(name: string): string;
  /** The whole body, at most `maxBytes` (a runtime may stop keeping a longer one at its own cap). */
  body(maxBytes: number): Promise<BodyRead>;
  /** The client went away: nothing written now reaches it. */
  readonly aborted: boolean;
  /** Called once if the client goes away before the answer ended. */
  onAborted(handler: () => void): void;
  /** A whole answer. */
  respond(status: number, headers: Record<string, string>, body?: string | Uint8Array): void;
  /** Starts an answer sent in parts (SSE): the status and headers now, parts with `write`, then `end`. */
  startStream(status: number, headers: Record<string, string>): void;
  /** Writes a part; false when the part waits in a buffer: wait for `onWritable` before writing more. */
  write(part: string): boolean;
  /** Called once each time the buffer is drained after a write returned false. */
  onWritable(handler: () => void): void;
  end(): void;
}

/** Status lines for the codes the gateway answers with. */
const REASONS: Record<number, string> = {
  200: 'OK', 202: 'Accepted', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 421: 'Misdirected Request', 429: 'Too Many Requests', 500: 'Internal Server Error',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Unknown'}`;
}

/** A body's chunks up to a cap, as both runtimes' readers keep them. */
export class BodyParts {
  private readonly parts: Buffer[] = [];
  private size = 0;
  /** The cap was passed: nothing more is kept (the route answers 413). */
  over = false;

  constructor(private readonly maxBytes: number) {}

  /** Keeps `chunk` (the caller copies it if its runtime reuses the memory); false once over the cap. */
  add(chunk: Buffer): boolean {
    if (this.over) return false;
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) {
      this.over = true;
      return false;
    }
    this.parts.push(chunk);
    return true;
  }

  read(): BodyRead {
    if (this.over) return { tooLarge: true };
    return { bytes: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size) };
  }
}

/** What `body(maxBytes)` gives from a read made at the runtime's own cap. */
export async function capped(read: Promise<BodyRead>, maxBytes: number): Promise<BodyRead> {
  const result = await read;
  return 'bytes' in result && result.bytes.byteLength > maxBytes ? { tooLarge: true } : result;
}
