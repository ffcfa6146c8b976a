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
}

type AnyFunction = (...args: never[]) => unknown;
type MethodKeys<T> = { [K in keyof T]: T[K] extends AnyFunction ? K : never }[keyof T] & string;
type PropertyKeys<T> = { [K in keyof T]: T[K] extends AnyFunction ? never : K }[keyof T] & string;
type Promised<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

export type Remote<T> = { readonly [K in MethodKeys<T>]: Promised<T[K]> } & {
  /** Reads a remote property (an exposed getter). */
  $get<K extends PropertyKeys<T>>(name: K, options?: CallOptions): Promise<Awaited<T[K]>>;
  /** Writes a remote property (an exposed setter). */
  $set<K extends PropertyKeys<T>>(name: K, value: T[K], options?: CallOptions): Promise<void>;
  /** Calls a oneway method: no reply, nothing to await. */
  $oneway<K extends MethodKeys<T>>(name: K, ...args: Parameters<Extract<T[K], AnyFunction>>): void;
  /** Calls a method with per-call options (timeout, AbortSignal, correlation id, annotations). */
  $call<K extends MethodKeys<T>>(name: K, args: Parameters<Extract<T[K], AnyFunction>>, options?: CallOptions): ReturnType<Promised<T[K]>>;
  /** The same proxy with other default options (for example a shorter timeout). */
  $with(options: CallOptions): Remote<T>;
};

/** What a proxy needs from its client. */
export interface ProxyTarget {
  call(object: string, method: string, args: unknown[], options?: CallOptions): Promise<unknown>;
  get(object: string, name: string, options?: CallOptions): Promise<unknown>;
  set(object: string, name: string, value: unknown, options?: CallOptions): Promise<void>;
  oneway(object: string, method: string, args: unknown[]): void;
}

export function createProxy<T>(client: ProxyTarget, object: string, defaults: CallOptions = {}): Remote<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const helpers: Record<string, unknown> = {
    $get: (name: string, options?: CallOptions) => client.get(object, name, { ...defaults, ...options }),
    $set: (name: string, value: unknown, options?: CallOptions) => client.set(object, name, value, { ...defaults, ...options }),
    $oneway: (name: string, ...args: unknown[]) => client.oneway(object, name, args),
    $call: (name: string, args: unknown[], options?: CallOptions) => client.call(object, name, args, { ...defaults, ...options }),
    $with: (options: CallOptions) => createProxy<T>(client, object, { ...defaults, ...options }),
  };
  return new Proxy(Object.create(null) as object, {
    get(_, name) {
      if (typeof name !== 'string' || name === 'then') return undefined;
      if (Object.hasOwn(helpers, name)) return helpers[name];
      let method = methods.get(name);
      if (!method) methods.set(name, (method = (...args: unknown[]) => client.call(object, name, args, defaults)));
      return method;
    },
  }) as Remote<T>;
}
