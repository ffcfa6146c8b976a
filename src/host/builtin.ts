/**
 * The built-in object every gateway serves under `$uplink` (Pyro's `Pyro.Daemon`): liveness,
 * gateway facts and discovery. Discovery goes through the host's access policy, so a caller only
 * learns about the objects and members it may use.
 */
import { callContext } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import { expose } from './expose.js';
import type { LocalObjectHost } from './local-host.js';
import type { ObjectMetadata } from './members.js';
import type { RemoteObjectHost } from './remote-object-host.js';

export interface GatewayFacts {
  server: string;
  protocolVersions: readonly number[];
  uptimeMs(): number;
}

export class BuiltinObject {
  constructor(
    private readonly host: LocalObjectHost,
    private readonly facts: GatewayFacts,
    /** Objects on hosts in other processes (a cluster): listed and described with the local ones. */
    private readonly remote?: Pick<RemoteObjectHost, 'listObjects' | 'describeObject'>,
  ) {}

  @expose ping(): 'pong' {
    return 'pong';
  }

  @expose info(): { server: string; protocolVersions: readonly number[]; uptimeMs: number; connection: string; subject: string | null } {
    const ctx = callContext();
    return {
      server: this.facts.server,
      protocolVersions: this.facts.protocolVersions,
      uptimeMs: this.facts.uptimeMs(),
      connection: ctx.connection.id,
      subject: ctx.identity?.subject ?? null,
    };
  }

  /** Object ids, optionally filtered by a prefix or a `*` pattern. */
  @expose list(pattern?: string): string[] | Promise<string[]> {
    if (pattern !== undefined && typeof pattern !== 'string') throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'list takes an optional pattern string');
    const identity = callContext().identity;
    const local = this.host.list(identity, pattern);
    if (!this.remote) return local;
    return this.remote.listObjects(identity, pattern).then((remote) => [...new Set([...local, ...remote])].sort());
  }

  /** Members of an object the caller may use, with their parameters. */
  @expose metadata(id: string): ObjectMetadata | Promise<ObjectMetadata> {
    if (typeof id !== 'string') throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'metadata takes an object id');
    const identity = callContext().identity;
    if (!this.remote || this.host.has(id)) return this.host.metadata(identity, id);
    return this.remote.describeObject(identity, id).then((metadata) => {
      if (!metadata) throw new UplinkError(ErrorCode.UNKNOWN_OBJECT, `unknown object '${id}'`);
      return metadata;
    });
  }
}
