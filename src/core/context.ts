/**
 * The call context: who is calling, on which connection, with which deadline. Exposed methods read
 * it with `callContext()`; it flows through awaits by AsyncLocalStorage.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { EncodedPayload } from '../protocol/codec.js';
import type { Annotations } from '../protocol/frames.js';
import { withTraceContext, type Span } from './tracing.js';
import { pino, type Logger } from 'pino';
import type { Context as OtelContext } from '@opentelemetry/api';

/** The authenticated caller. Filled by the authenticator; anonymous connections have none. */
export interface Identity {
  subject: string;
  issuer?: string;
  /** Token id (jti), for revocation. */
  tokenId?: string;
  /** Token expiry in epoch milliseconds. */
  expiresAt?: number;
  claims: Readonly<Record<string, unknown>>;
}

/** Something that must be released when its connection closes. */
export type Resource = { [Symbol.dispose](): void } | { [Symbol.asyncDispose](): PromiseLike<void> } | { close(): unknown };

/**
 * The way back to a connection's client: calls to the references it handed over (callbacks), and
 * releases. Implemented by the transport (the gateway's connection, or a cluster's relay).
 */
export interface PeerChannel {
  /**
   * Calls the client's reference `ref` (its member `member`; undefined: the function itself). Resolves
   * with the encoded result; rejects with an UplinkError (BUSY, DEADLINE_EXCEEDED, CANCELLED,
   * CONNECTION_CLOSED, REF_RELEASED, or the client's own error).
   */
  callback(ref: string, member: string | undefined, args: EncodedPayload, timeoutMs: number, signal: AbortSignal | undefined): Promise<EncodedPayload>;
  /**
   * Tells the client a reference is let go of: one of its own the server held (`received`: how many
   * times it reached the server), or one of the server's that the server withdraws (no count).
   */
  release(ref: string, received?: number): void;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly remoteAddress: string;
  readonly identity: Identity | undefined;
  /** Registers a resource to be closed when this connection closes. */
  track(resource: Resource): void;
  /** The way back to the client, where the transport has one (references need it). */
  readonly peer?: PeerChannel | undefined;
  /** A pino logger whose lines carry this connection's id (and its client's address). */
  readonly logger?: Logger | undefined;
}

/** For connections without a logger of their own: lines go nowhere. */
const silent = pino({ level: 'silent' });

export class CallContext {
  private controller: AbortController | undefined;
  private abortReason: UplinkError | undefined;
  /** Annotations to send back with the result (small key/value metadata). */
  resultAnnotations: Annotations | undefined;
  /** The gateway's span for this call (OpenTelemetry), ended with its outcome. */
  span: Span | undefined;
  /** The OpenTelemetry context user code runs in (set only when a span records). */
  traceContext: OtelContext | undefined;
  /** The W3C traceparent of the call's span, for a host in another process (set only when a span records). */
  traceparent: string | undefined;

  /** The client's correlation id, or the call's id until `correlationId` is first read. */
  private cid: string | number;

  /**
   * `correlationId`: the client's, or the call's id, from which `<connection>.<call id>` is made when
   * first read (most calls never read it; a number made into a string per call costs the hot path).
   */
  constructor(
    readonly connection: ConnectionInfo,
    correlationId: string | number,
    readonly annotations: Readonly<Annotations> | undefined,
    /** Epoch milliseconds after which the caller no longer waits, if it set a deadline. */
    readonly deadline: number | undefined,
  ) {
    this.cid = correlationId;
  }

  /** From the client, or `<connection>.<call id>` when it sent none. */
  get correlationId(): string {
    const cid = this.cid;
    return typeof cid === 'string' ? cid : (this.cid = `${this.connection.id}.${cid}`);
  }

  get identity(): Identity | undefined {
    return this.connection.identity;
  }

  /** A pino child logger for user code: its lines carry the connection id and this call's correlation id. */
  get log(): Logger {
    return (this.logger ??= (this.connection.logger ?? silent).child({ cid: this.correlationId }));
  }

  private logger: Logger | undefined;

  /** Aborted when the caller cancels, the deadline passes or the connection closes. Created on first use. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.abortReason && !this.controller.signal.aborted) this.controller.abort(this.abortReason);
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  abort(code: typeof ErrorCode.CANCELLED | typeof ErrorCode.DEADLINE_EXCEEDED | typeof ErrorCode.SHUTTING_DOWN | typeof ErrorCode.CONNECTION_CLOSED, message: string): void {
    if (this.abortReason) return;
    this.abortReason = new UplinkError(code, message);
    this.controller?.abort(this.abortReason);
    const onAbort = this.onAbort;
    this.onAbort = undefined;
    onAbort?.();
  }

  /**
   * One internal hook run when the call is aborted (an object host in another process forwards the
   * cancel): cheaper than an AbortSignal listener, which costs an AbortController per call.
   */
  onAbort: (() => void) | undefined;

  annotate(key: string, value: string): void {
    (this.resultAnnotations ??= {})[key] = value;
  }
}

const storage = new AsyncLocalStorage<CallContext>();

/** Runs user code in the call's context (and, when a span records, in its OpenTelemetry context). */
export function runInContext<T>(context: CallContext, fn: () => T): T {
  const traceContext = context.traceContext;
  return traceContext ? withTraceContext(traceContext, () => storage.run(context, fn)) : storage.run(context, fn);
}

/** The context of the remote call being served, or undefined outside of one. */
export function currentCallContext(): CallContext | undefined {
  return storage.getStore();
}

/** The context of the remote call being served. Throws outside of one. */
export function callContext(): CallContext {
  const context = storage.getStore();
  if (!context) throw new Error('callContext() used outside of a remote call');
  return context;
}

/** Closes a resource whichever way it knows how; never throws (returns the failure instead). */
export async function disposeResource(resource: Resource): Promise<unknown> {
  try {
    if (Symbol.asyncDispose in resource) await resource[Symbol.asyncDispose]();
    else if (Symbol.dispose in resource) resource[Symbol.dispose]();
    else await resource.close();
    return undefined;
  } catch (error) {
    return error;
  }
}
