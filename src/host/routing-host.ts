/**
 * Objects registered here are served here; every other object goes to `remote` (object hosts in
 * other processes, e.g. on NATS). Stream resumes try here first: a key is unique to its host.
 */
import type { ConnectionInfo, Identity } from '../core/context.js';
import type { LocalObjectHost } from './local-host.js';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from './object-host.js';

export class RoutingObjectHost implements ObjectHost {
  constructor(private readonly local: LocalObjectHost, private readonly remote: ObjectHost) {}

  private hostOf(object: string): ObjectHost {
    return this.local.has(object) ? this.local : this.remote;
  }

  invoke(call: HostCall, reply: ReplySink): void {
    this.hostOf(call.object).invoke(call, reply);
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    return this.hostOf(call.object).openStream(call, upTo, sink);
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

  shutdown(): void {
    this.local.shutdown();
    this.remote.shutdown();
  }
}
