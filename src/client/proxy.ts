/**
 * Typed proxies: `client.proxy<Calculator>('calc').add(1, 2)` returns a Promise of the result.
 * The proxy is not thenable (awaiting it does not call a remote `then`), and symbols are not members.
 */
export interface CallOptions {
  /** Milliseconds to wait for the answer; also sent to the server as the call's deadline. */
  timeoutMs?: number;
  signal?: AbortSignal;
  correlationId?: string;
  annotations?: Record<string, string>;
  /** Safe to run twice: sent again after a reconnect instead of failing with CONNECTION_CLOSED, and once more after HOST_LOST. */
  idempotent?: boolean;
  /** Receives the result's annotations (small key/value metadata the server attached), before the result. */
  onAnnotations?: (annotations: Readonly<Record<string, string>>) => void;
}

type AnyFunction = (...args: never[]) => unknown;
type MethodKeys<T> = { [K in keyof T]: T[K] extends AnyFunction ? K : never }[keyof T] & string;
type PropertyKeys<T> = { [K in keyof T]: T[K] extends AnyFunction ? never : K }[keyof T] & string;
/** Methods that return (async) generators or async iterables stream; every other method returns a Promise. */
type Promised<F> = F extends (...args: infer A) => infer R
  ? [R] extends [never] ? (...args: A) => Promise<never>
    : [R] extends [AsyncIterable<infer X> | Generator<infer X>] ? (...args: A) => AsyncIterableIterator<X> : (...args: A) => Promise<Awaited<R>>
  : never;

export type Remote<T> = { readonly [K in MethodKeys<T>]: Promised<T[K]> } & {
  /** Reads a remote property (an exposed getter). */
  $get<K extends PropertyKeys<T>>(name: K, options?: CallOptions): Promise<Awaited<T[K]>>;
  /** Writes a remote property (an exposed setter). */
  $set<K extends PropertyKeys<T>>(name: K, value: T[K], options?: CallOptions): Promise<void>;
  /** Calls a oneway method: no reply, nothing to await. */
  $oneway<K extends MethodKeys<T>>(name: K, ...args: Parameters<Extract<T[K], AnyFunction>>): void;
  /** Calls a method with per-call options (timeout, AbortSignal, correlation id, annotations). */
  $call<K extends MethodKeys<T>>(name: K, args: Parameters<Extract<T[K], AnyFunction>>, options?: CallOptions): ReturnType<Promised<T[K]>>;
  /** Opens a stream explicitly, with per-stream options (AbortSignal, credit window). */
  $stream<K extends MethodKeys<T>>(name: K, args: Parameters<Extract<T[K], AnyFunction>>, options?: StreamOptions): AsyncIterableIterator<unknown>;
  /** The same proxy with other default options (for example a shorter timeout). */
  $with(options: CallOptions): Remote<T>;
};

/** What a proxy needs from its client. */
export interface ProxyTarget {
  call(object: string, method: string, args: unknown[], options?: CallOptions): Promise<unknown>;
  get(object: string, name: string, options?: CallOptions): Promise<unknown>;
  set(object: string, name: string, value: unknown, options?: CallOptions): Promise<void>;
  oneway(object: string, method: string, args: unknown[]): void;
  stream(object: string, method: string, args: unknown[], options?: StreamOptions): AsyncIterableIterator<unknown>;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Safe to start twice: requested again after a drop that came before the gateway opened it. */
  idempotent?: boolean;
  /** Credit window: items the gateway may send ahead of the consumer. */
  window?: number;
  correlationId?: string;
  annotations?: Record<string, string>;
}

/**
 * What a proxy method returns: a call that is sent as a plain call when awaited (or left alone), or
 * as a stream when iterated with for-await. The choice is made before the next microtask.
 */
class RemoteInvocation implements PromiseLike<unknown>, AsyncIterable<unknown> {
  private promise: Promise<unknown> | undefined;
  private iterating = false;

  constructor(
    private readonly client: ProxyTarget,
    private readonly object: string,
    private readonly method: string,
    private readonly args: unknown[],
    private readonly options: CallOptions,
  ) {
    queueMicrotask(() => {
      // Sent even if never awaited. Awaiting later still sees a failure; no unhandled-rejection noise meanwhile.
      if (!this.iterating) this.call().catch(() => {});
    });
  }

  private call(): Promise<unknown> {
    return (this.promise ??= this.client.call(this.object, this.method, this.args, this.options));
  }

  then<A = unknown, B = never>(onFulfilled?: ((v: unknown) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.call().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.call().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return this.call().finally(onFinally);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.promise) throw new TypeError(`${this.method}() was already sent as a call; iterate it right away to stream`);
    this.iterating = true;
    return this.client.stream(this.object, this.method, this.args, { signal: this.options.signal, idempotent: this.options.idempotent });
  }
}

/** `extra`: more members of the proxy itself (a reference's $release, Symbol.asyncDispose), never sent as calls. */
export function createProxy<T>(client: ProxyTarget, object: string, defaults: CallOptions = {}, extra?: object): Remote<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const helpers: Record<string, unknown> = {
    $get: (name: string, options?: CallOptions) => client.get(object, name, { ...defaults, ...options }),
    $set: (name: string, value: unknown, options?: CallOptions) => client.set(object, name, value, { ...defaults, ...options }),
    $oneway: (name: string, ...args: unknown[]) => client.oneway(object, name, args),
    $call: (name: string, args: unknown[], options?: CallOptions) => client.call(object, name, args, { ...defaults, ...options }),
    $stream: (name: string, args: unknown[], options?: StreamOptions) => client.stream(object, name, args, options),
    $with: (options: CallOptions) => createProxy<T>(client, object, { ...defaults, ...options }, extra),
  };
  return new Proxy(Object.create(null) as object, {
    get(_, name) {
      if (extra && Object.hasOwn(extra, name)) return (extra as Record<string | symbol, unknown>)[name];
      if (typeof name !== 'string' || name === 'then') return undefined;
      if (Object.hasOwn(helpers, name)) return helpers[name];
      let method = methods.get(name);
      if (!method) methods.set(name, (method = (...args: unknown[]) => new RemoteInvocation(client, object, name, args, defaults) as unknown as Promise<unknown>));
      return method;
    },
  }) as Remote<T>;
}
