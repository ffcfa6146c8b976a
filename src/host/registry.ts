/**
 * The registered objects by id, and the instances of registered classes (one shared, one per
 * connection, or one per call). Invariant: a registration's member table is built once, at
 * registration; dispatch never looks a member up anywhere else.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectAccess } from '../auth/access.js';
import { disposeResource, type CallContext, type ConnectionInfo } from '../core/context.js';
import { MAX_NAME_LENGTH } from '../protocol/frames.js';
import { REF_TARGET_PREFIX } from '../protocol/refs.js';
import type { ArgsSchema } from './arg-schemas.js';
import { decoratedMembers, listedMembers, type MemberTable } from './members.js';

export type InstanceMode = 'single' | 'session' | 'percall';
export type Ctor = new () => object;

export interface RegisterOptions {
  /** Object id; generated when omitted. */
  id?: string;
  /** Replace an existing registration with the same id. */
  force?: boolean;
  /** For classes: one shared instance, one per connection (default), or one per call. */
  mode?: InstanceMode;
  /** For classes: builds instances instead of `new Class()`. */
  factory?: () => object;
  /** For plain objects without decorators: the members to expose. */
  expose?: readonly string[];
  /** For plain objects: methods to expose as oneway. */
  oneway?: readonly string[];
  /** For plain objects: methods that return a stream without being generator functions. */
  streams?: readonly string[];
  /** For plain objects: argument schemas (Standard Schema tuples) per method name. */
  schemas?: Readonly<Record<string, ArgsSchema>>;
  /** Who may see and call this object and its members (scopes, roles, a check function). */
  access?: ObjectAccess;
}

/** How an object (registered, or marked with remote()) declares its members: an allow-list, or decorators. */
export type MemberOptions = Pick<RegisterOptions, 'expose' | 'oneway' | 'streams' | 'schemas'>;

/**
 * The member table of an object instance: from the allow-list when one is given, else from the
 * decorators of its class (`decorated`: a table per prototype the caller may cache). Throws when the
 * object exposes nothing.
 */
export function instanceMembers(target: object, options: MemberOptions, what: string, decorated: (prototype: object) => MemberTable = decoratedMembers): MemberTable {
  const members = options.expose || options.oneway || options.streams
    ? listedMembers(target, options.expose ?? [], options.oneway ?? [], options.schemas, options.streams)
    : decorated(Object.getPrototypeOf(target) as object);
  if (members.size === 0) throw new TypeError(`${what} exposes nothing: decorate members with @expose or pass { expose: [...] }`);
  return members;
}

export interface Registration {
  id: string;
  members: MemberTable;
  /** What `name in ...` is checked against to say why a member is hidden (debugErrors only). */
  shape: object;
  mode: InstanceMode;
  instance: object | undefined;
  create: (() => object) | undefined;
  access: ObjectAccess | undefined;
}

export class ObjectRegistry {
  private readonly objects = new Map<string, Registration>();
  /** Session-mode instances per connection id, then per object id. */
  private readonly sessions = new Map<string, Map<string, object>>();

  register(target: object | Ctor, options: RegisterOptions = {}): string {
    const id = options.id ?? `obj_${randomUUID().replaceAll('-', '')}`;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_NAME_LENGTH) throw new TypeError('object id must be a non-empty string of at most 256 characters');
    if (id.startsWith(REF_TARGET_PREFIX)) throw new TypeError(`object ids never start with '${REF_TARGET_PREFIX}': it names server references`);
    if (this.objects.has(id) && !options.force) throw new Error(`object id '${id}' is already registered (pass force to replace it)`);
    const registration = typeof target === 'function' ? this.classRegistration(id, target as Ctor, options) : this.instanceRegistration(id, target, options);
    registration.access = options.access;
    this.objects.set(id, registration);
    return id;
  }

  unregister(id: string): boolean {
    return this.objects.delete(id);
  }

  get(id: string): Registration | undefined {
    return this.objects.get(id);
  }

  all(): IterableIterator<Registration> {
    return this.objects.values();
  }

  private classRegistration(id: string, cls: Ctor, options: RegisterOptions): Registration {
    if (options.expose || options.oneway || options.streams || options.schemas) throw new TypeError('classes declare their exposed members with @expose / @oneway / @stream and schemas with @validate');
    const members = decoratedMembers(cls.prototype);
    const create = options.factory ?? (() => new cls());
    return { id, members, shape: cls.prototype, mode: options.mode ?? 'session', instance: undefined, create, access: undefined };
  }

  private instanceRegistration(id: string, target: object, options: RegisterOptions): Registration {
    if (options.mode || options.factory) throw new TypeError('instance modes and factories apply to registered classes');
    return { id, members: instanceMembers(target, options, `object '${id}'`), shape: target, mode: 'single', instance: target, create: undefined, access: undefined };
  }

  instanceFor(registration: Registration, context: CallContext): object {
    if (registration.instance) return registration.instance;
    const create = registration.create as () => object;
    switch (registration.mode) {
      case 'single':
        return (registration.instance = create());
      case 'percall':
        return create();
      case 'session': {
        const connectionId = context.connection.id;
        let perConnection = this.sessions.get(connectionId);
        if (!perConnection) this.sessions.set(connectionId, (perConnection = new Map()));
        let instance = perConnection.get(registration.id);
        if (!instance) perConnection.set(registration.id, (instance = create()));
        return instance;
      }
    }
  }

  /** The connection is gone: its session instances are disposed (Symbol.asyncDispose, Symbol.dispose or close()). */
  releaseConnection(connection: ConnectionInfo): void {
    const instances = this.sessions.get(connection.id);
    if (!instances) return;
    this.sessions.delete(connection.id);
    for (const instance of instances.values()) {
      if (Symbol.asyncDispose in instance || Symbol.dispose in instance || typeof (instance as { close?: unknown }).close === 'function') {
        void disposeResource(instance as never);
      }
    }
  }
}
