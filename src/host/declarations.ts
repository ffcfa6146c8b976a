/**
 * What a host tells the rest of a cluster about an object it serves, as data: the members it exposes,
 * its access rule without check functions (scopes and roles are data; a function cannot leave the
 * process), and whether each connection gets its own instance. Gateways route and pre-check with it;
 * the host checks the whole rule again on every call.
 */
import type { AccessRule, ClaimNames } from '../auth/access.js';
import { defaultClaimNames } from '../auth/access.js';
import type { ObjectAccess } from '../auth/access.js';
import type { Registration } from './registry.js';

export interface ObjectDeclaration {
  id: string;
  members: string[];
  /** The declared rule and the claims it reads; absent when the object has no rule. */
  access?: { rule: ObjectAccess; claimNames: ClaimNames };
  /** One instance per connection: the scale-out pins a connection's calls to one host. */
  session: boolean;
}

const plainRule = ({ scopes, roles }: AccessRule): AccessRule => ({ ...(scopes ? { scopes: [...scopes] } : {}), ...(roles ? { roles: [...roles] } : {}) });

export function declareObject(registration: Registration, claimNames: ClaimNames = defaultClaimNames): ObjectDeclaration {
  const { id, access, mode } = registration;
  const declaration: ObjectDeclaration = { id, members: [...registration.members.keys()], session: mode === 'session' };
  if (access) {
    const members = access.members && Object.fromEntries(Object.entries(access.members).map(([name, rule]) => [name, plainRule(rule)]));
    declaration.access = { rule: { ...plainRule(access), ...(members ? { members } : {}) }, claimNames };
  }
  return declaration;
}
