/**
 * A host's heartbeat (`uplink.evt.host.<id>`) as gateways read it. Anything on that subject is
 * checked here before it is believed: a participant may publish garbage there, or a host may be made
 * to answer a request onto it. A message that is not a well-formed beat whose id is the subject's
 * token is dropped, never half-applied.
 *
 * Invariants: every field has its type and a bound (object ids are subject tokens, at most
 * MAX_OBJECTS of them, member names at most MAX_MEMBERS per object); the parsed beat holds only
 * fresh plain data, none of the message's own objects.
 */
import type { AccessRule, ClaimNames, ObjectAccess } from '../auth/access.js';
import { MAX_NAME_LENGTH } from '../protocol/frames.js';
import { bytesJson, isNodeId, Subject } from './envelope.js';

export type HostState = 'up' | 'draining' | 'gone';

/** The heartbeat a host publishes. */
export interface HostBeat {
  id: string;
  name: string;
  state: HostState;
  /** Object ids it serves. */
  objects: string[];
  /** Calls and streams running there. */
  calls: number;
  streams: number;
  /** Times its NATS connection came back: frames it sent in between may be lost (the gateway re-attaches). */
  reconnects: number;
  /** Declared access rules of its objects (scopes and roles; the host checks its functions itself). */
  access?: Record<string, { rule: ObjectAccess; claimNames: ClaimNames }>;
  /** The members each object exposes (metrics label only names a host declared). */
  members?: Record<string, string[]>;
}

export const MAX_OBJECTS = 4_096;
export const MAX_MEMBERS = 1_024;
const MAX_RULE_NAMES = 64;
const STATES: ReadonlySet<string> = new Set(['up', 'draining', 'gone']);

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;

/** The beat in `data` published on `subject`, or undefined when it is not one. */
export function parseHostBeat(subject: string, data: Uint8Array): HostBeat | undefined {
  let raw: unknown;
  try {
    raw = bytesJson(data);
  } catch {
    return undefined;
  }
  if (!isRecord(raw) || !isNodeId(raw.id) || subject !== Subject.hostEvents(raw.id)) return undefined;
  if (!isName(raw.name) || typeof raw.state !== 'string' || !STATES.has(raw.state)) return undefined;
  if (!isCount(raw.calls) || !isCount(raw.streams) || !isCount(raw.reconnects)) return undefined;
  const objects = objectIds(raw.objects);
  if (!objects) return undefined;
  const served = new Set(objects);
  const beat: HostBeat = { id: raw.id, name: raw.name, state: raw.state as HostState, objects, calls: raw.calls, streams: raw.streams, reconnects: raw.reconnects };
  if (raw.access !== undefined) {
    const access = accessRules(raw.access, served);
    if (!access) return undefined;
    beat.access = access;
  }
  if (raw.members !== undefined) {
    const members = memberLists(raw.members, served);
    if (!members) return undefined;
    beat.members = members;
  }
  return beat;
}

function objectIds(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_OBJECTS) return undefined;
  const ids: string[] = [];
  for (const id of value) {
    if (typeof id !== 'string' || !Subject.call(id)) return undefined;
    ids.push(id);
  }
  return ids;
}

function names(value: unknown, max: number): string[] | undefined {
  if (!Array.isArray(value) || value.length > max || !value.every(isName)) return undefined;
  return [...(value as string[])];
}

function rule(value: unknown): AccessRule | undefined {
  if (!isRecord(value)) return undefined;
  const out: { scopes?: string[]; roles?: string[] } = {};
  for (const key of ['scopes', 'roles'] as const) {
    if (value[key] === undefined) continue;
    const list = names(value[key], MAX_RULE_NAMES);
    if (!list) return undefined;
    out[key] = list;
  }
  return out;
}

function objectAccess(value: unknown): ObjectAccess | undefined {
  const base = rule(value);
  if (!base || !isRecord(value)) return undefined;
  if (value.members === undefined) return base;
  if (!isRecord(value.members) || Object.keys(value.members).length > MAX_MEMBERS) return undefined;
  const members: Record<string, AccessRule> = Object.create(null) as Record<string, AccessRule>;
  for (const [name, memberRule] of Object.entries(value.members)) {
    const parsed = isName(name) ? rule(memberRule) : undefined;
    if (!parsed) return undefined;
    members[name] = parsed;
  }
  return { ...base, members };
}

/** Access rules, only for objects the beat serves. */
function accessRules(value: unknown, served: ReadonlySet<string>): HostBeat['access'] | undefined {
  if (!isRecord(value)) return undefined;
  const out: NonNullable<HostBeat['access']> = Object.create(null) as NonNullable<HostBeat['access']>;
  for (const [object, declared] of Object.entries(value)) {
    if (!served.has(object) || !isRecord(declared) || !isRecord(declared.claimNames)) return undefined;
    const { scope, roles } = declared.claimNames;
    const access = objectAccess(declared.rule);
    if (!access || !isName(scope) || !isName(roles)) return undefined;
    out[object] = { rule: access, claimNames: { scope, roles } };
  }
  return out;
}

function memberLists(value: unknown, served: ReadonlySet<string>): HostBeat['members'] | undefined {
  if (!isRecord(value)) return undefined;
  const out: NonNullable<HostBeat['members']> = Object.create(null) as NonNullable<HostBeat['members']>;
  for (const [object, list] of Object.entries(value)) {
    const parsed = served.has(object) ? names(list, MAX_MEMBERS) : undefined;
    if (!parsed) return undefined;
    out[object] = parsed;
  }
  return out;
}
