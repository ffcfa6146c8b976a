/**
 * Development tokens: HS256 JWTs signed with the configured dev secret, for `npm run token` and the
 * demo's token endpoint. Never a production sign-in.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export interface DevTokenClaims {
  sub: string;
  /** Space-separated scopes. */
  scope?: string;
  roles?: string[];
  ttlSec: number;
  issuer?: string;
  audience?: string;
}

export async function mintDevToken(secret: string, claims: DevTokenClaims): Promise<string> {
  const jwt = new SignJWT({ ...(claims.scope ? { scope: claims.scope } : {}), ...(claims.roles?.length ? { roles: claims.roles } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + claims.ttlSec);
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** Parses durations like 90, 90s, 15m, 1h, 7d into seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration '${text}' (use 90, 90s, 15m, 1h or 7d)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
