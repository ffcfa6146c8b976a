/**
 * An object host process's side of NATS (first slice of docs/scale-out.md): every object of a
 * LocalObjectHost is served on `uplink.call.<object>` in the queue group `uplink`, so several hosts
 * share an object. A call runs with the identity and context the gateway put in its headers; one that
 * waited past its deadline never starts.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { CallContext, type ConnectionInfo, type Resource } from '../core/context.js';
import { ErrorCode, errorBody, type ErrorBody } from '../errors.js';
import type { CallKind, ReplySink } from '../host/object-host.js';
import type { LocalObjectHost } from '../host/local-host.js';
import type { EncodedPayload } from '../protocol/codec.js';
import { answerHeaders, callSubject, errorPayload, packPayload, readCallHeaders, unpackPayload } from './envelope.js';

const KINDS: ReadonlySet<string> = new Set(['call', 'get', 'set']);

export class NatsHostService {
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly nc: NatsConnection, private readonly host: LocalObjectHost, private readonly maxAttachments = 16) {}

  /** Serves these object ids (each must be a valid subject token sequence). */
  serve(ids: string[]): void {
    for (const id of ids) {
      const subject = callSubject(id);
      if (!subject) throw new TypeError(`object id '${id}' cannot be served on NATS (use letters, digits, _ and -, dots between)`);
      this.subscriptions.push(this.nc.subscribe(subject, { queue: 'uplink', callback: (error, msg) => { if (!error) this.onCall(id, msg); } }));
    }
  }

  private onCall(object: string, msg: Msg): void {
    const answer = (error: ErrorBody | undefined, value?: EncodedPayload) => {
      if (msg.reply) msg.respond(error ? errorPayload(error) : packPayload(value!), { headers: answerHeaders(error) });
    };
    let call;
    let args: EncodedPayload;
    try {
      call = readCallHeaders(msg.headers);
      args = unpackPayload(msg.data, this.maxAttachments);
      if (!KINDS.has(call.kind)) throw new Error('unknown call kind');
    } catch {
      return answer(errorBody(ErrorCode.BAD_FRAME, 'a malformed call'));
    }
    if (call.timeoutMs !== undefined && call.timeoutMs <= 0) return answer(errorBody(ErrorCode.DEADLINE_EXCEEDED, 'the deadline passed before the call started'));
    const connection: ConnectionInfo = {
      id: call.context.connection, remoteAddress: call.context.remoteAddress, identity: call.identity,
      track: (_resource: Resource) => {}, // resources of remote connections are not tracked yet
    };
    const deadline = call.timeoutMs === undefined ? undefined : Date.now() + call.timeoutMs;
    const context = new CallContext(connection, call.context.correlationId, call.context.annotations, deadline);
    const timer = call.timeoutMs === undefined ? undefined : setTimeout(() => context.abort(ErrorCode.DEADLINE_EXCEEDED, 'deadline exceeded'), call.timeoutMs);
    const reply: ReplySink = {
      resolve: (value) => { clearTimeout(timer); answer(undefined, value); },
      reject: (error) => { clearTimeout(timer); answer(error); },
    };
    this.host.invoke({ object, member: call.member, kind: call.kind as CallKind, oneway: !msg.reply, args, context }, reply);
  }

  /** Stops taking calls (NATS routes new ones to the other hosts); calls in flight still answer. */
  async drain(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.drain()));
  }
}
