/**
 * Who may connect, and stay connected: token verification, revocation, the handshake hook and the
 * per-subject connection cap. One path admits every identity (upgrade, hello and refresh), so a
 * check added here holds everywhere.
 */
import type { Authenticator, HandshakeInfo } from '../auth/authenticator.js';
import { Revocations, type RevocationTarget } from '../auth/revocations.js';
import type { Clock } from '../clock.js';
import type { Identity } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';

export class Admission {
  private readonly revocations: Revocations;
  /** Open connections per subject (only kept when a cap is set). */
  private readonly perSubject = new Map<string, number>();
  private readonly hook: ((info: HandshakeInfo) => Promise<void>) | undefined;

  constructor(
    private readonly authenticator: Authenticator,
    /** Open connections per subject (0: no cap). */
    private readonly maxConnectionsPerSubject: number,
    validateHandshake: ((info: HandshakeInfo) => void | Promise<void>) | undefined,
    clock: Clock,
  ) {
    this.revocations = new Revocations(clock);
    this.hook = validateHandshake && handshakeHook(validateHandshake);
  }

  /** Verifies a token and refuses revoked ones (the part of admission that can run at upgrade). */
  async verifyToken(token: string | undefined, info: HandshakeInfo): Promise<Identity | undefined> {
    const identity = await this.authenticator.authenticate(token, info);
    if (this.revocations.isRevoked(identity)) throw revoked();
    return identity;
  }

  /**
   * Admits an identity: verifies the token (unless the upgrade did: `verified`), runs `check` on the
   * result, refuses revoked identities, then runs the handshake hook. Rejects with the refusal.
   */
  async admitIdentity(token: string | undefined, info: HandshakeInfo, verified?: Identity, check?: (identity: Identity | undefined) => void): Promise<Identity | undefined> {
    const identity = verified ?? await this.verifyToken(token, info);
    check?.(identity);
    // Verified at upgrade: a revocation may have come in between.
    if (verified && this.revocations.isRevoked(identity)) throw revoked();
    if (this.hook) await this.hook({ ...info, identity });
    return identity;
  }

  /** Counts a connection against its subject's cap; false when the cap is reached. */
  admitSubject(identity: Identity | undefined): boolean {
    const key = subjectKey(identity);
    if (this.maxConnectionsPerSubject === 0 || key === undefined) return true;
    const count = this.perSubject.get(key) ?? 0;
    if (count >= this.maxConnectionsPerSubject) return false;
    this.perSubject.set(key, count + 1);
    return true;
  }

  releaseSubject(identity: Identity | undefined): void {
    const key = subjectKey(identity);
    const count = key === undefined ? undefined : this.perSubject.get(key);
    if (count === undefined) return;
    if (count <= 1) this.perSubject.delete(key as string);
    else this.perSubject.set(key as string, count - 1);
  }

  /** Refuses the target's tokens from now on (`tokenExpiresAt`: how long a token id must be remembered). */
  revoke(target: RevocationTarget, tokenExpiresAt: number | undefined): void {
    this.revocations.add(target, tokenExpiresAt);
  }

  /** Whether an identity falls under a revocation target. */
  matches(target: RevocationTarget, identity: Identity | undefined): boolean {
    return this.revocations.matches(target, identity);
  }
}

/** What a refreshed token must keep: the subject and issuer, and an expiry no earlier than the current one. */
export function refreshCheck(previous: Identity | undefined): (candidate: Identity | undefined) => void {
  return (candidate) => {
    if (!candidate || candidate.subject !== previous?.subject || candidate.issuer !== previous?.issuer) {
      throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'a refreshed token must have the same subject and issuer', { reason: 'ERR_SUBJECT_CHANGED' });
    }
    if ((candidate.expiresAt ?? Infinity) < (previous.expiresAt ?? 0)) {
      throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'a refreshed token must not expire before the current one', { reason: 'ERR_EXPIRY_SHORTENED' });
    }
  };
}

function revoked(): UplinkError {
  return new UplinkError(ErrorCode.UNAUTHENTICATED, 'token revoked', { reason: 'ERR_TOKEN_REVOKED' });
}

/** A subject is only unique within its issuer. */
function subjectKey(identity: Identity | undefined): string | undefined {
  return identity === undefined ? undefined : `${identity.issuer ?? ''}\u0000${identity.subject}`;
}

/** The handshake hook as admission calls it: whatever it throws refuses the client with FORBIDDEN (4403). */
function handshakeHook(hook: (info: HandshakeInfo) => void | Promise<void>): (info: HandshakeInfo) => Promise<void> {
  return async (info) => {
    try {
      await hook(info);
    } catch (error) {
      throw error instanceof UplinkError ? error : new UplinkError(ErrorCode.FORBIDDEN, error instanceof Error ? error.message : 'refused by the handshake hook');
    }
  };
}
