/**
 * The gateway's side of objects on NATS (first slice of docs/scale-out.md): calls and oneway calls
 * published to `uplink.call.<object>`, answered on one wildcard inbox per gateway (the mux: no
 * subscription and no timer per call; deadlines stay with the gateway's InflightCall). No host for
 * the object is the server's 503: OBJECT_UNAVAILABLE, safe to retry. Streams are not routed yet.
 */
import { nuid, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { ConnectionInfo, Identity } from '../core/context.js';
import { ErrorCode, errorBody, type ErrorBody } from '../errors.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from '../host/object-host.js';
import { callHeaders, callSubject, Header, packPayload, unpackPayload } from './envelope.js';

const NO_RESPONDERS = 503;

export class NatsObjectHost implements ObjectHost {
  private readonly inbox: string;
  private readonly pending = new Map<string, ReplySink>();
  private readonly subscription: Subscription;
  private nextId = 0;

  constructor(private readonly nc: NatsConnection, private readonly maxAttachments = 16) {
    this.inbox = `_U.${nuid.next()}`;
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => { if (!error) this.onAnswer(msg); } });
  }

  invoke(call: HostCall, reply: ReplySink): void {
    const subject = callSubject(call.object);
    if (!subject) return reply.reject(errorBody(ErrorCode.UNKNOWN_OBJECT, `unknown object '${call.object}'`));
    const { context } = call;
    const timeoutMs = context.deadline === undefined ? undefined : context.deadline - Date.now();
    const headers = callHeaders(call.member, call.kind, timeoutMs, context.identity, {
      connection: context.connection.id, remoteAddress: context.connection.remoteAddress, correlationId: context.correlationId,
      ...(context.annotations ? { annotations: { ...context.annotations } } : {}),
    });
    if (call.oneway) {
      this.nc.publish(subject, packPayload(call.args), { headers });
      return reply.resolve({ text: 'null' });
    }
    if (this.nc.isClosed() || this.nc.isDraining()) return reply.reject(unavailable(call.object));
    const id = (this.nextId++).toString(36);
    this.pending.set(id, reply);
    // A reply that comes after the caller gave up finds the InflightCall settled: it is dropped there.
    context.signal.addEventListener('abort', () => this.pending.delete(id), { once: true });
    this.nc.publish(subject, packPayload(call.args), { headers, reply: `${this.inbox}.${id}` });
  }

  private onAnswer(msg: Msg): void {
    const id = msg.subject.slice(this.inbox.length + 1);
    const reply = this.pending.get(id);
    if (!reply) return;
    this.pending.delete(id);
    if (msg.headers?.code === NO_RESPONDERS) return reply.reject(unavailable('the object'));
    if (msg.headers?.get(Header.status) === 'error') {
      return reply.reject(JSON.parse(new TextDecoder().decode(msg.data)) as ErrorBody);
    }
    try {
      reply.resolve(unpackPayload(msg.data, this.maxAttachments));
    } catch {
      reply.reject(errorBody(ErrorCode.INTERNAL, 'a malformed answer from an object host'));
    }
  }

  openStream(_call: HostCall, _upTo: number, sink: StreamSink): StreamControl | undefined {
    sink.fail(errorBody(ErrorCode.BAD_ARGUMENTS, 'streams are not routed through NATS yet'), 0);
    return undefined;
  }

  resumeStream(): StreamControl | undefined {
    return undefined;
  }

  releaseConnection(_connection: ConnectionInfo): void {}

  endStreams(_matches: (owner: Identity | undefined) => boolean): number {
    return 0;
  }

  streamStats(): { live: number; lingering: number } {
    return { live: 0, lingering: 0 };
  }

  shutdown(): void {
    this.subscription.unsubscribe();
    for (const reply of this.pending.values()) reply.reject(errorBody(ErrorCode.SHUTTING_DOWN, 'the gateway is shutting down'));
    this.pending.clear();
  }
}

function unavailable(object: string): ErrorBody {
  return { code: ErrorCode.OBJECT_UNAVAILABLE, name: 'UplinkError', message: `no object host serves ${object} now; retry` };
}

