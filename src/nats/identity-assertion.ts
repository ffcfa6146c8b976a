/**
 * Hosts need not believe a gateway's word for who is calling. With cluster keys configured, each
 * gateway signs a short-lived assertion of the caller's identity, bound to the connection it came in
 * on (`Uplink-Assertion`: a compact JWT, EdDSA), and hosts verify it with jose before running
 * anything. A NATS user holding the gateway credential but not the signing key cannot make a host run
 * code as anyone (docs/security.md, "Cluster trust").
 *
 * Why an assertion and not the caller's own token: every host would then see every user's bearer
 * token, usable at any gateway; an assertion is usable only by hosts (audience), only for one
 * connection id, and for ASSERTION_TTL_SEC.
 *
 * Invariants: a gateway signs at most once per connection and identity per half-life (signing is
 * synchronous: node:crypto's Ed25519, the JWS jose verifies); a host verifies each distinct assertion
 * once (cached until its expiry) and checks revocations on every call.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { jwtVerify } from 'jose';
import { VerifiedTokens } from '../auth/verified-tokens.js';
import type { Revocations } from '../auth/revocations.js';
import type { Clock } from '../clock.js';
import type { Identity } from '../core/context.js';
import { ErrorCode, UplinkError } from '../protocol/errors.js';

export const ASSERTION_TTL_SEC = 120;
const AUDIENCE = 'uplink-host';
const ISSUER = 'uplink-gateway';
const HEADER = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'uplink-assertion+jwt' })).toString('base64url');

/** Loads an Ed25519 private key (PKCS#8 PEM) for gateways. */
export function signingKeyFromFile(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: the cluster signing key must be an Ed25519 private key`);
  return key;
}

/** Loads the matching public key (SPKI PEM, or the private key itself) for hosts. */
export function verifyKeyFromFile(path: string): KeyObject {
  const key = createPublicKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path}: the cluster verify key must be an Ed25519 public key`);
  return key;
}

interface Signed { identity: Identity | undefined; token: string; renewAt: number }

export class AssertionSigner {
  private readonly signed = new Map<string, Signed>();

  constructor(private readonly key: KeyObject, private readonly clock: Clock) {}

  /**
   * The assertion for a call on `connection` (its cluster-wide id) by `identity` (undefined:
   * anonymous); `remember`: kept for the connection's next calls (a resume binds a one-off reply subject).
   */
  assertion(connection: string, identity: Identity | undefined, remember = true): string {
    const now = this.clock.now();
    const known = remember ? this.signed.get(connection) : undefined;
    if (known && known.identity === identity && now < known.renewAt) return known.token;
    const iat = Math.floor(now / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, iat, exp: iat + ASSERTION_TTL_SEC, cnx: connection, idt: identity ?? null };
    const input = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const token = `${input}.${sign(null, Buffer.from(input), this.key).toString('base64url')}`;
    if (remember) this.signed.set(connection, { identity, token, renewAt: now + (ASSERTION_TTL_SEC * 1000) / 2 });
    return token;
  }

  forget(connection: string): void {
    this.signed.delete(connection);
  }

  /** A signature of a gateway event (closed connections, released references) over its subject and payload. */
  signEvent(subject: string, data: Uint8Array): string {
    return sign(null, eventBytes(subject, data), this.key).toString('base64url');
  }
}

/** What an event signature covers: the subject (which names the gateway), a newline, the payload. */
function eventBytes(subject: string, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${subject}\n`), data]);
}

interface Asserted { connection: string; identity: Identity | undefined }

export class AssertionVerifier {
  private readonly verified: VerifiedTokens<Asserted>;

  constructor(private readonly key: KeyObject, private readonly revocations: Revocations, private readonly clock: Clock) {
    this.verified = new VerifiedTokens<Asserted>(10_000, ASSERTION_TTL_SEC * 1000, () => clock.now());
  }

  /** Whether a gateway event was signed by a gateway of the cluster (synchronous: events are few). */
  eventSigned(subject: string, data: Uint8Array, signature: string | undefined): boolean {
    if (!signature || signature.length > 128) return false;
    try {
      return verify(null, eventBytes(subject, data), this.key, Buffer.from(signature, 'base64url'));
    } catch {
      return false;
    }
  }

  /** The identity a valid assertion for `connection` carries; rejects with UNAUTHENTICATED otherwise. */
  async identity(assertion: string | undefined, connection: string): Promise<Identity | undefined> {
    if (!assertion || assertion.length > 16_384) throw refused('a call without a valid identity assertion');
    const { connection: boundTo, identity } = this.verified.get(assertion) ?? await this.verify(assertion);
    if (boundTo !== connection) throw refused('the identity assertion is for another connection');
    if (this.revocations.isRevoked(identity)) throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'token revoked', { reason: 'ERR_TOKEN_REVOKED' });
    return identity;
  }

  private async verify(assertion: string): Promise<Asserted> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(assertion, this.key, {
        algorithms: ['EdDSA'], audience: AUDIENCE, issuer: ISSUER, requiredClaims: ['exp', 'iat'], currentDate: new Date(this.clock.now()), clockTolerance: 5,
      }));
    } catch {
      throw refused('an identity assertion that does not verify');
    }
    const identity = payload.idt === null ? undefined : payload.idt;
    if (typeof payload.cnx !== 'string' || !(identity === undefined || isIdentity(identity))) throw refused('a malformed identity assertion');
    const entry: Asserted = { connection: payload.cnx, identity };
    this.verified.set(assertion, entry, (payload.exp as number) * 1000);
    return entry;
  }
}

function isIdentity(value: unknown): value is Identity {
  const v = value as Identity;
  return typeof v === 'object' && v !== null && typeof v.subject === 'string' && typeof v.claims === 'object' && v.claims !== null;
}

function refused(message: string): UplinkError {
  return new UplinkError(ErrorCode.UNAUTHENTICATED, message, { reason: 'ERR_ASSERTION_INVALID' });
}
