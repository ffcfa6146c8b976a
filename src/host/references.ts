/**
 * The references of each connection, in both directions: server objects handed to the client
 * (`sref`, called with `o: "~<id>"`) and client callbacks handed to the server (`cref`). This is the
 * reference scope the host's codec encodes results and decodes arguments with (protocol/refs.ts).
 *
 * Invariants: an id means something on its own connection only (another connection's id, a forged
 * id and a released id all get REF_RELEASED); each direction holds at most `maxRefs` references per
 * connection (LIMIT_EXCEEDED beyond, and nothing of the refused payload stays exported); everything
 * goes with the connection, and an object is disposed once no connection holds it any more.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { disposeResource, type ConnectionInfo } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { Codec, EncodedPayload } from '../protocol/codec.js';
import { isClientRefId, ReferencesUnavailableError, refTarget, type RefKind, type RefNode, type RefScope } from '../protocol/refs.js';
import { ClientRef, clientRefOf, trackProxy, type ClientRefLink } from './client-ref.js';
import { remoteSpec, type RemoteSpec } from './remote.js';
import type { Registration } from './registry.js';

export interface ReferenceLimits {
  /** References per connection in each direction. */
  maxRefs: number;
  /** Longest wait for one callback (ms). */
  callbackTimeoutMs: number;
}

/**
 * An exported object: the registration its calls dispatch through, how to let go of it, and how many
 * times its id was sent (a client's release counts what it received; the rest may still be on the way).
 */
interface Exported { registration: Registration; spec: RemoteSpec; drop: (target: object) => void; sent: number }

/** A client reference held here (weakly: see `collected`), and how many times its id arrived. */
interface Imported { ref: WeakRef<ClientRef>; received: number }

/** Client references the server code let go of without release(): the client is told to forget them. */
const collectedRefs = new FinalizationRegistry<{ table: ConnectionRefs; id: string }>(({ table, id }) => table.collected(id));

/** How many connections hold each exported object (disposed when none does). */
const holdCount = new WeakMap<object, number>();

export class ConnectionRefs implements RefScope, ClientRefLink {
  private readonly exported = new Map<string, Exported>();
  private readonly idOf = new Map<object, string>();
  /** Held weakly: a proxy the server code dropped is released (finalizer) without waiting for the connection to end. */
  private readonly imported = new Map<string, Imported>();
  private open = true;
  /** Ids exported by the encode in progress (withdrawn if it fails). */
  fresh: string[] | undefined;

  constructor(readonly connection: ConnectionInfo, readonly codec: Codec, private readonly limits: ReferenceLimits, readonly clock: Clock, private readonly idPrefix: string) {}

  get timeoutMs(): number {
    return this.limits.callbackTimeoutMs;
  }

  get scope(): RefScope {
    return this;
  }

  get size(): { exported: number; imported: number } {
    return { exported: this.exported.size, imported: this.imported.size };
  }

  // ---- RefScope ----

  kindOf(value: unknown): RefKind | undefined {
    if (remoteSpec(value)) return 'sref';
    const ref = clientRefOf(value);
    return ref && this.imported.get(ref.id)?.ref.deref() === ref ? 'cref' : undefined; // another connection's callback travels by value (as nothing)
  }

  /** Both directions need the way back (calls to a server reference are routed to it, callbacks go over it). */
  write(value: unknown): RefNode {
    if (!this.connection.peer) throw new ReferencesUnavailableError();
    const ref = clientRefOf(value);
    if (ref) return ref.members ? { id: ref.id, m: [...ref.members] } : { id: ref.id };
    return { id: this.export(value as object) };
  }

  read(kind: RefKind, node: RefNode): unknown {
    if (!this.connection.peer) throw new ReferencesUnavailableError();
    if (kind === 'sref') {
      const exported = this.exported.get(node.id);
      if (!exported) throw released();
      return exported.registration.instance;
    }
    return this.importRef(node).proxy;
  }

  // ---- exported objects ----

  /** Takes back what the failed encode sent: the counts it added, and the objects it exported first. */
  rollback(): void {
    for (const id of this.fresh ?? []) {
      const exported = this.exported.get(id);
      if (exported && --exported.sent <= 0) this.unexport(id);
    }
    this.fresh = undefined;
  }

  holds(id: string): boolean {
    return isClientRefId(id) ? this.imported.has(id) : this.exported.has(id);
  }

  /** The registration a call to `~<id>` dispatches through, if this connection holds it. */
  registration(id: string): Registration | undefined {
    return this.exported.get(id)?.registration;
  }

  private export(target: object): string {
    const existing = this.idOf.get(target);
    if (existing !== undefined) {
      (this.exported.get(existing) as Exported).sent++;
      this.fresh?.push(existing);
      return existing;
    }
    if (this.exported.size >= this.limits.maxRefs) throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `more than ${this.limits.maxRefs} server references on this connection`);
    const spec = remoteSpec(target) as RemoteSpec;
    const id = `s${this.idPrefix}${randomBytes(16).toString('base64url')}`;
    const registration: Registration = { id: refTarget(id), members: spec.members, shape: target, mode: 'single', instance: target, create: undefined, access: spec.access };
    const drop = (t: object): void => {
      const dropped = this.idOf.get(t);
      if (dropped === undefined) return;
      this.unexport(dropped);
      this.connection.peer?.release(dropped); // the owner withdraws it: no count
    };
    this.exported.set(id, { registration, spec, drop, sent: 1 });
    this.idOf.set(target, id);
    spec.holders.add(drop);
    holdCount.set(target, (holdCount.get(target) ?? 0) + 1);
    this.fresh?.push(id);
    return id;
  }

  private unexport(id: string): void {
    const exported = this.exported.get(id);
    if (!exported) return;
    const target = exported.registration.instance as object;
    this.exported.delete(id);
    this.idOf.delete(target);
    exported.spec.holders.delete(exported.drop);
    const left = (holdCount.get(target) ?? 1) - 1;
    if (left > 0) return void holdCount.set(target, left);
    holdCount.delete(target);
    if (Symbol.asyncDispose in target || Symbol.dispose in target || typeof (target as { close?: unknown }).close === 'function') {
      void disposeResource(target as never);
    }
  }

  // ---- client references ----

  private importRef(node: RefNode): ClientRef {
    const entry = this.imported.get(node.id);
    const known = entry?.ref.deref();
    if (entry && known) {
      entry.received++;
      return known;
    }
    if (!entry && this.imported.size >= this.limits.maxRefs) throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `more than ${this.limits.maxRefs} client references on this connection`);
    const ref = new ClientRef(node.id, node.m, this);
    trackProxy(ref);
    // An entry whose proxy was collected but not yet finalized keeps its count: the release will say so.
    this.imported.set(node.id, { ref: new WeakRef(ref), received: (entry?.received ?? 0) + 1 });
    collectedRefs.register(ref.proxy as object, { table: this, id: node.id });
    return ref;
  }

  releasedByServer(ref: ClientRef): void {
    const entry = this.imported.get(ref.id);
    if (entry?.ref.deref() !== ref) return;
    this.imported.delete(ref.id);
    this.connection.peer?.release(ref.id, entry.received);
  }

  /** The server code dropped a client reference without releasing it (the finalizer saw it go). */
  collected(id: string): void {
    const entry = this.imported.get(id);
    if (!entry || entry.ref.deref() !== undefined) return; // released already, or imported again since
    this.imported.delete(id);
    if (this.open) this.connection.peer?.release(id, entry.received);
  }

  // ---- lifetime ----

  /**
   * The client let go of a reference (a `release` frame): a callback of its own that it withdraws, or
   * an object it held, `received` times (without a count: all of them). The object goes once the
   * client has received every copy sent; a copy still on its way keeps it.
   */
  releasedByClient(id: string, received?: number): void {
    if (isClientRefId(id)) {
      const ref = this.imported.get(id)?.ref.deref();
      this.imported.delete(id);
      if (ref) ref.live = false;
      return;
    }
    const exported = this.exported.get(id);
    if (!exported) return;
    exported.sent = received === undefined ? 0 : exported.sent - received;
    if (exported.sent <= 0) this.unexport(id);
  }

  /** The connection is gone: every reference goes, both ways; nothing is sent. */
  close(): void {
    this.open = false;
    for (const id of [...this.exported.keys()]) this.unexport(id);
    for (const entry of this.imported.values()) {
      const ref = entry.ref.deref();
      if (ref) ref.live = false;
    }
    this.imported.clear();
  }
}

function released(): UplinkError {
  return new UplinkError(ErrorCode.REF_RELEASED, 'no such reference on this connection (released, dropped, or never handed out)');
}

/** Every connection's references on one host. */
export class HostReferences {
  private readonly byConnection = new Map<string, ConnectionRefs>();
  /**
   * Starts every server reference id this host makes (after the `s`): an object host of a cluster
   * puts its id here, so that gateways route calls to a reference to the host that holds it.
   */
  idPrefix = '';
  /** The connection whose payload is being encoded or decoded (both are synchronous: one slot is race-free). */
  private current: ConnectionInfo | undefined;
  /** The table the encode in progress used, if the value was not plain JSON. */
  private touched: ConnectionRefs | undefined;
  /** Made once: the codec calls it only for values that may hold references. */
  private readonly scopeNow = (): RefScope => {
    const table = this.of(this.current as ConnectionInfo);
    table.fresh = [];
    this.touched = table;
    return table;
  };

  /** Made once, like scopeNow: the table of the connection whose payload is being decoded. */
  private readonly decodeScope = (): RefScope => this.of(this.current as ConnectionInfo);

  constructor(private readonly codec: Codec, private readonly limits: ReferenceLimits, private readonly clock: Clock) {}

  /**
   * Encodes a value for `connection` with its references. If encoding or `check` (a size limit)
   * throws, the objects it exported are withdrawn again: a refused result leaves nothing behind.
   */
  encode(connection: ConnectionInfo, value: unknown, check?: (encoded: EncodedPayload) => void): EncodedPayload {
    this.current = connection;
    this.touched = undefined;
    try {
      const encoded = this.codec.encode(value, this.scopeNow);
      check?.(encoded);
      return encoded;
    } catch (error) {
      (this.touched as ConnectionRefs | undefined)?.rollback(); // set by scopeNow during the encode
      throw error;
    } finally {
      const touched = this.touched as ConnectionRefs | undefined;
      if (touched) touched.fresh = undefined;
      this.touched = undefined;
      this.current = undefined;
    }
  }

  /** Decodes a payload from `connection`; its table is made only for a payload with type annotations (references need them). */
  decode(connection: ConnectionInfo, payload: EncodedPayload): unknown {
    this.current = connection;
    try {
      return this.codec.decode(payload, this.decodeScope);
    } finally {
      this.current = undefined;
    }
  }

  /** The connection's table, created on first use. */
  of(connection: ConnectionInfo): ConnectionRefs {
    let refs = this.byConnection.get(connection.id);
    if (!refs) this.byConnection.set(connection.id, (refs = new ConnectionRefs(connection, this.codec, this.limits, this.clock, this.idPrefix)));
    return refs;
  }

  /** The table if the connection has one already (calls to `~<id>` never create one). */
  existing(connection: ConnectionInfo): ConnectionRefs | undefined {
    return this.byConnection.get(connection.id);
  }

  releaseConnection(connection: ConnectionInfo): void {
    this.byConnection.get(connection.id)?.close();
    this.byConnection.delete(connection.id);
  }

  /** References held now, over every connection. */
  counts(): { exported: number; imported: number; connections: number } {
    let exported = 0;
    let imported = 0;
    for (const refs of this.byConnection.values()) {
      exported += refs.size.exported;
      imported += refs.size.imported;
    }
    return { exported, imported, connections: this.byConnection.size };
  }
}
