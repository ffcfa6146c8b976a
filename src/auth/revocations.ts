/**
 * Revoked subjects and token ids. Revoking a subject refuses every token of it issued at or before
 * the revocation (a fresh login after it works); revoking a token id refuses that token until it
 * expires. Entries expire on their own, so the lists cannot grow without bound.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Identity } from '../core/context.js';

export interface RevocationTarget {
  subject?: string;
  tokenId?: string;
}

const SUBJECT_MEMORY_MS = 24 * 60 * 60 * 1000;

export class Revocations {
  /** subject -> revoked at (epoch ms) */
  private readonly subjects = new Map<string, number>();
  /** token id -> keep until (epoch ms) */
  private readonly tokens = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  add(target: RevocationTarget, tokenExpiresAt?: number): void {
    const now = this.clock.now();
    this.prune(now);
    if (target.subject !== undefined) this.subjects.set(target.subject, now);
    if (target.tokenId !== undefined) this.tokens.set(target.tokenId, tokenExpiresAt ?? now + SUBJECT_MEMORY_MS);
  }

  matches(target: RevocationTarget, identity: Identity | undefined): boolean {
    if (!identity) return false;
    return (target.subject !== undefined && identity.subject === target.subject) ||
      (target.tokenId !== undefined && identity.tokenId === target.tokenId);
  }

  isRevoked(identity: Identity | undefined): boolean {
    if (!identity) return false;
    if (identity.tokenId !== undefined && this.tokens.has(identity.tokenId)) return true;
    const revokedAt = this.subjects.get(identity.subject);
    if (revokedAt === undefined) return false;
    const issuedAt = typeof identity.claims.iat === 'number' ? identity.claims.iat * 1000 : 0;
    return issuedAt <= revokedAt;
  }

  private prune(now: number): void {
    for (const [id, until] of this.tokens) if (until < now) this.tokens.delete(id);
    for (const [sub, at] of this.subjects) if (at + SUBJECT_MEMORY_MS < now) this.subjects.delete(sub);
  }
}
