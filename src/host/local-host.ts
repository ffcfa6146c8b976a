/**
 * The in-process object host: Pyro's Daemon registry, plus safe dispatch.
 *
 * Invariants: a call reaches user code only through a member-table entry built at registration;
 * arguments are decoded here (never in the transport) and only after the target and member are known
 * to exist and the caller is authorized; user code is always run inside the call context, and a throw
 * or rejection becomes exactly one error reply.
 */
/*
 * Just over 350 lines: registration and dispatch split apart with #11 (item 4).
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, errorBody, PayloadError, UplinkError, type ErrorBody } from '../errors.js';
import { payloadSize, type Codec, type EncodedPayload } from '../protocol/codec.js';
import { MAX_NAME_LENGTH } from '../protocol/frames.js';
import { disposeResource, runInContext, type CallContext, type ConnectionInfo, type Identity } from '../core/context.js';
import { toErrorBody } from './error-mapping.js';
import { decoratedMembers, describeMembers, listedMembers, refusedNameReason, type Member, type MemberTable, type ObjectMetadata } from './members.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from './object-host.js';
import { ServerStream, type StreamLimits } from '../streams/server-stream.js';
import { isStreamResult, iteratorOf } from '../streams/iteration.js';
import { StreamRegistry, streamOwnerKey, type StreamCaps } from '../streams/stream-registry.js';
import { checkArgs, type ArgsSchema } from './arg-schemas.js';
import { globMatcher } from './glob.js';
import { accessAllows, defaultClaimNames, type ClaimNames, type ObjectAccess } from '../auth/access.js';

export type InstanceMode = 'single' | 'session' | 'percall';
type Ctor = new () => object;

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
  /** For plain objects: argument schemas (Standard Schema tuples) per method name. */
  schemas?: Readonly<Record<string, ArgsSchema>>;
  /** Who may see and call this object and its members (scopes, roles, a check function). */
  access?: ObjectAccess;
}

/** Decides whether `identity` may use `object` (member undefined: see it at all) or its `member`. */
export type AccessPolicy = (identity: Identity | undefined, object: string, member: string | undefined) => boolean;

export interface LocalHostOptions {
  streamLimits: StreamLimits;
  /** Live streams per subject and in all (lingering ones count). */
  streamCaps?: StreamCaps;
  codec: Codec;
  maxArgs: number;
  /** Largest encoded result; larger ones fail with LIMIT_EXCEEDED instead of being sent. */
  maxResultBytes: number;
  /** A global policy on top of each object's `access` rule. */
  authorize?: AccessPolicy | undefined;
  /** Which claims hold scopes and roles. */
  claimNames?: ClaimNames;
  /** Sends real messages and stacks of internal errors to clients. Never in production. */
  debugErrors?: boolean;
  /** Receives every failure of user code with the call it belongs to (oneway calls included). */
  onError: (error: unknown, call: HostCall) => void;
}

interface Registration {
  id: string;
  members: MemberTable;
  /** What `name in ...` is checked against to say why a member is hidden (debugErrors only). */
  shape: object;
  mode: InstanceMode;
  instance: object | undefined;
  create: (() => object) | undefined;
  access: ObjectAccess | undefined;
}

const EMPTY_ARGS: unknown[] = [];
export const BUILTIN_OBJECT_ID = '$uplink';

export class LocalObjectHost implements ObjectHost {
  private readonly objects = new Map<string, Registration>();
  /** Session-mode instances per connection id, then per object id. */
  private readonly sessions = new Map<string, Map<string, object>>();
  readonly streams: StreamRegistry;

  constructor(private readonly options: LocalHostOptions) {
    this.streams = new StreamRegistry(options.streamCaps);
  }

  register(target: object | Ctor, options: RegisterOptions = {}): string {
    const id = options.id ?? `obj_${randomUUID().replaceAll('-', '')}`;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_NAME_LENGTH) throw new TypeError('object id must be a non-empty string of at most 256 characters');
    if (this.objects.has(id) && !options.force) throw new Error(`object id '${id}' is already registered (pass force to replace it)`);
    const registration = typeof target === 'function' ? this.classRegistration(id, target as Ctor, options) : this.instanceRegistration(id, target, options);
    registration.access = options.access;
    this.objects.set(id, registration);
    return id;
  }

  unregister(id: string): boolean {
    return this.objects.delete(id);
  }

  has(id: string): boolean {
    return this.objects.has(id);
  }

  private classRegistration(id: string, cls: Ctor, options: RegisterOptions): Registration {
    if (options.expose || options.oneway || options.schemas) throw new TypeError('classes declare their exposed members with @expose / @oneway and schemas with @validate');
    const members = decoratedMembers(cls.prototype);
    const create = options.factory ?? (() => new cls());
    return { id, members, shape: cls.prototype, mode: options.mode ?? 'session', instance: undefined, create, access: undefined };
  }

  private instanceRegistration(id: string, target: object, options: RegisterOptions): Registration {
    if (options.mode || options.factory) throw new TypeError('instance modes and factories apply to registered classes');
    const members = options.expose || options.oneway
      ? listedMembers(target, options.expose ?? [], options.oneway ?? [], options.schemas)
      : decoratedMembers(Object.getPrototypeOf(target) as object);
    if (members.size === 0) throw new TypeError(`object '${id}' exposes nothing: decorate members with @expose or pass { expose: [...] }`);
    return { id, members, shape: target, mode: 'single', instance: target, create: undefined, access: undefined };
  }

  invoke(call: HostCall, reply: ReplySink): void {
    const prepared = this.prepare(call, false, reply);
    if (!prepared) return;
    let result: unknown;
    try {
      result = runInContext(call.context, () => prepared.fn.apply(prepared.instance, prepared.args));
    } catch (error) {
      this.fail(call, reply, error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.succeed(call, reply, prepared.member, value),
        (error: unknown) => this.fail(call, reply, error),
      );
    } else {
      this.succeed(call, reply, prepared.member, call.kind === 'set' ? undefined : result);
    }
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    const refuse: ReplySink = { resolve: () => {}, reject: (error) => sink.fail(error, 0) };
    const prepared = this.prepare(call, true, refuse);
    if (!prepared) return undefined;
    const ownerKey = streamOwnerKey(call.context.identity, call.context.connection.remoteAddress);
    const refusal = this.streams.admit(ownerKey, call.context.identity !== undefined);
    if (refusal !== undefined) {
      sink.fail(errorBody(ErrorCode.LIMIT_EXCEEDED, refusal), 0);
      return undefined;
    }
    let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    try {
      const result = runInContext(call.context, () => prepared.fn.apply(prepared.instance, prepared.args));
      iterator = isThenable(result) ? deferredIterator(result) : iteratorOf(result);
    } catch (error) {
      this.fail(call, refuse, error);
      return undefined;
    }
    if (!iterator) {
      sink.fail(errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' did not return an iterable`), 0);
      return undefined;
    }
    const stream = new ServerStream({
      key: this.streams.newKey(), owner: call.context.identity, ownerKey, object: call.object, member: call.member,
      iterator, context: call.context, codec: this.options.codec, limits: this.options.streamLimits, upTo,
      onClosed: (s) => this.streams.remove(s),
      onLingering: (s) => this.streams.lingered(s),
      onError: (error) => this.options.onError(error, call),
      toErrorBody: (error) => toErrorBody(error, this.options.codec, this.options.debugErrors ?? false),
    });
    this.streams.add(stream);
    stream.attach(sink);
    return stream;
  }

  /**
   * A stream resumes only for the identity that opened it, and only while that identity may still
   * use the object and member (its rights can have changed since: a new token, fewer scopes).
   * Anything else looks like a stream that does not exist.
   */
  resumeStream(key: string, identity: Identity | undefined, ack: number, upTo: number, sink: StreamSink): StreamControl | undefined {
    const stream = this.streams.claim(key, identity);
    if (!stream) return undefined;
    const registration = this.objects.get(stream.object);
    if (!registration || !this.allows(identity, registration, undefined) || !this.allows(identity, registration, stream.member)) {
      stream.cancel('access withdrawn');
      return undefined;
    }
    stream.resume(sink, ack, upTo);
    return stream;
  }

  streamStats(): { live: number; lingering: number } {
    return { live: this.streams.size, lingering: this.streams.lingering };
  }

  /** Ends every stream whose owner matches (revocation), lingering ones included. */
  endStreams(matches: (owner: Identity | undefined) => boolean, reason: string): number {
    return this.streams.cancelOwnedBy(matches, reason);
  }

  /** Checks the call, decodes its arguments and finds the function and instance; refusals go to reply. */
  private prepare(call: HostCall, stream: boolean, reply: ReplySink): { fn: Function; instance: object; args: unknown[]; member: Member } | undefined {
    const target = this.resolve(call, stream);
    if ('code' in target) {
      reply.reject(target);
      return undefined;
    }
    const { registration, member } = target;
    try {
      let args = call.kind === 'get' ? EMPTY_ARGS : this.decodeArgs(call.args);
      if (member.kind === 'method' && member.args) args = checkArgs(member.args, args);
      if (call.kind === 'set' && args.length !== 1) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'a property set takes exactly one value');
      const fn = (member.kind === 'method' ? member.fn : call.kind === 'get' ? member.get : member.set) as Function;
      return { fn, instance: this.instanceFor(registration, call.context), args, member };
    } catch (error) {
      this.fail(call, reply, error);
      return undefined;
    }
  }

  /**
   * The registration and member a call reaches, or why it may not: one lookup each, per call.
   * A hidden object or member looks exactly like a missing one (UNKNOWN_OBJECT / UNKNOWN_MEMBER,
   * same message), whether it does not exist, is not exposed, or the caller may not use it: errors
   * never reveal what exists. With debugErrors the message names the real reason.
   */
  private resolve(call: HostCall, stream: boolean): { registration: Registration; member: Member } | ErrorBody {
    const registration = this.objects.get(call.object);
    const identity = call.context.identity;
    if (!registration || !this.allows(identity, registration, undefined)) {
      return this.hidden(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`, registration && 'not allowed for this identity');
    }
    const member = registration.members.get(call.member);
    const unknownMember = `'${call.object}' has no member '${call.member}'`;
    if (!member) {
      const reason = refusedNameReason(call.member) ?? (call.member in registration.shape ? 'it is not exposed' : undefined);
      return this.hidden(ErrorCode.UNKNOWN_MEMBER, unknownMember, reason);
    }
    if (!this.allows(identity, registration, call.member)) return this.hidden(ErrorCode.UNKNOWN_MEMBER, unknownMember, 'not allowed for this identity');
    if (member.kind === 'method') {
      if (call.kind !== 'call') return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is a method, not a property`);
      if (call.oneway && !member.oneway) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is not a oneway method`);
      if (member.streams && !stream) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' streams its results; call it as a stream`);
      return { registration, member };
    }
    if (call.kind === 'call' || stream) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is a property; use get or set`);
    if (call.kind === 'get' ? !member.get : !member.set) return errorBody(ErrorCode.BAD_ARGUMENTS, `property '${call.member}' is ${call.kind === 'get' ? 'write' : 'read'}-only`);
    return { registration, member };
  }

  /** The uniform refusal for something the caller may not see; the real reason only with debugErrors. */
  private hidden(code: ErrorCode, message: string, reason: string | undefined): ErrorBody {
    return errorBody(code, this.options.debugErrors && reason ? `${message} (${reason})` : message);
  }

  private decodeArgs(payload: EncodedPayload): unknown[] {
    const args = this.options.codec.decode(payload);
    if (!Array.isArray(args)) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'arguments must be an array');
    if (args.length > this.options.maxArgs) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, `more than ${this.options.maxArgs} arguments`);
    return args;
  }

  private instanceFor(registration: Registration, context: CallContext): object {
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

  private succeed(call: HostCall, reply: ReplySink, member: Member, value: unknown): void {
    if (member.kind === 'method' && isStreamResult(value)) {
      this.fail(call, reply, new UplinkError(ErrorCode.BAD_ARGUMENTS, 'the method returned a stream; mark it as a generator method'));
      return;
    }
    let encoded: EncodedPayload;
    try {
      encoded = this.options.codec.encode(value);
    } catch (error) {
      this.fail(call, reply, error);
      return;
    }
    if (payloadSize(encoded) > this.options.maxResultBytes) {
      reply.reject(errorBody(ErrorCode.LIMIT_EXCEEDED, `the result is larger than ${this.options.maxResultBytes} bytes`));
      return;
    }
    reply.resolve(encoded);
  }

  private fail(call: HostCall, reply: ReplySink, error: unknown): void {
    let report = !call.context.aborted; // after an abort the failure is usually the abort itself
    try {
      report &&= !(error instanceof PayloadError); // a Proxy can throw even here
    } catch {
      // reported as it is
    }
    if (report) this.options.onError(error, call);
    reply.reject(toErrorBody(error, this.options.codec, this.options.debugErrors ?? false));
  }

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

  shutdown(): void {
    this.streams.cancelAll();
  }

  // ---- introspection, filtered by the access policy ----

  private allows(identity: Identity | undefined, registration: Registration, member: string | undefined): boolean {
    if (!accessAllows(registration.access, identity, this.options.claimNames ?? defaultClaimNames, registration.id, member)) return false;
    return this.options.authorize ? this.options.authorize(identity, registration.id, member) : true;
  }

  list(identity: Identity | undefined, pattern?: string): string[] {
    const match = pattern === undefined ? () => true : globMatcher(pattern);
    return [...this.objects.values()].filter((r) => match(r.id) && this.allows(identity, r, undefined)).map((r) => r.id).sort();
  }

  metadata(identity: Identity | undefined, id: string): ObjectMetadata {
    const registration = this.objects.get(id);
    if (!registration || !this.allows(identity, registration, undefined)) throw new UplinkError(ErrorCode.UNKNOWN_OBJECT, `unknown object '${id}'`);
    return describeMembers(id, registration.members, (name) => this.allows(identity, registration, name));
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** An iterator over the iterable a promise resolves to (for async methods that return a stream). */
function deferredIterator(promise: PromiseLike<unknown>): AsyncIterator<unknown> {
  let inner: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  return {
    async next() {
      inner ??= iteratorOf(await promise) ?? (() => { throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'the method did not return an iterable'); })();
      return inner.next();
    },
    async return(value?: unknown) {
      return (await inner?.return?.(value)) ?? { done: true, value: undefined };
    },
  };
}
