/**
 * Objects registered here are served here; every other object goes to `remote` (object hosts in
 * other processes, e.g. on NATS). Stream resumes try here first: a key is unique to its host. A
 * reference goes where it was handed out (client callbacks live with the connection's host tables).
 */
import type { ConnectionInfo, Identity } from '../core/context.js';
import { refOfTarget } from '../protocol/refs.js';
import type { LocalObjectHost } from './local-host.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from './object-host.js';

export class RoutingObjectHost implements ObjectHost {
  constructor(private readonly local: LocalObjectHost, private readonly remote: ObjectHost) {}

  /** A registered object, or a reference this host handed to the call's connection, is served here. */
  private hostOf(call: HostCall): ObjectHost {
    const ref = refOfTarget(call.object);
    const here = ref === undefined ? this.local.has(call.object) : this.local.holdsReference(call.context.connection, ref);
    return here ? this.local : this.remote;
  }

  invoke(call: HostCall, reply: ReplySink): void {
    this.hostOf(call).invoke(call, reply);
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    return this.hostOf(call).openStream(call, upTo, sink);
  }

  releaseReference(connection: ConnectionInfo, ref: string, received?: number): void {
    if (this.local.holdsReference(connection, ref)) this.local.releaseReference(connection, ref, received);
    else this.remote.releaseReference(connection, ref, received);
  }

  resumeStream(key: string, identity: Identity | undefined, ack: number, upTo: number, sink: StreamSink): StreamControl | undefined {
    return this.local.resumeStream(key, identity, ack, upTo, sink) ?? this.remote.resumeStream(key, identity, ack, upTo, sink);
  }

  releaseConnection(connection: ConnectionInfo): void {
    this.local.releaseConnection(connection);
    this.remote.releaseConnection(connection);
  }

  endStreams(matches: (owner: Identity | undefined) => boolean, reason: string): number {
    return this.local.endStreams(matches, reason) + this.remote.endStreams(matches, reason);
  }

  streamStats(): { live: number; lingering: number } {
    const a = this.local.streamStats();
    const b = this.remote.streamStats();
    return { live: a.live + b.live, lingering: a.lingering + b.lingering };
  }

  knowsObject(id: string): boolean {
    return this.local.has(id) || (this.remote.knowsObject?.(id) ?? false);
  }

  knowsMember(id: string, member: string): boolean {
    return this.local.has(id) ? this.local.knowsMember(id, member) : (this.remote.knowsMember?.(id, member) ?? false);
  }

  shutdown(): void {
    this.local.shutdown();
    this.remote.shutdown();
  }
}
