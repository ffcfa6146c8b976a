/** The verified-token cache: expiry, age, TTL and size bounds (fake clock), and what it never changes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { VerifiedTokens } from '../../src/auth/verified-tokens.js';
import type { Identity } from '../../src/core/context.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { eventually } from '../support/eventually.js';
import { secretKey, SECRET } from '../support/tokens.js';

const identity = (subject: string): Identity => ({ subject, claims: {} });

describe('verified tokens (fake clock)', () => {
  it('an entry lives until the earliest of its validity and the TTL, never past it', () => {
    let now = 1_000;
    const cache = new VerifiedTokens(10, 60_000, () => now);
    cache.set('a', identity('a'), 5_000);
    cache.set('b', identity('b'), 1_000_000);
    now = 4_999;
    assert.equal(cache.get('a')?.subject, 'a');
    now = 5_000;
    assert.equal(cache.get('a'), undefined, 'at exp: verified again (jose decides about tolerance)');
    now = 60_999;
    assert.equal(cache.get('b')?.subject, 'b');
    now = 61_000;
    assert.equal(cache.get('b'), undefined, 'the TTL bounds how long a removed key stays trusted');
    cache.set('c', identity('c'), 61_000);
    assert.equal(cache.size, 0, 'an entry already expired is not kept');
  });

  it('holds at most `max` entries, dropping the oldest', () => {
    const cache = new VerifiedTokens(2, 60_000, () => 0);
    cache.set('a', identity('a'), 10);
    cache.set('b', identity('b'), 10);
    cache.set('c', identity('c'), 10);
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.get('c')?.subject, 'c');
    assert.equal(cache.size, 2);
  });
});

describe('JwtAuthenticator with the cache', () => {
  const sign = (expSec: number, sub = 'alice') => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expSec).sign(secretKey);

  it('the same token again gives the same identity; a token changed by one character is verified (and refused)', async () => {
    const auth = new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET });
    const token = await sign(600);
    const first = await auth.authenticate(token);
    assert.equal(await auth.authenticate(token), first, 'served from the cache');
    const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
    await assert.rejects(auth.authenticate(tampered), (e: { code?: string }) => e.code === ErrorCode.UNAUTHENTICATED);
  });

  it('an expired token is refused even after it was cached', async () => {
    const auth = new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET, clockToleranceSec: 0 });
    const token = await sign(1);
    await auth.authenticate(token);
    // jose reads real time and exp is in whole seconds: ask until the second turns. A cache that served
    // the token past its exp (60 s TTL here) would never refuse it, and this would time out.
    let refusal: { code?: string } | undefined;
    await eventually(async () => (refusal = await auth.authenticate(token).then(() => undefined, (e: { code?: string }) => e)) !== undefined, { timeoutMs: 3_000, everyMs: 25, what: 'the token refused' });
    assert.equal(refusal?.code, ErrorCode.TOKEN_EXPIRED);
  });
});
