/**
 * The client core, the same in Node and in browsers (it only sees a SocketLike).
 *
 * Invariants: every pending call settles exactly once, with its result, its typed error, a timeout,
 * a cancellation, or ConnectionClosedError the moment the socket is known to be gone (close event
 * or missed keepalive), never later.
 */
/*
 * The public API (call, get, set, oneway, stream, batch, refresh, release, close) plus the connection
 * state machine (connect to one of several gateways, welcome, drop, reconnect, close) that every call
 * consults, and the wiring of the parts it coordinates, each in a file of its own: requests,
 * handshake, pending-calls, client-streams, references, keepalive, token-refresh, backoff, batch,
 * gateway-list, frame-router (inbound frames).
 */
import { systemClock, type Clock } from '../clock.js';
import { ConnectionClosedError } from '../protocol/errors.js';
import { Codec } from '../protocol/codec.js';
import { CloseCode, isTransientClose } from '../protocol/close-codes.js';
import {
  writeBatch, writeCall, writeHello, writeOneway, writePing, writeRefresh,
} from '../protocol/frame-writer.js';
import {
  SUPPORTED_VERSIONS,
  type BatchOutcome, type RefreshedFrame, type WelcomeFrame,
} from '../protocol/frames.js';
import { gatewayUrl, parseUri } from '../protocol/uri.js';
import { GatewayList } from './gateway-list.js';
import { createProxy, type CallOptions, type ProxyTarget, type Remote, type StreamOptions } from './proxy.js';
import { classifyConnectFailure, reconnect } from './backoff.js';
import { batchResults, encodeBatch, type BatchCallSpec, type BatchResult } from './batch.js';
import { transportOf } from './transport.js';
import { sessionInfo, type ClientOptions, type ClientState, type Goodbye, type ReconnectOptions, type SessionInfo } from './options.js';
import { connectUrl, handshake } from './handshake.js';
import { Keepalive } from './keepalive.js';
import { ClientStreams, type StreamWire } from './client-streams.js';
import { routeFrame, type FrameTargets } from './frame-router.js';
import { PendingCalls } from './pending-calls.js';
import { Requests } from './requests.js';
import { ClientReferences, type LocalRef } from './references.js';
import type { RemoteStream } from './remote-stream.js';
import { TokenRefresher } from './token-refresh.js';
import { SOCKET_OPEN, type SocketFactory, type SocketLike } from './socket.js';

export type { BatchCallSpec, BatchResult, ClientOptions, ClientState, Goodbye, ReconnectOptions, SessionInfo };

const CLIENT_NAME = 'uplink-js/0.1.0';

export class UplinkClient implements ProxyTarget {
  readonly codec: Codec;
  /** Callbacks handed to the server and server objects held, on the current connection. */
  readonly refs: ClientReferences;
  private socket!: SocketLike;
  private state: ClientState | 'connecting' = 'connecting';
  private readonly pending: PendingCalls;
  private readonly requests: Requests;
  private readonly streams: ClientStreams;
  private readonly inbound: FrameTargets;
  private nextId = 1;
  private welcome: SessionInfo | undefined;
  private goodbye: Goodbye | undefined;
  private closed: { code: number; reason: string } | undefined;
  private closing = false;
  private keepalive: Keepalive | undefined;
  private readonly refresher: TokenRefresher;
  private readonly clock: Clock;
  private readonly reconnectOptions: Required<ReconnectOptions> | undefined;
  private readonly closedPromise: Promise<{ code: number; reason: string }>;
  private resolveClosed!: (info: { code: number; reason: string }) => void;

  private constructor(
    /** The gateways to use, in order of preference: several gateways of one cluster fail over. */
    private readonly gateways: GatewayList,
    private readonly createSocket: SocketFactory,
    private readonly options: ClientOptions,
  ) {
    this.codec = options.codec ?? new Codec();
    this.clock = options.clock ?? systemClock;
    // After a goodbye, each answer may be the last one the client waited for.
    this.pending = new PendingCalls(this.clock, () => {
      if (this.goodbye) queueMicrotask(() => this.leaveIfIdle());
    });
    const client = this;
    const wire: StreamWire = {
      get open() { return client.state === 'open'; },
      send: (message) => this.socket.send(message),
      nextId: () => this.nextId++,
      refusal: (message) => this.requests.oversized(message),
    };
    this.requests = new Requests({
      get closed() { return client.closed; },
      get open() { return client.state === 'open'; },
      get queueSize() { return client.reconnectOptions?.queueSize ?? 0; },
      get queued() { return client.streams.unsent + client.pending.unsent; },
      get maxPayload() { return client.welcome?.limits.maxPayload; },
      defaultTimeoutMs: options.timeoutMs,
      nextId: () => this.nextId++,
      send: (frame) => this.socket.send(frame),
      sendIfOpen: (frame) => {
        if (this.socket.readyState === SOCKET_OPEN) this.socket.send(frame);
      },
    }, this.pending);
    this.refs = new ClientReferences(this.codec, {
      get open() { return client.state === 'open'; },
      send: (message) => this.socket.send(message),
      target: this,
    });
    this.streams = new ClientStreams(wire, this.refs, options.streamWindow ?? 256, options.streamWindowMax ?? 8192);
    this.inbound = this.frameTargets();
    this.refresher = new TokenRefresher(this.clock, () => this.sendRefresh(), (error) => options.onRefreshError?.(error));
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    const r = options.reconnect ?? true;
    this.reconnectOptions = r === false ? undefined : {
      initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: Number.POSITIVE_INFINITY, queueSize: 100, ...(r === true ? {} : r),
    };
  }

  /** Where inbound frames go (frame-router.ts); a goodbye may let the client leave at once. */
  private frameTargets(): FrameTargets {
    return {
      codec: this.codec, pending: this.pending, streams: this.streams, refs: this.refs,
      send: (frame) => this.socket.send(frame),
      pong: () => this.keepalive?.pong(),
      goodbye: (goodbye) => {
        this.goodbye = goodbye;
        this.leaveIfIdle();
      },
    };
  }

  /** Opens a socket, sends hello and resolves once the gateway welcomes the client. */
  static async open(url: string | readonly string[], createSocket: SocketFactory, options: ClientOptions = {}): Promise<UplinkClient> {
    const gateways = new GatewayList((typeof url === 'string' ? [url] : [...url]).map(gatewayUrl));
    const client = new UplinkClient(gateways, createSocket, options);
    // The first connection tries each gateway once, in order; the last failure is the one reported.
    for (let tried = 1; ; tried++) {
      try {
        await client.connectSocket();
        break;
      } catch (error) {
        if (tried >= gateways.size) throw error;
      }
    }
    client.setState('open');
    return client;
  }

  /** The gateway URL in use (or about to be). */
  get url(): string {
    return this.gateways.current;
  }

  /** One connection attempt: a fresh token, a socket, the hello, the welcome. */
  private async connectSocket(): Promise<void> {
    try {
      await this.connectOnce();
    } catch (error) {
      this.gateways.next(); // the next attempt tries the next gateway
      throw error;
    }
  }

  private async connectOnce(): Promise<void> {
    const token = typeof this.options.token === 'function' ? await this.options.token() : this.options.token;
    const transport = token === undefined ? 'hello' : (this.options.tokenTransport ?? 'hello');
    this.socket = this.createSocket(connectUrl(this.url, token, transport), transport === 'header' ? token : undefined);
    this.socket.binaryType = 'arraybuffer';
    const socket = this.socket;
    const hello = writeHello(SUPPORTED_VERSIONS, CLIENT_NAME, transport === 'hello' ? token : undefined);
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    await handshake(socket, hello, { clock: this.clock, timeoutMs, codec: this.codec }, (welcome) => this.onWelcome(socket, welcome));
  }

  /** The welcome: record the session, take over the socket's events, start keepalive and refresh. */
  private onWelcome(socket: SocketLike, frame: WelcomeFrame): void {
    this.welcome = { ...sessionInfo(frame), transport: transportOf(socket) };
    this.goodbye = undefined;
    socket.onmessage = (e) => routeFrame(e.data, this.inbound);
    socket.onclose = (e) => this.onDisconnected(e.code, e.reason);
    this.startKeepalive();
    if (typeof this.options.token === 'function') this.refresher.schedule(frame.expIn);
  }

  get connectionState(): ClientState {
    return this.state === 'connecting' ? 'reconnecting' : this.state;
  }

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onStateChange?.(state);
  }

  /** The gateway's connection id, server name and limits, as it welcomed this client (the latest connection). */
  get session(): SessionInfo {
    return this.welcome as SessionInfo;
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
    const payload = this.refs.encode(args);
    return this.requests.send((id, tags) => writeCall(id, object, method, undefined, tags, payload), options, undefined, [object, method]);
  }

  get(object: string, name: string, options?: CallOptions): Promise<unknown> {
    return this.requests.send((id, tags) => writeCall(id, object, name, 'get', tags), options, undefined, [object, name]);
  }

  async set(object: string, name: string, value: unknown, options?: CallOptions): Promise<void> {
    const payload = this.refs.encode([value]);
    await this.requests.send((id, tags) => writeCall(id, object, name, 'set', tags, payload), options, undefined, [object, name]);
  }

  oneway(object: string, method: string, args: unknown[]): void {
    if (this.state !== 'open') throw new ConnectionClosedError(this.closed?.code ?? 1006, this.closed?.reason ?? 'not connected');
    const frame = writeOneway(object, method, this.refs.encode(args));
    const oversized = this.requests.oversized(frame);
    if (oversized) throw oversized;
    this.socket.send(frame);
  }

  /**
   * Calls a method that streams its results. Items arrive as they are produced, at most `window`
   * ahead of the consumer; breaking out of for-await, return() or the signal cancel the server's
   * generator. Across a reconnect the stream resumes from the last item received.
   */
  stream<T = unknown>(object: string, method: string, args: unknown[], options: StreamOptions = {}): RemoteStream<T> {
    const closed = this.closed && new ConnectionClosedError(this.closed.code, this.closed.reason);
    return this.streams.open<T>(object, method, args, options, closed);
  }

  /**
   * Several calls in one frame, answered in one frame. With stopOnError (Pyro's batch proxy) calls
   * run in order and the first failure leaves the rest not run; otherwise all run concurrently.
   */
  batch(calls: BatchCallSpec[], options: CallOptions & { stopOnError?: boolean } = {}): Promise<BatchResult[]> {
    const { calls: batchCalls, payload } = encodeBatch(this.refs, calls);
    const stop = options.stopOnError ?? true;
    const decode = (outcomes: BatchOutcome[], body: string, bodyAttachments: Uint8Array[] | undefined) => batchResults(this.codec, this.refs, outcomes, body, bodyAttachments);
    return this.requests.send((id, tags) => writeBatch(id, stop, batchCalls, tags, payload), options, decode) as Promise<BatchResult[]>;
  }

  /**
   * Lets go of a callback handed to the server (callback() / exposeLocal()): the server's calls to it
   * fail with REF_RELEASED from now on. (Server objects held: `await using`, or `ref.$release()`.)
   */
  release(local: LocalRef): void {
    this.refs.release(local);
  }

  /** Sends a fresh token from the token function in-band; the gateway keeps the connection's identity. */
  async refreshToken(): Promise<void> {
    this.refresher.refreshed(await this.sendRefresh());
  }

  /** One refresh round trip; resolves with the new token's time left. */
  private async sendRefresh(): Promise<number | undefined> {
    if (typeof this.options.token !== 'function') throw new TypeError('refreshing needs a token function');
    const token = await this.options.token();
    const frame = (await this.requests.send((id) => writeRefresh(id, token), { timeoutMs: 10_000 })) as RefreshedFrame;
    return frame.expIn;
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

  /**
   * After a goodbye the client closes the socket itself as soon as no call awaits an answer (and then
   * reconnects): the side that closes first keeps the TCP TIME_WAIT, and it should not be the gateway.
   */
  private leaveIfIdle(): void {
    if (!this.goodbye || this.state !== 'open' || this.pending.anySent) return;
    this.socket.close(CloseCode.NORMAL, 'gateway said goodbye'); // browsers may only send 1000 or 3000-4999
  }

  // ---- liveness ----

  private startKeepalive(): void {
    const sendPing = (id: number): boolean => {
      if (this.socket.readyState !== SOCKET_OPEN) return false;
      this.socket.send(writePing(id));
      return true;
    };
    this.keepalive = new Keepalive(this.clock, this.options.keepaliveMs ?? 25_000, this.options.keepaliveTimeoutMs ?? 10_000, sendPing, () => {
      // No pong: the connection is dead even if TCP has not noticed. Fail pending calls now.
      const socket = this.socket;
      this.onDisconnected(1006, 'keepalive timeout');
      socket.close(CloseCode.NORMAL, 'keepalive timeout');
    });
    this.keepalive.start();
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
    this.refs.dropped(); // references live and die with their connection
    // A gateway that went away (or said goodbye) is likely still away: the next attempt starts at the next one.
    this.gateways.next();
    // Calls that were on the wire are lost with it, unless they may safely run twice.
    this.pending.dropped(new ConnectionClosedError(code, reason));
    // Streams not yet opened have no resume key: the same rule, by their request.
    this.streams.dropped(new ConnectionClosedError(code, reason));
    void this.reconnectLoop(code, reason);
  }

  private async reconnectLoop(code: number, reason: string): Promise<void> {
    const outcome = await reconnect({
      ...(this.reconnectOptions as Required<ReconnectOptions>),
      advisedMs: this.goodbye?.reconnectMs,
      clock: this.clock,
      connect: () => this.connectSocket(),
      stopped: () => this.closed !== undefined || this.closing,
      classify: classifyConnectFailure,
    });
    if (!outcome) return this.finalClose(code, reason);
    if (!outcome.connected) return 'code' in outcome ? this.finalClose(outcome.code, outcome.reason) : undefined;
    this.setState('open');
    this.afterReconnect();
  }

  /** On a new connection: resume streams from the last item received, then send what waited. */
  private afterReconnect(): void {
    this.streams.reconnected();
    this.pending.sendWaiting((frame) => this.socket.send(frame));
  }

  private stopTimers(): void {
    this.keepalive?.stop();
    this.keepalive = undefined;
    this.refresher.pause();
  }

  /** The end: every pending call and stream fails, onClose runs once. */
  private finalClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    this.stopTimers();
    this.refresher.stop();
    this.setState('closed');
    this.refs.dropped();
    const error = new ConnectionClosedError(code, reason);
    this.pending.rejectAll(error);
    this.streams.failAll(error);
    this.options.onClose?.({ code, reason, goodbye: this.goodbye });
    this.resolveClosed({ code, reason });
  }
}
