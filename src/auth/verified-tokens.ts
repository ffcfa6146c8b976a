/**
 * Tokens jose has already verified, so that the same token again (a reconnect storm, a page with many
 * tabs, a load balancer moving clients) skips the signature check, which for HMAC tokens costs an
 * asynchronous WebCrypto job on Node 20.
 *
 * Invariants: an entry is keyed by the whole token text (any changed byte is another key, verified in
 * full); it is never used at or after the token's `exp` (no clock tolerance here: jose decides those
 * cases), after `iat` + the maximum token age, or `ttlMs` after it was verified (a key removed from a
 * JWKS stops being trusted within that time); at most `max` entries, oldest dropped first. Revocation
 * is not cached: the gateway checks it on every use.
 */
import type { Identity } from '../core/context.js';

/** What a verified token stands for: an identity, or (identity assertions) an identity and its connection. */
export class VerifiedTokens<T = Identity> {
  private readonly entries = new Map<string, { identity: T; until: number }>();

  constructor(private readonly max: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (this.now() >= entry.until) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.identity;
  }

  /** Remembers a verified token until `validUntil` (epoch ms), or ttlMs from now if that is sooner. */
  set(token: string, identity: T, validUntil: number): void {
    const until = Math.min(validUntil, this.now() + this.ttlMs);
    if (until <= this.now()) return;
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, { identity, until });
  }

  get size(): number {
    return this.entries.size;
  }
}
