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

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const REF_ID = /^(c[A-Za-z0-9_-]{1,63}|s[A-Za-z0-9_-]{16,127})$/;
const header = (m: OutgoingMessage, name: string): string | undefined => m.headers.find(([k]) => k === name)?.[1];

function json(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A beat a gateway's HostTable takes as it is: objects an array of strings, access rules of the declared shape. */
function wellFormedBeat(beat: unknown): boolean {
  if (typeof beat !== 'object' || beat === null || typeof (beat as { id?: unknown }).id !== 'string') return true; // dropped before the table
  const { objects, access } = beat as { objects?: unknown; access?: unknown };
  if (!Array.isArray(objects) || !objects.every((o) => typeof o === 'string')) return false;
  if (access === undefined || access === null) return true;
  if (typeof access !== 'object') return false;
  return Object.values(access).every((d) => {
    const { rule, claimNames } = (d ?? {}) as { rule?: { scopes?: unknown; roles?: unknown }; claimNames?: unknown };
    return typeof claimNames === 'object' && claimNames !== null && (rule === null || rule === undefined || typeof rule !== 'object' || [rule.scopes, rule.roles].every((l) => l === undefined || Array.isArray(l)));
  });
}

export const KNOWN_FAULTS: KnownFault[] = [
  {
    id: 'ws-member-lone-surrogate',
    what: 'a call to a NATS-routed object whose member name holds a lone surrogate kills the gateway (encodeURIComponent throws URIError in callHeaders)',
    ws: (spec) => [spec.header?.m, ...((spec.header?.calls as Array<{ m?: unknown }> | undefined) ?? []).map((c) => c.m)].some((m) => typeof m === 'string' && LONE_SURROGATE.test(m)),
  },
  {
    id: 'ws-near-limit-annotations',
    what: 'a call that fits maxPayload over WebSocket but not max_payload on NATS once its annotations are re-encoded in Uplink-Context kills the gateway (publish throws MaxPayloadExceeded)',
    ws: (spec) => spec.kind === 'near-limit' && (spec.fill ?? 0) >= 0 && JSON.stringify(spec.header?.ann ?? {}).length > 8_192,
  },
  {
    id: 'nats-beat-shape',
    what: 'a host beat whose objects is not an array kills the NATS reader of every gateway (HostTable.beat throws in the subscription callback), or crashes it on the next call (HostTable.index); one with access rules of another shape crashes a gateway on the next call to that object (accessAllows)',
    nats: (m) => m.subject.startsWith('uplink.evt.host.') && !wellFormedBeat(json(m.data)),
  },
  {
    id: 'nats-srv-reply-to-host-events',
    what: 'an ops $SRV request whose reply subject is uplink.evt.host.<host> makes the host answer there: every gateway takes the answer for a beat without objects (as nats-beat-shape)',
    nats: (m) => m.role === 'ops' && (m.reply ?? '').startsWith('uplink.evt.host.'),
  },
  {
    id: 'nats-release-ref-key',
    what: 'a host\'s release-ref on _U.<gateway>._cb naming a live connection with an Uplink-Key that is not a reference id kills the gateway\'s NATS reader (writeRelease throws)',
    nats: (m) => m.subject.endsWith('._cb') && header(m, 'Uplink-Op') === 'release-ref' && !REF_ID.test(header(m, 'Uplink-Key') ?? ''),
  },
  {
    id: 'nats-callback-member-encoding',
    what: 'a host\'s callback on _U.<gateway>._cb naming a live connection with an Uplink-Member that is not valid percent-encoding kills the gateway\'s NATS reader (decodeURIComponent throws)',
    nats: (m) => m.subject.endsWith('._cb') && header(m, 'Uplink-Op') === 'callback' && !validPercentEncoding(header(m, 'Uplink-Member') ?? ''),
  },
  {
    id: 'nats-callback-host-subject',
    what: 'a host\'s callback on _U.<gateway>._cb whose Uplink-Host is not a subject token (a space, empty) makes the gateway publish its answer to an illegal subject: nats.js throws, in the subscription callback (the NATS reader dies) or in the answer\'s promise',
    nats: (m) => m.subject.endsWith('._cb') && header(m, 'Uplink-Op') === 'callback' && !/^[^\s.*>]+$/.test(header(m, 'Uplink-Host') ?? ''),
  },
];

function validPercentEncoding(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/** The known fault an input would hit, if any (only with --skip-known). */
export const knownWs = (spec: FrameSpec): string | undefined => KNOWN_FAULTS.find((k) => k.ws?.(spec))?.id;
export const knownNats = (m: OutgoingMessage): string | undefined => KNOWN_FAULTS.find((k) => k.nats?.(m))?.id;
