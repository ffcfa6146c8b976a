/**
 * Faults this fuzzer found that are not fixed yet (issue #26). With `--skip-known`, inputs that would
 * hit one are not sent (and counted), so that a run explores past them instead of restarting the
 * cluster every round. Without it (the default) they are sent like everything else. Remove an entry
 * when its fix lands: the fuzzer then guards against the regression.
 */
import type { FrameSpec } from './ws-frames.js';

/** A NATS message as it is about to be published. */
export interface OutgoingMessage { role: string; subject: string; reply?: string | undefined; headers: Array<[string, string]>; data: Uint8Array }

export interface KnownFault {
  id: string;
  /** The symptom and the minimal reproduction, as the fuzzer reported it. */
  what: string;
  ws?: (spec: FrameSpec) => boolean;
  nats?: (message: OutgoingMessage) => boolean;
}

/**
 * Empty: the seven faults this fuzzer found (a member name with a lone surrogate, annotations past
 * max_payload once in headers, malformed beats, `$SRV` replies aimed at heartbeat subjects, release-ref
 * keys, callback member encoding, callback host subjects) are fixed in src/nats (issue #26); the
 * fuzzer now guards against their return.
 */
export const KNOWN_FAULTS: KnownFault[] = [];

/** The known fault an input would hit, if any (only with --skip-known). */
export const knownWs = (spec: FrameSpec): string | undefined => KNOWN_FAULTS.find((k) => k.ws?.(spec))?.id;
export const knownNats = (m: OutgoingMessage): string | undefined => KNOWN_FAULTS.find((k) => k.nats?.(m))?.id;
