/**
 * Objects marked for remote use: a method that returns `remote(obj)` (or a stream that yields one)
 * hands the client a live reference instead of a copy, and the client's calls reach that instance
 * with the same rules as a registered object (exposed members, properties, streams, access rule).
 *
 * Invariant: the member table is built once, when the object is marked (as at registration), and is
 * the only thing dispatch consults; marking an object that exposes nothing throws at once.
 */
import type { ObjectAccess } from '../auth/access.js';
import type { ArgsSchema } from './arg-schemas.js';
import { decoratedMembers, listedMembers, type MemberTable } from './members.js';

export interface RemoteOptions {
  /** For objects without decorators: the members to expose (as in register()). */
  expose?: readonly string[];
  oneway?: readonly string[];
  streams?: readonly string[];
  schemas?: Readonly<Record<string, ArgsSchema>>;
  /** Who may call it, checked on every call as for a registered object. */
  access?: ObjectAccess;
}

/** What the hosts know about a marked object. */
export interface RemoteSpec {
  members: MemberTable;
  access: ObjectAccess | undefined;
  /** Hosts' connection tables that hold the object now: told when the server drops it. */
  holders: Set<(target: object) => void>;
}

const marked = new WeakMap<object, RemoteSpec>();
/** Decorated classes share one member table per prototype (a server may hand out many instances). */
const tablesByPrototype = new WeakMap<object, MemberTable>();

/**
 * Marks `target` to travel by reference and returns it. The client gets a `Remote<T>` proxy whose
 * calls reach this instance; it lives until the client disposes it, its connection ends, or the
 * server calls dropRemote(). Once every holder let go, its `Symbol.asyncDispose`, `Symbol.dispose`
 * or `close()` runs, as for session instances.
 */
export function remote<T extends object>(target: T, options: RemoteOptions = {}): T {
  if (marked.has(target)) return target;
  const listed = options.expose || options.oneway || options.streams;
  let members: MemberTable;
  if (listed) {
    members = listedMembers(target, options.expose ?? [], options.oneway ?? [], options.schemas, options.streams);
  } else {
    const prototype = Object.getPrototypeOf(target) as object;
    members = tablesByPrototype.get(prototype) ?? decoratedMembers(prototype);
    tablesByPrototype.set(prototype, members);
  }
  if (members.size === 0) throw new TypeError('remote(): the object exposes nothing: decorate members with @expose or pass { expose: [...] }');
  marked.set(target, { members, access: options.access, holders: new Set() });
  return target;
}

export function remoteSpec(value: unknown): RemoteSpec | undefined {
  return typeof value === 'object' && value !== null ? marked.get(value) : undefined;
}

/**
 * The server drops an object it handed out: every client holding it is told (`release`), and its
 * calls from then on get REF_RELEASED. Returns how many connections held it.
 */
export function dropRemote(target: object): number {
  const spec = marked.get(target);
  if (!spec) return 0;
  const holders = [...spec.holders];
  for (const drop of holders) drop(target);
  return holders.length;
}
