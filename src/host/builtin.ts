/**
 * The built-in object every gateway serves under `$uplink` (Pyro's `Pyro.Daemon`): liveness,
 * gateway facts and discovery. Discovery goes through the host's access policy, so a caller only
 * learns about the objects and members it may use.
 */
import { callContext } from '../core/context.js';
import { ErrorCode, UplinkError } from '../errors.js';
import { expose } from './expose.js';
import type { LocalObjectHost } from './local-host.js';
import type { ObjectMetadata } from './members.js';

export interface GatewayFacts {
  server: string;
  protocolVersions: readonly number[];
  uptimeMs(): number;
}

export class BuiltinObject {
  constructor(
    private readonly host: LocalObjectHost,
    private readonly facts: GatewayFacts,
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
  @expose list(pattern?: string): string[] {
    if (pattern !== undefined && typeof pattern !== 'string') throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'list takes an optional pattern string');
    return this.host.list(callContext().identity, pattern);
  }

  /** Members of an object the caller may use, with their parameters. */
  @expose metadata(id: string): ObjectMetadata {
    if (typeof id !== 'string') throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'metadata takes an object id');
    return this.host.metadata(callContext().identity, id);
  }
}
