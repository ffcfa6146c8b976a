/**
 * The settings of a LocalObjectHost from the gateway's resolved options: the gateway's own registry
 * and an object host process (`uplink host`) build their hosts the same way, so limits, stream
 * settings and error handling do not drift between one process and a cluster.
 */
import type { Clock } from '../clock.js';
import type { LocalHostOptions } from '../host/local-host.js';
import type { HostCall } from '../host/object-host.js';
import type { Codec } from '../protocol/codec.js';
import type { GatewayOptions } from './config.js';
import type { ResolvedOptions } from './connection/connection-environment.js';

/** The gateway options an object host reads. */
export type HostLimits = Pick<ResolvedOptions,
  'maxArgs' | 'maxResultBytes' | 'streamLifetimeMs' | 'streamIdleMs' | 'streamLingerMs' | 'streamMaxUnacked' | 'streamMaxBatch' |
  'streamHighWaterMark' | 'streamMaxReplayBytes' | 'maxStreamsPerSubject' | 'maxStreamsTotal' | 'maxRefsPerConnection' | 'callbackTimeoutMs'> & { debugErrors: boolean };

export function localHostOptions(
  options: HostLimits, codec: Codec, clock: Clock, hooks: Pick<GatewayOptions, 'authorize' | 'claimNames'>,
  onError: (error: unknown, call: HostCall) => void,
): LocalHostOptions {
  return {
    codec,
    clock,
    maxArgs: options.maxArgs,
    maxResultBytes: options.maxResultBytes,
    authorize: hooks.authorize,
    claimNames: hooks.claimNames,
    streamLimits: {
      lifetimeMs: options.streamLifetimeMs, idleMs: options.streamIdleMs, lingerMs: options.streamLingerMs,
      maxUnacked: options.streamMaxUnacked, maxBatch: options.streamMaxBatch,
      frameBytes: Math.max(1024, Math.floor(options.streamHighWaterMark / 4)),
      maxFrameBytes: options.maxResultBytes,
      maxReplayBytes: options.streamMaxReplayBytes,
    },
    streamCaps: { maxPerOwner: options.maxStreamsPerSubject, maxTotal: options.maxStreamsTotal },
    references: { maxRefs: options.maxRefsPerConnection, callbackTimeoutMs: options.callbackTimeoutMs },
    debugErrors: options.debugErrors,
    onError,
  };
}
