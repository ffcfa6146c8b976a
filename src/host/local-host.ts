/**
 * The in-process object host: Pyro's Daemon registry, plus safe dispatch.
 *
 * Invariants: a call reaches user code only through a member-table entry built at registration;
 * arguments are decoded here (never in the transport) and only after the target and member are known
 * to exist and the caller is authorized; user code is always run inside the call context, and a throw
 * or rejection becomes exactly one error reply.
 */
import { systemClock, type Clock } from '../clock.js';
import { ErrorCode, errorBody, PayloadError, UplinkError, type ErrorBody } from '../protocol/errors.js';
import { payloadSize, type Codec, type EncodedPayload } from '../protocol/codec.js';
import { runInContext, type ConnectionInfo, type Identity } from '../core/context.js';
import { toErrorBody } from '../protocol/error-body.js';
import { describeMembers, refusedNameReason, type Member, type ObjectMetadata } from './members.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from './object-host.js';
import { ServerStream, type StreamLimits, type StreamObserver } from '../streams/server-stream.js';
import { isStreamResult, isThenable, deferredIterator, iteratorOf } from '../streams/iteration.js';
import { ObjectRegistry, type Ctor, type Registration, type RegisterOptions } from './registry.js';

export type { InstanceMode, RegisterOptions } from './registry.js';
import { StreamRegistry, streamOwnerKey, type StreamCaps } from '../streams/stream-registry.js';
import { checkArgs } from './arg-schemas.js';
import { declareObject, type ObjectDeclaration } from './declarations.js';
import { globMatcher } from './glob.js';
import { HostReferences, type ReferenceLimits } from './references.js';
import { REF_TARGET_PREFIX, ReferencesUnavailableError, refOfTarget } from '../protocol/refs.js';
import { accessAllows, defaultClaimNames, type ClaimNames } from '../auth/access.js';

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
  /** Time for stream timers (default: the system clock). */
  clock?: Clock;
  /** References per connection in each direction, and the longest wait for a callback. */
  references?: ReferenceLimits;
  /** Told of streams that stop for want of credit or socket room (metrics). */
  streamObserver?: StreamObserver;
}

export const defaultReferenceLimits: ReferenceLimits = { maxRefs: 1_024, callbackTimeoutMs: 30_000 };

const EMPTY_ARGS: unknown[] = [];
export const BUILTIN_OBJECT_ID = '$uplink';

export class LocalObjectHost implements ObjectHost {
  private readonly objects = new ObjectRegistry();
  readonly streams: StreamRegistry;
  /** Server objects handed to clients and client callbacks handed to methods, per connection. */
  readonly references: HostReferences;

  constructor(private readonly options: LocalHostOptions) {
    this.streams = new StreamRegistry(options.streamCaps);
    this.references = new HostReferences(options.codec, options.references ?? defaultReferenceLimits, options.clock ?? systemClock);
  }

  register(target: object | Ctor, options: RegisterOptions = {}): string {
    return this.objects.register(target, options);
  }

  unregister(id: string): boolean {
    return this.objects.unregister(id);
  }

  /** The codec arguments are decoded and results encoded with. */
  get codec(): Codec {
    return this.options.codec;
  }

  has(id: string): boolean {
    return this.objects.get(id) !== undefined;
  }

  knowsObject(id: string): boolean {
    return this.has(id);
  }

  knowsMember(id: string, member: string): boolean {
    return this.objects.get(id)?.members.has(member) ?? false;
  }

  /** Every registered id but the gateway's built-in object. */
  ids(): string[] {
    return [...this.objects.all()].map((r) => r.id).filter((id) => id !== BUILTIN_OBJECT_ID);
  }

  /** What a host of a cluster declares about the object (declarations.ts); undefined when it is not registered. */
  declaration(id: string): ObjectDeclaration | undefined {
    const registration = this.objects.get(id);
    return registration && declareObject(registration, this.options.claimNames);
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
      iterator, context: call.context, encode: (items) => this.references.encode(call.context.connection, items), limits: this.options.streamLimits, upTo,
      onClosed: (s) => this.streams.remove(s),
      onLingering: (s) => this.streams.lingered(s),
      onError: (error) => this.options.onError(error, call),
      toErrorBody: (error) => toErrorBody(error, this.options.codec, this.options.debugErrors ?? false),
      clock: this.options.clock ?? systemClock,
      observer: this.options.streamObserver,
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
    // An ack that does not line up refuses the resume and leaves the stream where it is.
    return stream.resume(sink, ack, upTo) ? stream : undefined;
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
      let args = call.kind === 'get' ? EMPTY_ARGS : this.decodeArgs(call);
      if (member.kind === 'method' && member.args) args = checkArgs(member.args, args);
      if (call.kind === 'set' && args.length !== 1) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'a property set takes exactly one value');
      const fn = (member.kind === 'method' ? member.fn : call.kind === 'get' ? member.get : member.set) as Function;
      return { fn, instance: this.objects.instanceFor(registration, call.context), args, member };
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
    const ref = refOfTarget(call.object);
    const registration = ref === undefined ? this.objects.get(call.object) : this.references.existing(call.context.connection)?.registration(ref);
    if (ref !== undefined && !registration) return errorBody(ErrorCode.REF_RELEASED, 'no such reference on this connection (released, dropped, or never handed out)');
    const identity = call.context.identity;
    if (!registration || !this.allows(identity, registration, undefined)) {
      return this.hidden(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`, registration && 'not allowed for this identity');
    }
    const member = registration.members.get(call.member);
    if (!member) {
      const reason = refusedNameReason(call.member) ?? (call.member in registration.shape ? 'it is not exposed' : undefined);
      return this.hidden(ErrorCode.UNKNOWN_MEMBER, unknownMember(call), reason);
    }
    if (!this.allows(identity, registration, call.member)) return this.hidden(ErrorCode.UNKNOWN_MEMBER, unknownMember(call), 'not allowed for this identity');
    if (member.kind === 'method') {
      if (call.kind !== 'call') return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is a method, not a property`);
      if (call.oneway && !member.oneway) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is not a oneway method`);
      if (member.streams && !stream) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' streams its results; call it as a stream`);
      // Refused before it runs: a stream request must not cause a plain method's side effects.
      if (stream && !member.streams) return errorBody(ErrorCode.BAD_ARGUMENTS, `'${call.member}' is not a stream method (generator methods, or methods marked @stream)`);
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

  private decodeArgs(call: HostCall): unknown[] {
    const args = this.references.decode(call.context.connection, call.args);
    if (!Array.isArray(args)) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'arguments must be an array');
    if (args.length > this.options.maxArgs) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, `more than ${this.options.maxArgs} arguments`);
    return args;
  }

  /** Made once (not a closure per call): refuses a result over maxResultBytes. */
  private readonly checkResultSize = (encoded: EncodedPayload): void => {
    if (payloadSize(encoded) > this.options.maxResultBytes) throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, `the result is larger than ${this.options.maxResultBytes} bytes`);
  };

  private succeed(call: HostCall, reply: ReplySink, member: Member, value: unknown): void {
    if (member.kind === 'method' && isStreamResult(value)) {
      this.fail(call, reply, new UplinkError(ErrorCode.BAD_ARGUMENTS, 'the method returned a stream; mark it as a generator method'));
      return;
    }
    let encoded: EncodedPayload;
    try {
      encoded = this.references.encode(call.context.connection, value, this.checkResultSize);
    } catch (error) {
      // Typed refusals of the result (too large, references on a transport without them) are not failures of user code.
      if ((error instanceof UplinkError && error.code === ErrorCode.LIMIT_EXCEEDED) || error instanceof ReferencesUnavailableError) return reply.reject(errorBody(error.code, error.message));
      this.fail(call, reply, error);
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
    this.objects.releaseConnection(connection);
    this.references.releaseConnection(connection);
  }

  /** Whether this host handed the server reference `ref` (or holds the client reference `ref`) to the connection. */
  holdsReference(connection: ConnectionInfo, ref: string): boolean {
    return this.references.existing(connection)?.holds(ref) ?? false;
  }

  /** The client let go of a reference (its `release` frame). */
  releaseReference(connection: ConnectionInfo, ref: string, received?: number): void {
    this.references.existing(connection)?.releasedByClient(ref, received);
  }

  shutdown(): void {
    this.streams.cancelAll();
  }

  // ---- introspection, filtered by the access policy ----

  private allows(identity: Identity | undefined, registration: Registration, member: string | undefined): boolean {
    if (!accessAllows(registration.access, identity, this.options.claimNames ?? defaultClaimNames, registration.id, member)) return false;
    // The global policy speaks of registered objects; a reference was handed out by a call it allowed.
    if (registration.id.startsWith(REF_TARGET_PREFIX)) return true;
    return this.options.authorize ? this.options.authorize(identity, registration.id, member) : true;
  }

  list(identity: Identity | undefined, pattern?: string): string[] {
    const match = pattern === undefined ? () => true : globMatcher(pattern);
    return [...this.objects.all()].filter((r) => match(r.id) && this.allows(identity, r, undefined)).map((r) => r.id).sort();
  }

  metadata(identity: Identity | undefined, id: string): ObjectMetadata {
    const registration = this.objects.get(id);
    if (!registration || !this.allows(identity, registration, undefined)) throw new UplinkError(ErrorCode.UNKNOWN_OBJECT, `unknown object '${id}'`);
    return describeMembers(id, registration.members, (name) => this.allows(identity, registration, name));
  }
}

/** The one message for a member the caller may not see, whatever the reason (built only on refusal). */
function unknownMember(call: HostCall): string {
  return `'${call.object}' has no member '${call.member}'`;
}
