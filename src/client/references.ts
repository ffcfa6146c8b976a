/**
 * The client's references (protocol/refs.ts), both ways, for one client:
 * - callbacks it hands to the server (`callback(fn)`, `exposeLocal(obj, members)`), run when a
 *   `callback` frame names them and answered with `callback-result` / `callback-error`;
 * - server objects handed to it, as `RemoteRef` proxies whose calls go to `~<id>`.
 *
 * Invariants: the server reaches only what was handed over, and on an object only the listed
 * members; a reference is valid on the connection it was made on (a reconnect ends them all: proxies
 * then fail with REF_RELEASED, callbacks are forgotten); a proxy the program drops is released by a
 * FinalizationRegistry, so forgetting `await using` leaks nothing on the server for long.
 */
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';
import { toErrorBody } from '../protocol/error-body.js';
import { writeCallbackError, writeCallbackResult, writeRelease, type WireMessage } from '../protocol/frame-writer.js';
import type { CallbackFrame } from '../protocol/frames.js';
import { isClientRefId, isRefMemberName, MAX_REF_MEMBERS, refTarget, type RefKind, type RefNode, type RefScope } from '../protocol/refs.js';
import { createProxy, type ProxyTarget, type Remote } from './proxy.js';

/** A function or object of this client that the server may call back. Made by callback() or exposeLocal(). */
export class LocalRef<T = unknown> {
  /** @internal */
  constructor(readonly target: T, readonly members: readonly string[] | undefined) {}
}

/** What a callback looks like in a remote interface (the server receives a function returning a Promise). */
export type Callback<F extends (...args: never[]) => unknown> = LocalRef<F>;

/** Hands `fn` to the server by reference: the server may call it (any number of times) until it is released. */
export function callback<F extends (...args: never[]) => unknown>(fn: F): Callback<F> {
  if (typeof fn !== 'function') throw new TypeError('callback() takes a function');
  return new LocalRef(fn, undefined);
}

const RESERVED = new Set(['release', 'live', 'then', 'constructor', '__proto__', 'prototype']);

/** Hands `target` to the server by reference; only `members` (its methods) can be called. */
export function exposeLocal<T extends object, K extends keyof T & string>(target: T, members: readonly K[]): LocalRef<Pick<T, K>> {
  if (members.length === 0 || members.length > MAX_REF_MEMBERS) throw new TypeError(`exposeLocal() takes 1 to ${MAX_REF_MEMBERS} member names`);
  for (const name of members) {
    if (RESERVED.has(name) || !isRefMemberName(name)) throw new TypeError(`'${name}' cannot be exposed`);
    if (typeof target[name] !== 'function') throw new TypeError(`'${name}' is not a method`);
  }
  return new LocalRef(target, [...members]);
}

/** A server object held by this client: call it like a registered one; dispose it when done. */
export type RemoteRef<T> = Remote<T> & AsyncDisposable & {
  /** Tells the server this client is done with the object (it may then be disposed there). */
  $release(): Promise<void>;
  /** False once released by either side, or once the connection that got it is gone. */
  readonly $live: boolean;
};

/** What the references need from their client. */
export interface RefWire {
  readonly open: boolean;
  send(message: WireMessage): void;
  target: ProxyTarget;
}

/** A server reference held here, and how many times its id arrived (the release says so). */
interface Imported { proxy: WeakRef<object>; state: { live: boolean }; received: number }

export class ClientReferences implements RefScope {
  private nextId = 1;
  private readonly exported = new Map<string, LocalRef>();
  /** How many times each callback id was sent: the server's release counts what it received. */
  private readonly sent = new Map<string, number>();
  private readonly idOf = new Map<LocalRef, string>();
  private readonly imported = new Map<string, Imported>();
  private readonly proxies = new WeakMap<object, string>();
  /** Callbacks the server gave up on (callback-cancel): their answers are not sent. */
  private readonly cancelled = new Set<number>();
  private readonly finalizer = new FinalizationRegistry<string>((id) => this.collected(id));

  constructor(private readonly codec: Codec, private readonly wire: RefWire) {}

  /** Encodes with this client's references (what the client sends). */
  encode(value: unknown): EncodedPayload {
    return this.codec.encode(value, this);
  }

  decode(payload: EncodedPayload): unknown {
    return this.codec.decode(payload, this);
  }

  // ---- RefScope ----

  kindOf(value: unknown): RefKind | undefined {
    if (value instanceof LocalRef) return 'cref';
    return typeof value === 'object' && value !== null && this.proxies.has(value) ? 'sref' : undefined;
  }

  write(value: unknown): RefNode {
    if (!(value instanceof LocalRef)) return { id: this.proxies.get(value as object) as string };
    let id = this.idOf.get(value);
    if (id === undefined) {
      id = `c${(this.nextId++).toString(36)}`;
      this.exported.set(id, value);
      this.idOf.set(value, id);
    }
    this.sent.set(id, (this.sent.get(id) ?? 0) + 1);
    return value.members ? { id, m: [...value.members] } : { id };
  }

  read(kind: RefKind, node: RefNode): unknown {
    if (kind === 'cref') {
      const local = this.exported.get(node.id);
      if (!local) throw new UplinkError(ErrorCode.REF_RELEASED, 'the server named a callback this client does not hold');
      return local;
    }
    const entry = this.imported.get(node.id);
    const known = entry?.proxy.deref();
    if (entry && known) {
      entry.received++;
      return known;
    }
    return this.importRef(node.id, (entry?.received ?? 0) + 1);
  }

  private importRef(id: string, received: number): object {
    const state = { live: true };
    const released = (): Promise<never> => Promise.reject(new UplinkError(ErrorCode.REF_RELEASED, 'the server reference was released'));
    const { target } = this.wire;
    // Every call checks the reference first: a released one fails here, without a round trip.
    const guarded: ProxyTarget = {
      call: (o, m, a, opt) => (state.live ? target.call(o, m, a, opt) : released()),
      get: (o, n, opt) => (state.live ? target.get(o, n, opt) : released()),
      set: (o, n, v, opt) => (state.live ? target.set(o, n, v, opt) : released()),
      oneway: (o, m, a) => {
        if (!state.live) throw new UplinkError(ErrorCode.REF_RELEASED, 'the server reference was released');
        target.oneway(o, m, a);
      },
      stream: (o, m, a, opt) => {
        if (!state.live) throw new UplinkError(ErrorCode.REF_RELEASED, 'the server reference was released');
        return target.stream(o, m, a, opt);
      },
    };
    const release = async (): Promise<void> => this.releaseImported(id, state);
    const proxy = createProxy<unknown>(guarded, refTarget(id), {}, {
      $release: release,
      [Symbol.asyncDispose]: release,
      get $live() {
        return state.live;
      },
    });
    this.imported.set(id, { proxy: new WeakRef(proxy), state, received });
    this.proxies.set(proxy, id);
    this.finalizer.register(proxy, id, proxy);
    return proxy;
  }

  private releaseImported(id: string, state: { live: boolean }): void {
    if (!state.live) return;
    state.live = false;
    const entry = this.imported.get(id);
    if (entry?.state !== state) return; // superseded: a newer proxy for the id holds the count
    this.imported.delete(id);
    const proxy = entry.proxy.deref();
    if (proxy) this.finalizer.unregister(proxy);
    if (this.wire.open) this.wire.send(writeRelease(id, entry.received));
  }

  /** A proxy was garbage-collected without being released. */
  private collected(id: string): void {
    const entry = this.imported.get(id);
    if (entry && entry.proxy.deref() === undefined) this.releaseImported(id, entry.state);
  }

  // ---- inbound frames ----

  /** A `callback` frame: run the function (or the exposed member) and answer. */
  async onCallback(frame: CallbackFrame, args: EncodedPayload): Promise<void> {
    let answer: WireMessage;
    try {
      const value = await this.run(frame, args);
      answer = writeCallbackResult(frame.id, this.encode(value));
    } catch (error) {
      answer = writeCallbackError(frame.id, toErrorBody(error, this.codec, false), (data) => this.codec.encode(data));
    }
    if (this.cancelled.delete(frame.id)) return;
    if (this.wire.open) this.wire.send(answer);
  }

  private async run(frame: CallbackFrame, args: EncodedPayload): Promise<unknown> {
    const local = this.exported.get(frame.ref);
    if (!local) throw new UplinkError(ErrorCode.REF_RELEASED, 'this client holds no such callback');
    const decoded = this.decode(args);
    if (!Array.isArray(decoded)) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'arguments must be an array');
    if (local.members === undefined) {
      if (frame.m !== undefined) throw new UplinkError(ErrorCode.UNKNOWN_MEMBER, 'a callback function has no members');
      return (local.target as (...a: unknown[]) => unknown)(...decoded);
    }
    // Only listed members: never a lookup of a server-chosen name on the object beyond them.
    if (frame.m === undefined || !local.members.includes(frame.m)) throw new UplinkError(ErrorCode.UNKNOWN_MEMBER, `no exposed member '${String(frame.m)}'`);
    const target = local.target as Record<string, (...a: unknown[]) => unknown>;
    return target[frame.m]!.apply(target, decoded);
  }

  /** The server no longer waits for this callback. */
  onCancel(id: number): void {
    this.cancelled.add(id);
    if (this.cancelled.size > 10_000) this.cancelled.clear(); // ids of callbacks that had already answered
  }

  /**
   * The server let go of a reference: a callback of ours it held `received` times (forgotten once the
   * server has received every copy sent), or an object of its own that it withdraws.
   */
  onRelease(ref: string, received?: number): void {
    if (isClientRefId(ref)) {
      const left = received === undefined ? 0 : (this.sent.get(ref) ?? 0) - received;
      if (left > 0) return void this.sent.set(ref, left);
      return this.forgetLocal(ref);
    }
    const entry = this.imported.get(ref);
    if (!entry) return;
    entry.state.live = false;
    this.imported.delete(ref);
  }

  /** The client lets go of a callback it handed over; the server's calls to it fail with REF_RELEASED. */
  release(local: LocalRef): void {
    const id = this.idOf.get(local);
    if (id === undefined) return;
    this.forgetLocal(id);
    if (this.wire.open) this.wire.send(writeRelease(id));
  }

  private forgetLocal(id: string): void {
    const local = this.exported.get(id);
    if (!local) return;
    this.exported.delete(id);
    this.idOf.delete(local);
    this.sent.delete(id);
  }

  /** The connection is gone: every reference ends with it (the server has already dropped its side). */
  dropped(): void {
    this.exported.clear();
    this.idOf.clear();
    this.sent.clear();
    this.cancelled.clear();
    for (const entry of this.imported.values()) entry.state.live = false;
    this.imported.clear();
  }

  /** Whether the server may still call this callback (handed over on this connection and not released). */
  holds(local: LocalRef): boolean {
    return this.idOf.has(local);
  }

  /** References held now (for tests and the admin view). */
  get size(): { exported: number; imported: number } {
    return { exported: this.exported.size, imported: this.imported.size };
  }
}
