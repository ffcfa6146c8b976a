/**
 * The HTTP transport behind the client's socket seam: a SocketLike that speaks the WebSocket frames the
 * client core writes and reads, over plain HTTP requests (docs/protocol.md, "Calls over HTTP" and
 * "Streams over SSE"). The hello is `GET /rpc/`, a call one `POST /rpc/<object>/<member>`, a stream
 * one SSE response; the answers come back to the core as the frames a gateway would send, so
 * proxies, pending calls, streams and token refresh work unchanged.
 *
 * Invariants: every request carries the latest token in the Authorization header (never the URL);
 * each call or stream gets exactly one outcome frame unless the core cancelled it; a dropped SSE
 * response is resumed with Last-Event-ID (the gateway replays exactly what was not received), and only
 * after a failed resume does the stream get STREAM_LOST. What HTTP cannot carry (binary values,
 * callbacks, references) is refused with a typed error frame, never sent half.
 */
import { itemsPayload } from '../protocol/item-array.js';
import { readSse, type SseEvent } from './sse-reader.js';
import { SOCKET_OPEN, type SocketLike } from './socket.js';

type Header = Record<string, unknown> & { t: string; id?: number };
interface OpenStream { controller: AbortController; key: string | undefined; lastSeq: number; resumes: number; url?: string }

const PAYLOAD_TYPE = 'application/vnd.uplink.payload';
/** Resumes of one SSE stream after its response dropped, before it is given up as lost. */
const MAX_RESUMES = 3;

export class HttpSocket implements SocketLike {
  binaryType = 'arraybuffer';
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private readonly base: string;
  private token: string | undefined;
  private readonly calls = new Map<number, AbortController>();
  private readonly streams = new Map<number, OpenStream>();

  /** `url`: the gateway's ws:// or wss:// URL; `bearer`: a token the caller already has. */
  constructor(url: string, bearer: string | undefined, private readonly fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)) {
    const parsed = new URL(url.replace(/^ws(s?):\/\//, 'http$1://'));
    // A token the query string carried (tokenTransport 'query') goes in the header here: never in an HTTP URL.
    this.token = bearer ?? (parsed.searchParams.get('token') || undefined);
    this.base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
    setTimeout(() => {
      if (this.readyState !== 0) return;
      this.readyState = SOCKET_OPEN;
      this.onopen?.({});
    }, 0);
  }

  send(data: string | Uint8Array): void {
    if (typeof data !== 'string') return this.refuseBinary(data);
    const newline = data.indexOf('\n');
    const header = JSON.parse(newline < 0 ? data : data.slice(0, newline)) as Header;
    const body = newline < 0 ? '' : data.slice(newline + 1);
    switch (header.t) {
      case 'hello': return void this.hello(header.token as string | undefined);
      case 'call': return void this.call(header, body, false);
      case 'oneway': return void this.call(header, body, true);
      case 'stream': return void this.stream(header, body, undefined);
      case 'cancel': return this.cancel(header.id!);
      case 'ping': return this.deliver({ t: 'pong', id: header.id });
      case 'refresh': return void this.refresh(header.id!, header.token as string);
      case 'goodbye': return this.close(1000, 'goodbye');
      case 'batch': return void this.batch(header, body);
      default: return; // credit (the gateway paces SSE itself), pong, resume, release, callback answers: nothing to send
    }
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    for (const controller of this.calls.values()) controller.abort();
    for (const stream of this.streams.values()) stream.controller.abort();
    this.calls.clear();
    this.streams.clear();
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  private deliver(header: Header, body?: string): void {
    if (this.readyState !== SOCKET_OPEN) return;
    const text = JSON.stringify(header);
    this.onmessage?.({ data: body === undefined ? text : `${text}\n${body}` });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { Authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** The hello: `GET /rpc/` checks the token and answers what a welcome says. */
  private async hello(token: string | undefined): Promise<void> {
    if (token) this.token = token;
    try {
      const response = await this.fetchImpl(`${this.base}/rpc/`, { headers: this.headers() });
      const answer = await response.json() as Record<string, unknown>;
      if (!response.ok) {
        this.deliver({ t: 'error', ...answer } as Header);
        return this.close(answer.code === 'FORBIDDEN' ? 4403 : 4401, String(answer.code ?? 'refused'));
      }
      this.deliver({ ...answer, t: 'welcome', conn: 'http' });
    } catch (error) {
      this.onerror?.(error);
      this.close(1006, 'the gateway cannot be reached over HTTP');
    }
  }

  private async refresh(id: number, token: string): Promise<void> {
    const previous = this.token;
    this.token = token;
    const response = await this.fetchImpl(`${this.base}/rpc/`, { headers: this.headers() }).catch(() => undefined);
    const answer = (await response?.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (response?.ok && answer) return this.deliver({ t: 'refreshed', id, ...(answer.exp === undefined ? {} : { exp: answer.exp, expIn: answer.expIn }) });
    this.token = previous;
    this.deliver({ t: 'error', id, code: String(answer?.code ?? 'UNAUTHENTICATED'), name: 'UplinkError', message: String(answer?.message ?? 'the refresh was refused') });
  }

  private url(header: Header): string {
    return `${this.base}/rpc/${encodeURIComponent(String(header.o))}/${encodeURIComponent(String(header.m))}`;
  }

  private requestInit(header: Header, body: string, controller: AbortController, extra: Record<string, string> = {}): RequestInit {
    const kind = header.k ?? 'call';
    const method = kind === 'get' ? 'GET' : kind === 'set' ? 'PUT' : 'POST';
    const headers = this.headers({ ...extra, ...(typeof header.dl === 'number' ? { 'Uplink-Timeout': String(header.dl) } : {}) });
    if (method !== 'GET') headers['Content-Type'] = body.includes('\n') ? PAYLOAD_TYPE : 'application/json';
    return { method, headers, signal: controller.signal, ...(method === 'GET' ? {} : { body }) };
  }

  private async call(header: Header, body: string, oneway: boolean): Promise<void> {
    const controller = new AbortController();
    const id = header.id;
    if (id !== undefined) this.calls.set(id, controller);
    try {
      const response = await this.fetchImpl(this.url(header), this.requestInit(header, body, controller, oneway ? { 'Uplink-Oneway': '1' } : {}));
      const text = await response.text();
      if (oneway || id === undefined || !this.calls.has(id)) return;
      if (response.ok) this.deliver({ t: 'result', id }, text);
      else this.deliverError(id, text, response.status);
    } catch (error) {
      if (id === undefined || !this.calls.has(id)) return; // cancelled by the core: it settled the call itself
      this.deliver({ t: 'error', id, code: 'CONNECTION_CLOSED', name: 'UplinkError', message: `the HTTP request failed: ${(error as Error).message}` });
    } finally {
      if (id !== undefined) this.calls.delete(id);
    }
  }

  /** A batch frame as one `POST /rpc/` (each call's payload text as it is); its answer as the batch-result frame. */
  private async batch(header: Header, body: string): Promise<void> {
    const id = header.id!;
    const controller = new AbortController();
    this.calls.set(id, controller);
    let at = 0;
    const calls = (header.calls as Array<{ o: string; m: string; k?: string; n: number }>).map((c) => {
      const payload = body.slice(at, (at += c.n));
      return { o: c.o, m: c.m, ...(c.k ? { k: c.k } : {}), payload };
    });
    try {
      const response = await this.fetchImpl(`${this.base}/rpc/`, {
        method: 'POST', signal: controller.signal, body: JSON.stringify({ stop: header.stop === true, calls }),
        headers: this.headers({ 'Content-Type': 'application/json', ...(typeof header.dl === 'number' ? { 'Uplink-Timeout': String(header.dl) } : {}) }),
      });
      const text = await response.text();
      if (!this.calls.has(id)) return;
      if (!response.ok) return this.deliverError(id, text, response.status);
      const { results } = JSON.parse(text) as { results: Array<{ value?: unknown; meta?: unknown; error?: Record<string, unknown> } | null> };
      let values = '';
      const outcomes = results.map((r) => {
        if (r === null) return null;
        if (r.error) return { name: 'UplinkError', ...r.error };
        const payload = JSON.stringify(r.value) + (r.meta === undefined ? '' : `\n${JSON.stringify(r.meta)}`);
        values += payload;
        return { n: payload.length };
      });
      this.deliver({ t: 'batch-result', id, results: outcomes }, values);
    } catch (error) {
      if (this.calls.has(id)) this.deliver({ t: 'error', id, code: 'CONNECTION_CLOSED', name: 'UplinkError', message: `the HTTP request failed: ${(error as Error).message}` });
    } finally {
      this.calls.delete(id);
    }
  }

  /** A JSON error body as the error frame (its data as the frame's body). */
  private deliverError(id: number | undefined, text: string, status: number, extra: Record<string, unknown> = {}): void {
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(text) as Record<string, unknown>;
    } catch {
      answer = { code: status === 429 ? 'BUSY' : status >= 500 ? 'INTERNAL' : 'BAD_FRAME', message: `HTTP ${status}` };
    }
    const { data, ...rest } = answer;
    this.deliver({ t: 'error', id, name: 'UplinkError', ...rest, ...extra } as Header, data === undefined ? undefined : JSON.stringify(data));
  }

  private cancel(id: number): void {
    const call = this.calls.get(id);
    if (call) {
      this.calls.delete(id);
      call.abort();
      return this.deliver({ t: 'error', id, code: 'CANCELLED', name: 'UplinkError', message: 'cancelled' });
    }
    const stream = this.streams.get(id);
    if (stream) {
      this.streams.delete(id);
      stream.controller.abort();
      // Closing the response alone would leave the stream lingering for a resume: say it is cancelled.
      if (stream.key !== undefined && stream.url !== undefined) {
        const lastEventId = stream.lastSeq < 0 ? stream.key : `${stream.key}:${stream.lastSeq}`;
        void this.fetchImpl(stream.url, { method: 'DELETE', headers: this.headers({ 'Last-Event-ID': lastEventId }) }).catch(() => {});
      }
    }
  }

  /** A stream as one SSE response; `resumeFrom` resumes a dropped one after that event id. */
  private async stream(header: Header, body: string, resumeFrom: string | undefined): Promise<void> {
    const id = header.id!;
    const state: OpenStream = this.streams.get(id) ?? { controller: new AbortController(), key: undefined, lastSeq: -1, resumes: 0 };
    state.controller = new AbortController();
    state.url = this.url(header);
    this.streams.set(id, state);
    const extra: Record<string, string> = { Accept: 'text/event-stream', ...(resumeFrom ? { 'Last-Event-ID': resumeFrom } : {}) };
    try {
      const response = await this.fetchImpl(this.url(header), this.requestInit(header, body, state.controller, extra));
      if (!response.ok || !response.body) {
        this.streams.delete(id);
        return this.deliverError(id, await response.text(), response.status);
      }
      const ended = await readSse(response.body, (event) => this.onEvent(id, state, event));
      if (ended || !this.streams.has(id)) return;
      throw new Error('the event stream ended early');
    } catch (error) {
      if (this.streams.get(id) !== state || this.readyState !== SOCKET_OPEN) return; // cancelled or closed
      if (state.key !== undefined && state.resumes < MAX_RESUMES) {
        state.resumes++;
        return this.stream(header, body, `${state.key}:${state.lastSeq}`);
      }
      this.streams.delete(id);
      this.deliver({ t: 'error', id, code: 'STREAM_LOST', name: 'UplinkError', message: `the event stream dropped: ${(error as Error).message}` });
    }
  }

  /** One SSE event as the frame it stands for; true once the stream is over. */
  private onEvent(id: number, state: OpenStream, event: SseEvent): boolean {
    if (!this.streams.has(id)) return true;
    switch (event.event) {
      case 'open': {
        const first = state.key === undefined;
        state.key = (JSON.parse(event.data) as { key: string }).key;
        if (first) this.deliver({ t: 'stream-open', id, key: state.key });
        return false;
      }
      case 'item': {
        const seq = Number(event.id.slice(event.id.lastIndexOf(':') + 1));
        if (!Number.isSafeInteger(seq) || seq <= state.lastSeq) return false; // a replayed item already delivered
        state.lastSeq = seq;
        this.deliver({ t: 'items', id, seq }, itemsPayload([event.data]));
        return false;
      }
      case 'end':
        this.streams.delete(id);
        this.deliver({ t: 'end', id, seq: (JSON.parse(event.data) as { total: number }).total });
        return true;
      case 'error':
        this.streams.delete(id);
        this.deliverError(id, event.data, 500);
        return true;
      default:
        return false; // comments (heartbeats) and event types of later versions
    }
  }

  private refuseBinary(data: Uint8Array): void {
    // A binary message is a frame with attachments: its header says which request it was.
    const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    const header = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + length)).split('\n')[0]!) as Header;
    if (header.id !== undefined) this.deliver({ t: 'error', id: header.id, code: 'TYPE_NOT_ALLOWED', name: 'UplinkError', message: 'binary values travel over WebSocket only' });
  }
}
