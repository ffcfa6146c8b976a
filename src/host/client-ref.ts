/**
 * What a server method receives for a client's callback: a function (or, for a client object, an
 * object of functions for the members the client exposed) that sends `callback` frames and resolves
 * with the client's answer. It may be kept and called after the method returned (subscriptions),
 * until someone releases it.
 *
 * Invariants: a released reference never sends again (REF_RELEASED at once); a call inherits the
 * deadline and cancellation of the call being served only when that call came from the same
 * connection (a chat broadcast running inside Alice's call must not end with it when it calls Bob).
 */
import type { Clock } from '../clock.js';
import { currentCallContext, type ConnectionInfo } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { Codec } from '../protocol/codec.js';
import type { RefScope } from '../protocol/refs.js';

/** A client function as the server sees it. `release()` tells the client the server is done with it. */
export type ClientCallback<F extends (...args: never[]) => unknown = (...args: unknown[]) => unknown> =
  ((...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>) & ClientRefHandle;

/** A client object: its exposed methods, each returning a Promise. */
export type ClientObject<T> = { readonly [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never } & ClientRefHandle;

export interface ClientRefHandle {
  /** The server lets go of the reference: the client may forget it; calls from now on get REF_RELEASED. */
  release(): void;
  [Symbol.asyncDispose](): Promise<void>;
  /** False once released (by either side) or once its connection closed. */
  readonly live: boolean;
}

/** What a client reference needs from its connection's table. */
export interface ClientRefLink {
  readonly connection: ConnectionInfo;
  readonly codec: Codec;
  readonly scope: RefScope;
  /** Upper bound of one callback's wait (ms), unless the call being served ends sooner. */
  readonly timeoutMs: number;
  /** The clock call deadlines are on. */
  readonly clock: Clock;
  /** The server released it: drop it from the table and tell the client. */
  releasedByServer(ref: ClientRef): void;
}

export class ClientRef {
  live = true;
  readonly proxy: ClientCallback | ClientObject<Record<string, (...args: unknown[]) => unknown>>;

  constructor(readonly id: string, readonly members: readonly string[] | undefined, private readonly link: ClientRefLink) {
    this.proxy = members === undefined ? this.functionProxy() : this.objectProxy(members);
  }

  /** Calls the client. Arguments and result travel with this connection's references. */
  async invoke(member: string | undefined, args: unknown[]): Promise<unknown> {
    const { connection, codec, scope } = this.link;
    if (!this.live) throw new UplinkError(ErrorCode.REF_RELEASED, 'the client reference was released');
    const peer = connection.peer;
    if (!peer) throw new UplinkError(ErrorCode.REF_RELEASED, 'this connection cannot be called back');
    const served = currentCallContext();
    const own = served?.connection.id === connection.id ? served : undefined;
    const timeoutMs = own?.deadline === undefined ? this.link.timeoutMs : Math.max(0, Math.min(this.link.timeoutMs, own.deadline - this.link.clock.now()));
    const answer = await peer.callback(this.id, member, codec.encode(args, scope), timeoutMs, own?.signal);
    return codec.decode(answer, scope);
  }

  release(): void {
    if (!this.live) return;
    this.live = false;
    this.link.releasedByServer(this);
  }

  private handle(target: object): void {
    Object.defineProperties(target, {
      release: { value: () => this.release() },
      [Symbol.asyncDispose]: { value: async () => this.release() },
      live: { get: () => this.live },
    });
  }

  private functionProxy(): ClientCallback {
    const fn = (...args: unknown[]) => this.invoke(undefined, args);
    this.handle(fn);
    return fn as unknown as ClientCallback;
  }

  private objectProxy(members: readonly string[]): ClientObject<Record<string, (...args: unknown[]) => unknown>> {
    const target = Object.create(null) as Record<string, unknown>;
    for (const name of members) target[name] = (...args: unknown[]) => this.invoke(name, args);
    this.handle(target);
    return Object.freeze(target) as ClientObject<Record<string, (...args: unknown[]) => unknown>>;
  }
}

const refsByProxy = new WeakMap<object, ClientRef>();

/** The ClientRef behind a proxy a method received (to hand it back to its client by reference). */
export function clientRefOf(value: unknown): ClientRef | undefined {
  return (typeof value === 'function' || (typeof value === 'object' && value !== null)) ? refsByProxy.get(value as object) : undefined;
}

export function trackProxy(ref: ClientRef): void {
  refsByProxy.set(ref.proxy as object, ref);
}
