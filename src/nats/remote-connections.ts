/**
 * The gateways' connections as a host sees them: ids of the form `<gateway>/<connection>`, the
 * resources calls tracked for them (closed when the connection goes), and their session instances.
 * A gateway reports closed connections in batches; a gateway that stops beating has lost all of its
 * connections, so they are released here too.
 */
import { disposeResource, type ConnectionInfo, type Identity, type Resource } from '../core/context.js';
import type { LocalObjectHost } from '../host/local-host.js';

export class RemoteConnections {
  /** Connection id → resources tracked for it (an entry exists once the connection called here). */
  private readonly connections = new Map<string, Resource[]>();

  constructor(private readonly host: LocalObjectHost, private readonly onDisposeError: (error: unknown) => void) {}

  get size(): number {
    return this.connections.size;
  }

  /** The connection as a call's context shows it. */
  info(id: string, remoteAddress: string, identity: Identity | undefined): ConnectionInfo {
    if (!this.connections.has(id)) this.connections.set(id, []);
    return { id, remoteAddress, identity, track: (resource) => this.connections.get(id)?.push(resource) };
  }

  release(id: string): void {
    const resources = this.connections.get(id);
    if (!resources) return;
    this.connections.delete(id);
    this.host.releaseConnection({ id, remoteAddress: '', identity: undefined, track: () => {} });
    for (const resource of resources) void disposeResource(resource).then((error) => error && this.onDisposeError(error));
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
