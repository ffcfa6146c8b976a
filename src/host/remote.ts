/**
 * Objects marked for remote use: a method that returns `remote(obj)` (or a stream that yields one)
 * hands the client a live reference instead of a copy, and the client's calls reach that instance
 * with the same rules as a registered object (exposed members, properties, streams, access rule).
 *
 * Invariant: the member table is built once, when the object is marked (as at registration), and is
 * the only thing dispatch consults; marking an object that exposes nothing throws at once.
 */
import type { ObjectAccess } from '../auth/access.js';
import { decoratedMembers, type MemberTable } from './members.js';
import { instanceMembers, type MemberOptions, type RegisterOptions } from './registry.js';

/** Members as for register() (decorators, or an allow-list with oneway, streams, schemas), and the access rule. */
export type RemoteOptions = MemberOptions & Pick<RegisterOptions, 'access'>;

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

function cachedDecoratedMembers(prototype: object): MemberTable {
  let table = tablesByPrototype.get(prototype);
  if (!table) tablesByPrototype.set(prototype, (table = decoratedMembers(prototype)));
  return table;
}

/**
 * Marks `target` to travel by reference and returns it. The client gets a `Remote<T>` proxy whose
 * calls reach this instance; it lives until the client disposes it, its connection ends, or the
 * server calls dropRemote(). Once every holder let go, its `Symbol.asyncDispose`, `Symbol.dispose`
 * or `close()` runs, as for session instances.
 */
export function remote<T extends object>(target: T, options: RemoteOptions = {}): T {
  if (marked.has(target)) return target;
  const members = instanceMembers(target, options, 'remote(): the object', cachedDecoratedMembers);
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
