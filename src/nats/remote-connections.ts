/**
 * The gateways' connections as a host sees them: ids of the form `<gateway>/<connection>`, the
 * resources calls tracked for them (closed when the connection goes), and their session instances.
 * A gateway reports closed connections in batches; a gateway that stops beating has lost all of its
 * connections, so they are released here too.
 */
import { disposeResource, type ConnectionInfo, type Identity, type PeerChannel, type Resource } from '../core/context.js';
import type { LocalObjectHost } from '../host/local-host.js';
import type { Logger } from 'pino';

interface Remote { resources: Resource[]; peer: PeerChannel; logger: Logger | undefined }

export class RemoteConnections {
  /** Connection id → resources tracked for it and its way back (an entry exists once the connection called here). */
  private readonly connections = new Map<string, Remote>();

  constructor(
    private readonly host: LocalObjectHost,
    private readonly onDisposeError: (error: unknown) => void,
    /** The way back to a connection's client (callbacks), through its gateway. */
    private readonly peerOf: (id: string) => PeerChannel,
    /** The host's logger: user code's lines (callContext().log) carry the connection id. */
    private readonly logger?: Logger,
  ) {}

  get size(): number {
    return this.connections.size;
  }

  /** The connection as a call's context shows it. */
  info(id: string, remoteAddress: string, identity: Identity | undefined, wayBack = true): ConnectionInfo {
    let remote = this.connections.get(id);
    if (!remote) this.connections.set(id, (remote = { resources: [], peer: this.peerOf(id), logger: undefined }));
    const entry = remote;
    const parent = this.logger;
    return {
      id, remoteAddress, identity, peer: wayBack ? entry.peer : undefined, // without one, references are refused (host/references.ts)
      // Made on first use: a pino child costs tens of microseconds, and most calls never log.
      get logger() {
        return (entry.logger ??= parent?.child({ conn: id }));
      },
      track: (resource) => this.connections.get(id)?.resources.push(resource),
    };
  }

  /** The client let go of a reference (relayed by its gateway). */
  releaseReference(id: string, ref: string, received?: number): void {
    if (this.connections.has(id)) this.host.releaseReference({ id, remoteAddress: '', identity: undefined, track: () => {} }, ref, received);
  }

  release(id: string): void {
    const remote = this.connections.get(id);
    if (!remote) return;
    this.connections.delete(id);
    this.host.releaseConnection({ id, remoteAddress: '', identity: undefined, track: () => {} });
    for (const resource of remote.resources) void disposeResource(resource).then((error) => error && this.onDisposeError(error));
  }

  /** Every connection of a gateway that is gone. */
  releaseGateway(gateway: string): number {
    const prefix = `${gateway}/`;
    const ids = [...this.connections.keys()].filter((id) => id.startsWith(prefix));
    for (const id of ids) this.release(id);
    return ids.length;
  }

  /** Gateways with connections here. */
  gateways(): Set<string> {
    return new Set([...this.connections.keys()].map((id) => id.slice(0, id.indexOf('/'))));
  }
}
