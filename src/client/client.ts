/**
 * The client core, the same in Node and in browsers (it only sees a SocketLike).
 *
 * Invariants: every pending call settles exactly once, with its result, its typed error, a timeout,
 * a cancellation, or ConnectionClosedError the moment the socket is known to be gone (close event
 * or missed keepalive), never later.
 */
/*
 * Over 350 lines: reconnect, keepalive, token refresh and error rebuilding split out with #11 (item 4).
 */
import { ConnectionClosedError, ErrorCode, UplinkError, type ErrorBody } from '../errors.js';
import { packBinary, unpackBinary } from '../protocol/binary.js';
import { Codec, type EncodedPayload } from '../protocol/codec.js';
import { CloseCode, isTransientClose } from '../protocol/close-codes.js';
import {
  parseServerHeader, splitFrame, SUPPORTED_VERSIONS,
  type BatchCall, type BatchOutcome, type ErrorFrame, type GoodbyeFrame, type MemberKind, type RefreshedFrame, type ServerFrame, type WelcomeFrame,
} from '../protocol/frames.js';
import { gatewayUrl, parseUri } from '../protocol/uri.js';
import { createProxy, type CallOptions, type ProxyTarget, type Remote, type StreamOptions } from './proxy.js';
import { RemoteStream, type StreamTransport } from './remote-stream.js';
import { SOCKET_OPEN, type SocketFactory, type SocketLike } from './socket.js';

export interface ClientOptions {
  /**
   * The token, or a function that returns a fresh one. With a function the client refreshes the token
   * in-band before it expires (no reconnect).
   */
  token?: string | (() => string | Promise<string>);
  /**
   * How the first token travels: in the hello frame (default; works in browsers), the Authorization
   * header (Node only; the gateway must accept it), or the query string (only where nothing else works).
   */
  tokenTransport?: 'hello' | 'header' | 'query';
  /** Called when an in-band token refresh fails (the client retries a few times before expiry). */
  onRefreshError?: (error: Error) => void;
  /** Default per-call timeout in milliseconds (0: none). */
  timeoutMs?: number;
  /** How long to wait for the welcome. */
  connectTimeoutMs?: number;
  /** Interval of application pings; the connection counts as lost when a pong is late. 0 disables. */
  keepaliveMs?: number;
  keepaliveTimeoutMs?: number;
  codec?: Codec;
  /** Called once when the client ends for good, with the close code and any goodbye advice. */
  onClose?: (info: { code: number; reason: string; goodbye: GoodbyeFrame | undefined }) => void;
  /**
   * Reconnect after a transient close (shutdown, network loss), with exponential backoff and jitter,
   * a fresh token from the token function, and open streams resumed. On by default.
   */
  reconnect?: boolean | ReconnectOptions;
  /** Items a stream may have in flight to this client (its credit window). */
  streamWindow?: number;
  /** Called on every connection state change. */
  onStateChange?: (state: ClientState) => void;
}

export interface ReconnectOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before giving up (default: unlimited). */
  maxAttempts?: number;
  /** Calls made while reconnecting wait in a queue of this size; beyond it (or with 0) they fail fast. */
  queueSize?: number;
}

export type ClientState = 'open' | 'reconnecting' | 'closed';


export interface BatchCallSpec {
  object: string;
  method: string;
  args?: unknown[];
  kind?: MemberKind;
}

export type BatchResult = { ok: true; value: unknown } | { ok: false; error: UplinkError } | { ok: false; notRun: true };

interface Pending {
  /** The frame as sent, kept to send it (again) after a reconnect. */
  frame: string | Uint8Array;
  /** Sent on the current connection (otherwise it waits for one). */
  sent: boolean;
  /** Safe to send again when the connection dropped before its answer. */
  idempotent: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  cleanup: (() => void) | undefined;
  /** Set for batches: how to turn the batch-result frame into results. */
  batch?: (outcomes: BatchOutcome[], body: string, attachments: Uint8Array[] | undefined) => BatchResult[];
}

const CLIENT_NAME = 'uplink-js/0.1.0';

export class UplinkClient implements ProxyTarget, StreamTransport {
  readonly codec: Codec;
  private socket!: SocketLike;
  private state: ClientState | 'connecting' = 'connecting';
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, RemoteStream<unknown>>();
  private nextId = 1;
  private welcome: WelcomeFrame | undefined;
  private goodbye: GoodbyeFrame | undefined;
  private closed: { code: number; reason: string } | undefined;
  private closing = false;
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private pongDeadline: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshFailures = 0;
  private readonly reconnectOptions: Required<ReconnectOptions> | undefined;
  private readonly closedPromise: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (info: { code: number; reason: string }) => void;

  private constructor(
    private readonly url: string,
    private readonly createSocket: SocketFactory,
    private readonly options: ClientOptions,
  ) {
    this.codec = options.codec ?? new Codec();
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    const r = options.reconnect ?? true;
    this.reconnectOptions = r === false ? undefined : {
      initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: Number.POSITIVE_INFINITY, queueSize: 100, ...(r === true ? {} : r),
    };
  }

  /** Opens a socket, sends hello and resolves once the gateway welcomes the client. */
  static async open(url: string, createSocket: SocketFactory, options: ClientOptions = {}): Promise<UplinkClient> {
    const client = new UplinkClient(gatewayUrl(url), createSocket, options);
    await client.connectSocket();
    client.setState('open');
    return client;
  }

  /** One connection attempt: a fresh token, a socket, the hello, the welcome. */
  private async connectSocket(): Promise<void> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    const transport = token === undefined ? 'hello' : (this.options.tokenTransport ?? 'hello');
    const url = transport === 'query' ? `${this.url}${this.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token as string)}` : this.url;
    this.socket = this.createSocket(url, transport === 'header' ? token : undefined);
    this.socket.binaryType = 'arraybuffer';
    await this.handshake(this.socket, transport === 'hello' ? token : undefined);
  }

  private handshake(socket: SocketLike, token: string | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new UplinkError(ErrorCode.DEADLINE_EXCEEDED, 'no welcome from the gateway in time'));
        socket.close(CloseCode.NORMAL, 'connect timeout');
      }, this.options.connectTimeoutMs ?? 10_000);
      let refusal: UplinkError | undefined;
      socket.onopen = () => {
        socket.send(JSON.stringify({ t: 'hello', v: SUPPORTED_VERSIONS, client: CLIENT_NAME, ...(token !== undefined ? { token } : {}) }));
      };
      socket.onerror = () => {};
      socket.onclose = (event) => {
        clearTimeout(timer);
        reject(refusal ?? new ConnectionClosedError(event.code, event.reason));
      };
      socket.onmessage = (event) => {
        let frame: ServerFrame;
        try {
          frame = parseServerHeader(splitFrame(messageText(event.data)).header);
        } catch (error) {
          refusal = error as UplinkError;
          socket.close(CloseCode.PROTOCOL_ERROR, 'bad welcome');
          return;
        }
        if (frame.t === 'error') refusal = this.toError(frame, undefined);
        if (frame.t !== 'welcome') return;
        clearTimeout(timer);
        this.welcome = frame;
        this.goodbye = undefined;
        socket.onmessage = (e) => this.onMessage(e.data);
        socket.onclose = (e) => this.onDisconnected(e.code, e.reason);
        this.startKeepalive();
        this.scheduleRefresh(frame.expIn);
        resolve();
      };
    });
  }

  get connectionState(): ClientState {
    return this.state === 'connecting' ? 'reconnecting' : this.state;
  }

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange?.(state);
  }

  /** The gateway's connection id, server name and limits, from the welcome frame. */
  get session(): WelcomeFrame {
    return this.welcome as WelcomeFrame;
  }

  /** False once the client has ended for good (it may still be reconnecting while true). */
  get isOpen(): boolean {
    return this.closed === undefined;
  }

  /** Resolves when the connection has ended (for any reason). */
  get whenClosed(): Promise<{ code: number; reason: string }> {
    return this.closedPromise;
  }

  proxy<T>(objectOrUri: string, defaults: CallOptions = {}): Remote<T> {
    const object = objectOrUri.startsWith('uplink') ? parseUri(objectOrUri).object : objectOrUri;
    return createProxy<T>(this, object, defaults);
  }

  call(object: string, method: string, args: unknown[], options?: CallOptions): Promise<unknown> {
    return this.request({ t: 'call', o: object, m: method }, this.codec.encode(args), options);
  }

  get(object: string, name: string, options?: CallOptions): Promise<unknown> {
    return this.request({ t: 'call', o: object, m: name, k: 'get' }, undefined, options);
  }

  async set(object: string, name: string, value: unknown, options?: CallOptions): Promise<void> {
    await this.request({ t: 'call', o: object, m: name, k: 'set' }, this.codec.encode([value]), options);
  }

  oneway(object: string, method: string, args: unknown[]): void {
    if (this.state !== 'open') throw new ConnectionClosedError(this.closed?.code ?? 1006, this.closed?.reason ?? 'not connected');
    this.socket.send(this.frameOf({ t: 'oneway', o: object, m: method }, this.codec.encode(args)));
  }

  /**
   * Calls a method that streams its results. Items arrive as they are produced, at most `window`
   * ahead of the consumer; breaking out of for-await, return() or the signal cancel the server's
   * generator. Across a reconnect the stream resumes from the last item received.
   */
  stream<T = unknown>(object: string, method: string, args: unknown[], options: StreamOptions = {}): RemoteStream<T> {
    const id = this.nextId++;
    const stream = new RemoteStream<T>(this, id, options.window ?? this.options.streamWindow ?? 256, options.signal);
    if (this.closed) {
      stream.fail(new ConnectionClosedError(this.closed.code, this.closed.reason));
      return stream;
    }
    if (options.signal?.aborted) return stream;
    this.streams.set(id, stream as RemoteStream<unknown>);
    const header: Record<string, unknown> = { t: 'stream', id, o: object, m: method, upTo: stream.upTo };
    if (options.correlationId !== undefined) header.cid = options.correlationId;
    if (options.annotations !== undefined) header.ann = options.annotations;
    const frame = this.frameOf(header, this.codec.encode(args));
    const sent = this.state === 'open';
    if (sent) this.socket.send(frame);
    this.streamRequests.set(id, { frame, sent, idempotent: options.idempotent ?? false });
    return stream;
  }

  /**
   * Stream requests not yet answered by stream-open, kept like pending calls: unsent ones go out on the
   * next connection; after a drop, sent ones are requested again if idempotent, failed otherwise.
   */
  private readonly streamRequests = new Map<number, { frame: string | Uint8Array; sent: boolean; idempotent: boolean }>();

  // ---- StreamTransport ----

  sendCredit(id: number, upTo: number, ack: number): void {
    if (this.state === 'open') this.socket.send(`{"t":"credit","id":${id},"upTo":${upTo},"ack":${ack}}`);
  }

  sendCancel(id: number): void {
    if (this.state === 'open') this.socket.send(`{"t":"cancel","id":${id}}`);
  }

  forget(id: number): void {
    this.streams.delete(id);
    this.streamRequests.delete(id);
  }

  /**
   * Several calls in one frame, answered in one frame. With stopOnError (Pyro's batch proxy) calls
   * run in order and the first failure leaves the rest not run; otherwise all run concurrently.
   */
  batch(calls: BatchCallSpec[], options: CallOptions & { stopOnError?: boolean } = {}): Promise<BatchResult[]> {
    const encoded = calls.map((c) => this.codec.encode(c.kind === 'get' ? [] : (c.args ?? [])));
    const header: Record<string, unknown> = {
      t: 'batch', stop: options.stopOnError ?? true,
      calls: calls.map((c, i): BatchCall => {
        const e = encoded[i]!;
        return { o: c.object, m: c.method, n: e.text.length, ...(c.kind ? { k: c.kind } : {}), ...(e.attachments ? { a: e.attachments.length } : {}) };
      }),
    };
    const attachments = encoded.flatMap((e) => e.attachments ?? []);
    const payload: EncodedPayload = { text: encoded.map((e) => e.text).join(''), attachments: attachments.length ? attachments : undefined };
    return this.request(header, payload, options, (outcomes, body, bodyAttachments) => this.batchResults(outcomes, body, bodyAttachments)) as Promise<BatchResult[]>;
  }

  /** Sends a fresh token from the token function in-band; the gateway keeps the connection's identity. */
  async refreshToken(): Promise<void> {
    if (typeof this.options.token !== 'function') throw new TypeError('refreshing needs a token function');
    const token = await this.options.token();
    const frame = (await this.request({ t: 'refresh', token }, undefined, { timeoutMs: 10_000 })) as RefreshedFrame;
    this.refreshFailures = 0;
    this.scheduleRefresh(frame.expIn);
  }

  /** Refreshes ahead of expiry: with 30 % of the lifetime left, at most 30 s before it. */
  private scheduleRefresh(expIn: number | undefined): void {
    clearTimeout(this.refreshTimer);
    if (expIn === undefined || typeof this.options.token !== 'function' || this.closed) return;
    const lead = Math.min(30_000, expIn * 0.3);
    this.refreshTimer = setTimeout(() => this.tryRefresh(), Math.max(0, expIn - lead));
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  /** A failed refresh is reported and retried (three tries, a second apart) while the connection lives. */
  private tryRefresh(): void {
    this.refreshToken().catch((error: Error) => {
      this.options.onRefreshError?.(error);
      if (++this.refreshFailures < 3 && !this.closed) this.refreshTimer = setTimeout(() => this.tryRefresh(), 1_000);
    });
  }

  /** Says goodbye and closes the socket; pending calls fail with ConnectionClosedError. */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.closed && this.socket.readyState === SOCKET_OPEN) {
      this.socket.close(CloseCode.NORMAL, 'client closing'); // the close frame says it all: no goodbye frame first
    } else {
      this.finalClose(CloseCode.NORMAL, 'client closing');
    }
    await this.closedPromise;
  }

  // ---- requests ----

  private request(header: Record<string, unknown>, payload: EncodedPayload | undefined, options: CallOptions = {}, batch?: Pending['batch']): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectionClosedError(this.closed.code, this.closed.reason));
    if (options.signal?.aborted) return Promise.reject(new UplinkError(ErrorCode.CANCELLED, 'aborted before the call was sent'));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    header.id = id;
    if (timeoutMs > 0) header.dl = timeoutMs;
    if (options.correlationId !== undefined) header.cid = options.correlationId;
    if (options.annotations !== undefined) header.ann = options.annotations;
    if (this.state !== 'open' && this.queuedCount() >= (this.reconnectOptions?.queueSize ?? 0)) {
      return Promise.reject(new ConnectionClosedError(1006, 'reconnecting, and the call queue is full'));
    }
    const frame = this.frameOf(header, payload);
    return new Promise((resolve, reject) => {
      const entry: Pending = { frame, sent: false, idempotent: options.idempotent ?? false, resolve, reject, timer: undefined, cleanup: undefined, batch };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => this.settle(id)?.reject(new UplinkError(ErrorCode.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
      }
      const signal = options.signal;
      if (signal) {
        const onAbort = () => {
          const call = this.settle(id);
          if (!call) return;
          if (this.socket.readyState === SOCKET_OPEN) this.socket.send(`{"t":"cancel","id":${id}}`);
          call.reject(new UplinkError(ErrorCode.CANCELLED, 'cancelled by the caller'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, entry);
      if (this.state === 'open') {
        this.socket.send(frame);
        entry.sent = true;
      }
    });
  }

  private queuedCount(): number {
    let n = 0;
    for (const r of this.streamRequests.values()) if (!r.sent) n++;
    for (const p of this.pending.values()) if (!p.sent) n++;
    return n;
  }

  private frameOf(header: Record<string, unknown>, payload: EncodedPayload | undefined): string | Uint8Array {
    const text = payload ? JSON.stringify(header) + '\n' + payload.text : JSON.stringify(header);
    return payload?.attachments ? packBinary(text, payload.attachments) : text;
  }

  /**
   * After a goodbye the client closes the socket itself as soon as no call awaits an answer (and then
   * reconnects): the side that closes first keeps the TCP TIME_WAIT, and it should not be the gateway.
   */
  private leaveIfIdle(): void {
    if (!this.goodbye || this.state !== 'open' || [...this.pending.values()].some((p) => p.sent)) return;
    this.socket.close(CloseCode.NORMAL, 'gateway said goodbye'); // browsers may only send 1000 or 3000-4999
  }

  /** Removes and returns a pending call exactly once. */
  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (this.goodbye) queueMicrotask(() => this.leaveIfIdle());
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.cleanup?.();
    return entry;
  }

  // ---- inbound ----

  private onMessage(data: unknown): void {
    let frame: ServerFrame;
    let body: string;
    let attachments: Uint8Array[] | undefined;
    try {
      let text: string;
      if (typeof data === 'string') text = data;
      else ({ text, attachments } = unpackBinary(data as ArrayBuffer, this.codec.limits.maxAttachments));
      const split = splitFrame(text);
      body = split.body;
      frame = parseServerHeader(split.header);
    } catch {
      return; // a malformed frame from the server cannot be matched to a call; ignore it
    }
    switch (frame.t) {
      case 'result': {
        const call = this.settle(frame.id);
        if (!call) return;
        try {
          call.resolve(this.codec.decode({ text: body, attachments }));
        } catch (error) {
          call.reject(error as Error);
        }
        return;
      }
      case 'batch-result': {
        const call = this.settle(frame.id);
        if (!call?.batch) return;
        try {
          call.resolve(call.batch(frame.results, body, attachments));
        } catch (error) {
          call.reject(error as Error);
        }
        return;
      }
      case 'error': {
        if (frame.id === undefined) return;
        const error = this.toError(frame, body ? { text: body, attachments } : undefined);
        const stream = this.streams.get(frame.id);
        if (stream) {
          stream.fail(error);
          // A stream that ended with an error waits for this final ack before the gateway forgets it.
          if (frame.seq !== undefined) this.sendCredit(frame.id, frame.seq, frame.seq);
        } else this.settle(frame.id)?.reject(error);
        return;
      }
      case 'stream-open':
        this.streams.get(frame.id)?.opened(frame.key);
        this.streamRequests.delete(frame.id);
        return;
      case 'items': {
        const stream = this.streams.get(frame.id);
        if (!stream) return;
        try {
          const items = this.codec.decode({ text: body, attachments });
          if (!Array.isArray(items)) throw new UplinkError(ErrorCode.BAD_FRAME, 'stream items must be an array');
          stream.items(frame.seq, items);
        } catch (error) {
          stream.fail(error as Error);
          this.sendCancel(frame.id);
        }
        return;
      }
      case 'end':
        this.streams.get(frame.id)?.end(frame.seq);
        return;
      case 'pong':
        clearTimeout(this.pongDeadline);
        this.pongDeadline = undefined;
        return;
      case 'ping':
        this.socket.send(`{"t":"pong","id":${frame.id}}`);
        return;
      case 'goodbye':
        this.goodbye = frame;
        this.leaveIfIdle();
        return;
      case 'refreshed':
        this.settle(frame.id)?.resolve(frame);
        return;
      case 'welcome':
        return;
    }
  }

  private batchResults(outcomes: BatchOutcome[], body: string, attachments: Uint8Array[] | undefined): BatchResult[] {
    let at = 0;
    let attachmentAt = 0;
    return outcomes.map((o): BatchResult => {
      if (o === null) return { ok: false, notRun: true };
      if ('code' in o) return { ok: false, error: this.toError(o, undefined) };
      const count = o.a ?? 0;
      const value = this.codec.decode({ text: body.slice(at, at + o.n), attachments: attachments?.slice(attachmentAt, attachmentAt + count) });
      at += o.n;
      attachmentAt += count;
      return { ok: true, value };
    });
  }

  /** Rebuilds a typed error: registered error classes come back as themselves. */
  private toError(body: ErrorBody | ErrorFrame, data: EncodedPayload | undefined): UplinkError {
    let detail: unknown = body.data;
    if (data) {
      try {
        detail = this.codec.decode(data);
      } catch {
        detail = undefined;
      }
    }
    const cls = body.code === ErrorCode.APPLICATION_ERROR ? this.codec.errorClass(body.name) : undefined;
    if (cls) {
      const error = Object.create(cls.prototype) as UplinkError;
      Object.assign(error, { message: body.message, name: body.name, code: body.code, stack: `${body.name}: ${body.message}\n    at (remote)` });
      if (detail !== undefined) error.data = detail;
      return error;
    }
    const error = new UplinkError(body.code, body.message, detail);
    if (typeof body.name === 'string' && body.name !== 'UplinkError') error.name = body.name;
    return error;
  }

  // ---- liveness ----

  private startKeepalive(): void {
    const every = this.options.keepaliveMs ?? 25_000;
    if (every <= 0) return;
    let pingId = 0;
    this.keepalive = setInterval(() => {
      if (this.pongDeadline !== undefined || this.socket.readyState !== SOCKET_OPEN) return;
      this.socket.send(`{"t":"ping","id":${pingId++}}`);
      this.pongDeadline = setTimeout(() => {
        // No pong: the connection is dead even if TCP has not noticed. Fail pending calls now.
        const socket = this.socket;
        this.onDisconnected(1006, 'keepalive timeout');
        socket.close(CloseCode.NORMAL, 'keepalive timeout');
      }, this.options.keepaliveTimeoutMs ?? 10_000);
    }, every);
    (this.keepalive as { unref?: () => void }).unref?.();
  }

  /** The current socket is gone: reconnect when that makes sense, otherwise end for good. */
  private onDisconnected(code: number, reason: string): void {
    if (this.closed || this.state !== 'open') return;
    this.socket.onclose = null;
    this.socket.onmessage = null;
    this.stopTimers();
    const terminal = this.closing || !this.reconnectOptions || (!isTransientClose(code) && !this.goodbye);
    if (terminal) return this.finalClose(code, reason);
    this.setState('reconnecting');
    // Calls that were on the wire are lost with it, unless they may safely run twice.
    for (const [id, p] of [...this.pending]) {
      if (p.sent && !p.idempotent) this.settle(id)?.reject(new ConnectionClosedError(code, reason));
      else p.sent = false;
    }
    // Streams not yet opened have no resume key: the same rule, by their request.
    for (const [id, request] of [...this.streamRequests]) {
      if (!request.sent || request.idempotent) request.sent = false;
      else this.streams.get(id)?.fail(new ConnectionClosedError(code, reason));
    }
    void this.reconnectLoop(code, reason);
  }

  private async reconnectLoop(code: number, reason: string): Promise<void> {
    const r = this.reconnectOptions as Required<ReconnectOptions>;
    for (let attempt = 0; attempt < r.maxAttempts && !this.closed && !this.closing; attempt++) {
      const backoff = Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** attempt);
      const delay = Math.max(attempt === 0 ? (this.goodbye?.reconnectMs ?? 0) : 0, backoff * (0.5 + Math.random() * 0.5));
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.closed || this.closing) return;
      try {
        await this.connectSocket();
      } catch (error) {
        // Network failures and timeouts are worth another try; a refusal (bad token, version) is not.
        const transient = error instanceof ConnectionClosedError ? isTransientClose(error.closeCode)
          : error instanceof UplinkError ? error.code === ErrorCode.DEADLINE_EXCEEDED : false;
        if (!transient) return this.finalClose(error instanceof ConnectionClosedError ? error.closeCode : CloseCode.UNAUTHENTICATED, (error as Error).message);
        continue;
      }
      this.setState('open');
      this.afterReconnect();
      return;
    }
    this.finalClose(code, reason);
  }

  /** On a new connection: resume streams from the last item received, then send what waited. */
  private afterReconnect(): void {
    for (const [id, stream] of this.streams) {
      if (stream.key !== undefined) this.socket.send(JSON.stringify({ t: 'resume', id, key: stream.key, ack: stream.received, upTo: stream.upTo }));
    }
    for (const request of this.streamRequests.values()) {
      if (request.sent) continue;
      this.socket.send(request.frame);
      request.sent = true;
    }
    for (const p of this.pending.values()) {
      if (p.sent) continue;
      this.socket.send(p.frame);
      p.sent = true;
    }
  }

  private stopTimers(): void {
    clearInterval(this.keepalive);
    clearTimeout(this.pongDeadline);
    this.pongDeadline = undefined;
    clearTimeout(this.refreshTimer);
  }

  /** The end: every pending call and stream fails, onClose runs once. */
  private finalClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.stopTimers();
    this.setState('closed');
    const error = new ConnectionClosedError(code, reason);
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
    for (const stream of [...this.streams.values()]) stream.fail(error);
    this.streamRequests.clear();
    this.options.onClose?.({ code, reason, goodbye: this.goodbye });
    this.resolveClosed({ code, reason });
  }
}

function messageText(data: unknown): string {
  if (typeof data === 'string') return data;
  return unpackBinary(data as ArrayBuffer, 0).text;
}

export type { CallOptions, Remote };
