/**
 * Per-object and per-method authorization from token claims. A rule passes when the caller holds
 * every listed scope, at least one listed role (when roles are listed), and the check function (when
 * given) returns true. The object's rule applies to all its members and to seeing it at all; a
 * method's rule applies on top.
 */
import type { Identity } from '../core/context.js';

export interface AccessRule {
  /** All of these scopes are required (read from the scope claim: a space-separated string or an array). */
  scopes?: readonly string[];
  /** At least one of these roles is required (read from the roles claim). */
  roles?: readonly string[];
  check?: (claims: Readonly<Record<string, unknown>>, object: string, member: string | undefined) => boolean;
}

export interface ObjectAccess extends AccessRule {
  /** Extra rules for single members. */
  members?: Readonly<Record<string, AccessRule>>;
}

export interface ClaimNames {
  scope: string;
  roles: string;
}

export const defaultClaimNames: ClaimNames = { scope: 'scope', roles: 'roles' };

function claimList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function rulePasses(rule: AccessRule, identity: Identity | undefined, names: ClaimNames, object: string, member: string | undefined): boolean {
  const claims = identity?.claims ?? {};
  if (rule.scopes?.length) {
    const held = new Set(claimList(claims[names.scope]));
    if (!rule.scopes.every((s) => held.has(s))) return false;
  }
  if (rule.roles?.length) {
    const held = new Set(claimList(claims[names.roles]));
    if (!rule.roles.some((r) => held.has(r))) return false;
  }
  return rule.check ? rule.check(claims, object, member) === true : true;
}

/** Whether the identity may use the object (member undefined: see it at all) or one of its members. */
export function accessAllows(access: ObjectAccess | undefined, identity: Identity | undefined, names: ClaimNames, object: string, member: string | undefined): boolean {
  if (!access) return true;
  if (!rulePasses(access, identity, names, object, member)) return false;
  const memberRule = member === undefined ? undefined : access.members?.[member];
  return memberRule ? rulePasses(memberRule, identity, names, object, member) : true;
}
