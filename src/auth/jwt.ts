/**
 * JWT authentication with jose (no hand-written JWT parsing or crypto).
 *
 * Invariants: the algorithm allow-list is explicit and never contains `none`; `exp` and `sub` are
 * required; issuer and audience are checked when configured; the key source (secret, public key or
 * JWKS URL) comes from configuration only, never from a token. jose itself refuses HS/RS confusion
 * (an HMAC algorithm never verifies with a public key, an RSA one never with a secret).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, customFetch, importJWK, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ErrorCode, UplinkError } from '../protocol/errors.js';
import type { Identity } from '../core/context.js';
import type { Authenticator } from './authenticator.js';
import { VerifiedTokens } from './verified-tokens.js';

const ALLOWED_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

export interface JwtOptions {
  /** Algorithms accepted, for example ['HS256'] in development, ['RS256', 'ES256', 'EdDSA'] in production. */
  algorithms: string[];
  /** Shared secret for HS* algorithms (at least 32 bytes). */
  secret?: string | Uint8Array;
  /** Public key for RS* / PS* / ES* / EdDSA: PEM (SPKI) text or a JWK object. */
  publicKey?: string | JsonWebKey;
  /** A JWKS endpoint: keys are fetched, cached and refreshed on rotation. */
  jwksUrl?: string;
  /** After a fetch, no other fetch for this long (an unknown `kid` cannot cause a refetch storm). */
  jwksCooldownMs?: number;
  jwksCacheMaxAgeMs?: number;
  jwksTimeoutMs?: number;
  issuer?: string;
  audience?: string | string[];
  /** Seconds of clock skew tolerated on exp and nbf. */
  clockToleranceSec?: number;
  /** Longer tokens are refused before any parsing. */
  maxTokenLength?: number;
  /** Required `typ` header (RFC 8725 explicit typing, e.g. 'at+jwt'), so ID or refresh tokens are refused. */
  tokenType?: string;
  /** Refuse tokens whose `iat` is older than this many seconds (then `iat` is required). */
  maxTokenAgeSec?: number;
  /**
   * Tokens already verified are accepted again without a signature check until their expiry, at most
   * `ttlMs` (default 60 s) after verification; at most `max` (default 10,000) kept. `false`: verify
   * every time. Revocation is checked on every use regardless (verified-tokens.ts).
   */
  verifiedTokenCache?: { max?: number; ttlMs?: number } | false;
  /** Time for the verified-token cache (tests). */
  now?: () => number;
}

type VerifyKey = JWTVerifyGetKey;
type RemoteKeys = ReturnType<typeof createRemoteJWKSet>;
/** jose codes that mean the token is bad, not that the key source is unavailable. */
const TOKEN_FAULTS = /^ERR_(JWKS_NO_MATCHING_KEY|JWKS_MULTIPLE_MATCHING_KEYS|JWS|JWT|JOSE_ALG)/;

export class JwtAuthenticator implements Authenticator {
  private readonly key: VerifyKey;
  readonly clockToleranceSec: number;
  private readonly maxTokenLength: number;
  private readonly remoteKeys: RemoteKeys | undefined;
  /** Why the last fetch of remote keys failed; undefined once one succeeds. */
  private keySourceFault: string | undefined;
  private readonly keyFetchListeners: Array<(ok: boolean) => void> = [];
  private readonly verified: VerifiedTokens | undefined;

  constructor(private readonly options: JwtOptions) {
    if (!options.algorithms?.length) throw new TypeError('JWT authentication needs an explicit algorithm allow-list');
    for (const alg of options.algorithms) {
      if (!ALLOWED_ALGORITHMS.has(alg)) throw new TypeError(`algorithm '${alg}' is not allowed (never 'none')`);
    }
    const sources = [options.secret, options.publicKey, options.jwksUrl].filter((s) => s !== undefined).length;
    if (sources !== 1) throw new TypeError('configure exactly one of secret, publicKey or jwksUrl');
    if (options.jwksUrl !== undefined) {
      this.remoteKeys = createRemoteJWKSet(new URL(options.jwksUrl), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
        // Every fetch jose makes goes through here, so that fetches and their failures can be counted.
        [customFetch]: async (...args: Parameters<typeof fetch>) => {
          try {
            const response = await fetch(...args);
            this.keyFetched(response.ok);
            return response;
          } catch (error) {
            this.keyFetched(false);
            throw error;
          }
        },
      });
    }
    this.key = this.buildKey();
    this.clockToleranceSec = options.clockToleranceSec ?? 5;
    this.maxTokenLength = options.maxTokenLength ?? 4096;
    const cache = options.verifiedTokenCache ?? {};
    this.verified = cache === false ? undefined : new VerifiedTokens(cache.max ?? 10_000, cache.ttlMs ?? 60_000, options.now);
  }

  /**
   * Keys are resolved per token algorithm and imported once (a CryptoKey verifies ~40 % faster than a
   * raw secret that jose would import on every call). A key that cannot serve an algorithm fails that
   * import, so a token whose algorithm does not fit the key type is refused (no HS/RS confusion).
   */
  private buildKey(): VerifyKey {
    const { secret, publicKey } = this.options;
    const remote = this.remoteKeys;
    if (remote) {
      return async (header, token) => {
        try {
          const key = await remote(header, token);
          this.keySourceFault = undefined;
          return key;
        } catch (error) {
          this.noteKeySourceFault(error);
          throw error;
        }
      };
    }
    let importKey: (alg: string) => Promise<CryptoKey | KeyObject | Uint8Array>;
    if (secret !== undefined) {
      const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
      if (bytes.byteLength < 32) throw new TypeError('the JWT secret must be at least 32 bytes');
      importKey = async (alg) => (alg.startsWith('HS')
        ? crypto.subtle.importKey('raw', bytes as BufferSource, { name: 'HMAC', hash: `SHA-${alg.slice(2)}` }, false, ['verify'])
        : bytes);
    } else {
      const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : createPublicKey({ key: publicKey as never, format: 'jwk' });
      const jwk = key.export({ format: 'jwk' });
      importKey = async (alg) => importJWK(jwk as JWK, alg) as Promise<CryptoKey | Uint8Array>;
    }
    const keys = new Map<string, Promise<CryptoKey | KeyObject | Uint8Array>>();
    return (header) => {
      const alg = String(header.alg);
      let key = keys.get(alg);
      if (!key && this.options.algorithms.includes(alg)) keys.set(alg, (key = importKey(alg)));
      return key ?? Promise.reject(new Error('algorithm not allowed'));
    };
  }

  private noteKeySourceFault(error: unknown): void {
    if (!isKeySourceFault(error)) return;
    const code = (error as { code?: unknown }).code;
    this.keySourceFault = `JWKS unavailable: ${typeof code === 'string' ? code : error instanceof Error ? error.message : 'fetch failed'}`;
  }

  async warmUp(): Promise<void> {
    if (!this.remoteKeys) return;
    try {
      await this.remoteKeys.reload();
      this.keySourceFault = undefined;
    } catch (error) {
      this.noteKeySourceFault(error);
      throw error;
    }
  }

  health(): string {
    return this.keySourceFault ?? 'ok';
  }

  onKeyFetch(listener: (ok: boolean) => void): void {
    this.keyFetchListeners.push(listener);
  }

  private keyFetched(ok: boolean): void {
    for (const listener of this.keyFetchListeners) listener(ok);
  }

  async authenticate(token: string | undefined): Promise<Identity> {
    if (typeof token !== 'string' || token.length === 0) throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'a token is required');
    if (token.length > this.maxTokenLength) throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'token too long', { reason: 'ERR_TOKEN_TOO_LONG' });
    const known = this.verified?.get(token);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as never, {
        algorithms: this.options.algorithms,
        requiredClaims: this.options.maxTokenAgeSec !== undefined ? ['exp', 'sub', 'iat'] : ['exp', 'sub'],
        ...(this.options.tokenType !== undefined ? { typ: this.options.tokenType } : {}),
        ...(this.options.maxTokenAgeSec !== undefined ? { maxTokenAge: this.options.maxTokenAgeSec } : {}),
        clockTolerance: this.clockToleranceSec,
        ...(this.options.issuer !== undefined ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
      }));
    } catch (error) {
      if (this.remoteKeys && isKeySourceFault(error)) {
        throw new UplinkError(ErrorCode.UNAUTHENTICATED, 'authentication keys are unavailable', { reason: 'ERR_JWKS_UNAVAILABLE' });
      }
      throw toAuthError(error);
    }
    checkClaimTypes(payload);
    const identity: Identity = Object.freeze({
      subject: payload.sub as string,
      ...(payload.iss !== undefined ? { issuer: payload.iss } : {}),
      ...(payload.jti !== undefined ? { tokenId: payload.jti } : {}),
      expiresAt: (payload.exp as number) * 1000,
      claims: Object.freeze({ ...payload }),
    });
    const maxAge = this.options.maxTokenAgeSec;
    const ageLimit = maxAge !== undefined && typeof payload.iat === 'number' ? (payload.iat + maxAge) * 1000 : Infinity;
    this.verified?.set(token, identity, Math.min(identity.expiresAt as number, ageLimit));
    return identity;
  }
}

/**
 * `sub`, `iss` and `jti` must be strings (RFC 7519): a numeric subject would be compared, revoked and
 * counted under another spelling than the one an operator types.
 */
function checkClaimTypes(payload: JWTPayload): void {
  for (const claim of ['sub', 'iss', 'jti'] as const) {
    const value = payload[claim];
    if (value === undefined && claim !== 'sub') continue;
    if (typeof value !== 'string' || value.length === 0) {
      throw new UplinkError(ErrorCode.UNAUTHENTICATED, `invalid token: claim '${claim}' must be a non-empty string`, { reason: 'ERR_JWT_CLAIM_INVALID', claim });
    }
  }
}

/** Whether a failure to get a key means the key source is down (not that the token is bad). */
function isKeySourceFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return !(typeof code === 'string' && TOKEN_FAULTS.test(code));
}

/** jose's error codes become the `reason` of a typed error; an expired token has its own code. */
function toAuthError(error: unknown): UplinkError {
  const code = (error as { code?: unknown }).code;
  const reason = typeof code === 'string' ? code : 'ERR_TOKEN_INVALID';
  const claim = (error as { claim?: unknown }).claim;
  if (reason === 'ERR_JWT_EXPIRED') return new UplinkError(ErrorCode.TOKEN_EXPIRED, 'token expired', { reason });
  const detail = typeof claim === 'string' ? `invalid token: claim '${claim}' failed` : 'invalid token';
  return new UplinkError(ErrorCode.UNAUTHENTICATED, detail, { reason, ...(typeof claim === 'string' ? { claim } : {}) });
}
