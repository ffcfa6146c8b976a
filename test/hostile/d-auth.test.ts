/**
 * Catalogue D (docs/security.md): authentication and JWTs, with real tokens signed by jose (or by hand
 * where jose refuses to sign them), a real JWKS over HTTP on loopback, and exact refusal codes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { CloseCode, ErrorCode } from '../../src/index.js';
import { eventually } from '../support/eventually.js';
import { client, onNodeRuntime, RawSocket, rejection, sleep, startGateway } from '../support/gateway.js';
import { expiresSoon, handMadeHs256, hsToken, JwksServer, keyPair, now, refused, SECRET, type TokenOptions } from '../support/tokens.js';
import { useArena, useJwksArena } from './arena.js';

type Calc = { add(a: number, b: number): number };
const ISSUER = 'uplink-tests';
const AUDIENCE = 'uplink';
const TYP = 'at+jwt';
/** A token this arena accepts, with any claim overridden. */
const good = (claims: Record<string, unknown> = {}, options: TokenOptions = {}) => hsToken({ iss: ISSUER, aud: AUDIENCE, ...claims }, { typ: TYP, ...options });
const claimsOf = (overrides: Record<string, unknown>) => new TextEncoder().encode(JSON.stringify({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 60, ...overrides }));

describe('D. tokens at the hello', () => {
  const arena = useArena({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET, issuer: ISSUER, audience: AUDIENCE, tokenType: TYP, maxTokenAgeSec: 3_600, clockToleranceSec: 1 }),
    expiryGraceMs: 400,
    acceptQueryToken: true,
  }, { token: () => good({}, { sub: 'honest' }) });

  /** Every refusal: the error code, jose's reason (and failed claim), close 4401, nothing dispatched. */
  async function assertRefused(token: string | undefined, code: string, reason: string | undefined, what: string) {
    const outcome = await refused(arena.url, token);
    assert.deepEqual(outcome, { code, reason, close: CloseCode.UNAUTHENTICATED }, what);
  }

  it('#37 no token, an empty token or garbage: UNAUTHENTICATED, close 4401, no exception escapes', async () => {
    await assertRefused(undefined, ErrorCode.UNAUTHENTICATED, undefined, 'no token');
    await assertRefused('', ErrorCode.UNAUTHENTICATED, undefined, 'empty');
    await assertRefused('garbage', ErrorCode.UNAUTHENTICATED, 'ERR_JWS_INVALID', 'garbage');
    await assertRefused('a.b.c', ErrorCode.UNAUTHENTICATED, 'ERR_JWS_INVALID', 'three dots of nothing');
    const raw = await RawSocket.open(arena.url, false);
    raw.send('{"t":"hello","v":[1],"token":{"toString":"x"}}');
    assert.equal((await raw.closed).code, CloseCode.PROTOCOL_ERROR, 'a non-string token is a malformed hello');
  });

  it('#38 alg none (an unsigned JWT) is refused', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: TYP })).toString('base64url');
    await assertRefused(`${header}.${Buffer.from(claimsOf({})).toString('base64url')}.`, ErrorCode.UNAUTHENTICATED, 'ERR_JOSE_ALG_NOT_ALLOWED', 'alg none');
  });

  it('#40 an algorithm outside the allow-list (HS512 when HS256 is pinned) is refused', async () => {
    await assertRefused(await good({}, { alg: 'HS512' }), ErrorCode.UNAUTHENTICATED, 'ERR_JOSE_ALG_NOT_ALLOWED', 'HS512');
  });

  it('#41 an expired token: TOKEN_EXPIRED (ERR_JWT_EXPIRED)', async () => {
    await assertRefused(await good({}, { exp: now() - 60 }), ErrorCode.TOKEN_EXPIRED, 'ERR_JWT_EXPIRED', 'expired');
  });

  it('#42 a token without exp is refused (jose alone would accept it)', async () => {
    await assertRefused(await good({}, { exp: null }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'no exp');
  });

  it('#43 nbf or iat in the future, and iat older than maxTokenAge, are refused', async () => {
    await assertRefused(await good({ nbf: now() + 600 }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'nbf');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, claimsOf({ iat: now() + 600 })), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iat ahead');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, claimsOf({ iat: now() - 7_200 })), ErrorCode.TOKEN_EXPIRED, 'ERR_JWT_EXPIRED', 'iat too old');
  });

  it('#44 a wrong or missing audience is refused', async () => {
    await assertRefused(await good({ aud: 'another-service' }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'wrong aud');
    await assertRefused(await hsToken({ iss: ISSUER }, { typ: TYP }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'no aud');
  });

  it('#45 a wrong issuer, or an issuer array containing the right one, is refused', async () => {
    await assertRefused(await good({ iss: 'elsewhere' }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'wrong iss');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, claimsOf({ iss: [ISSUER] })), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss array');
  });

  it('#46 a token of another type (typ JWT, or none: an ID or refresh token) is refused when tokenType is set', async () => {
    await assertRefused(await good({}, { typ: 'JWT' }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'typ JWT');
    await assertRefused(await hsToken({ iss: ISSUER, aud: AUDIENCE }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'no typ');
  });

  it('#47 a tampered payload fails on its signature before any claim is looked at', async () => {
    const [header, , signature] = (await good()).split('.');
    const forged = `${header}.${Buffer.from(claimsOf({ sub: 'admin', exp: now() - 100 })).toString('base64url')}.${signature}`;
    await assertRefused(forged, ErrorCode.UNAUTHENTICATED, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'tampered');
  });

  it('#51 keys named by the token itself (jwk, jku, x5u headers) are never used', async () => {
    const attackerKey = new Uint8Array(32).fill(7);
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP, jwk: { kty: 'oct', k: Buffer.from(attackerKey).toString('base64url') } }, claimsOf({}), attackerKey),
      ErrorCode.UNAUTHENTICATED, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'embedded jwk');
    const attacker = await JwksServer.start();
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP, jku: attacker.url, x5u: attacker.url }, claimsOf({}), attackerKey),
      ErrorCode.UNAUTHENTICATED, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'jku');
    assert.equal(attacker.fetches, 0, 'the gateway never fetched the URL the token named');
    await attacker.close();
  });

  it('#53 crit with an unknown parameter, and unencoded payloads (b64: false), are refused', async () => {
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP, crit: ['x-unknown'], 'x-unknown': 1 }, claimsOf({})), ErrorCode.UNAUTHENTICATED, 'ERR_JOSE_NOT_SUPPORTED', 'crit');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP, b64: false, crit: ['b64'] }, new TextDecoder().decode(claimsOf({}))), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_INVALID', 'b64 false');
  });

  it('#54 oversized tokens and JWEs: over 4 KiB refused unparsed, a hello over 8 KiB closed pre-auth (4000), over uWS\'s limit (4 x 1 MiB) cut by uWS, JWE is not JWS', async () => {
    await assertRefused(`${await good()}${'A'.repeat(5_000)}`, ErrorCode.UNAUTHENTICATED, 'ERR_TOKEN_TOO_LONG', '5 KiB');
    // Past the runtime's own limit uWS cuts TCP (1006); ws sends 1009 first.
    for (const [size, close] of [[20 * 1024, CloseCode.PROTOCOL_ERROR], [5 * 1024 * 1024, onNodeRuntime ? 1009 : 1006]] as const) {
      const raw = await RawSocket.open(arena.url, false);
      raw.send(JSON.stringify({ t: 'hello', v: [1], token: 'A'.repeat(size) }));
      assert.equal((await raw.closed).code, close, `${size} bytes`);
    }
    await assertRefused('eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1ciLCJlbmMiOiJBMTI4R0NNIiwicDJjIjoxMDAwMDAwMDAwfQ.a.b.c.d', ErrorCode.UNAUTHENTICATED, 'ERR_JWS_INVALID', 'JWE with a huge p2c');
  });

  it('#55 malformed claims (a non-object payload, invalid UTF-8, exp as a string) are refused', async () => {
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, new TextEncoder().encode('[1]')), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_INVALID', 'array payload');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_INVALID', 'bad UTF-8');
    await assertRefused(handMadeHs256({ alg: 'HS256', typ: TYP }, claimsOf({ exp: 'tomorrow' })), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'exp string');
  });

  it('#59 calls before authentication, and a second hello (even with another identity), close the socket with 4000', async () => {
    const early = await RawSocket.open(arena.url, false);
    early.send('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    assert.equal((await early.closed).code, CloseCode.PROTOCOL_ERROR);
    assert.equal(early.frames.length, 0, 'nothing was dispatched');
    const twice = await RawSocket.open(arena.url, false);
    twice.send(JSON.stringify({ t: 'hello', v: [1], token: await good() }));
    assert.equal((await twice.next()).header.t, 'welcome');
    twice.send(JSON.stringify({ t: 'hello', v: [1], token: await good({}, { sub: 'mallory' }) }));
    assert.equal((await twice.closed).code, CloseCode.PROTOCOL_ERROR);
  });

  it('#60 a query-string token works where enabled and never reaches the log', async () => {
    const token = await good({}, { sub: 'query-user' });
    const c = await client(arena.url, { token, tokenTransport: 'query' });
    assert.equal(await c.proxy<Calc>('calc').add(1, 2), 3);
    const id = c.session.connectionId;
    await c.close();
    await eventually(() => arena.logs.lines.some((l) => l.msg === 'connection closed' && l.conn === id), { what: 'the close logged' });
    assert.ok(!arena.logs.text().includes(token.split('.')[2]!), 'the token is not in the log');
    assert.ok(arena.logs.lines.some((l) => l.msg === 'connection opened' && l.sub === 'query-user'));
  });

  it('#61 revocation closes every socket of the subject at once (4409) and refuses its tokens afterwards', async () => {
    const token = await good({}, { sub: 'leaver' });
    const sockets = await Promise.all([1, 2].map(async () => {
      const raw = await RawSocket.open(arena.url, false);
      raw.send(JSON.stringify({ t: 'hello', v: [1], token }));
      await raw.next();
      return raw;
    }));
    assert.equal(arena.gateway.revoke({ subject: 'leaver' }), 2);
    for (const raw of sockets) assert.equal((await raw.closed).code, CloseCode.REVOKED);
    assert.equal((await refused(arena.url, token)).close, CloseCode.UNAUTHENTICATED);
  });
});

describe('D. tokens on live connections', () => {
  const arena = useArena({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET, clockToleranceSec: 0 }),
    expiryGraceMs: 500,
  }, { token: () => hsToken({}, { sub: 'honest' }) });

  /** A raw connection authenticated with `token`. */
  async function session(token: string): Promise<RawSocket> {
    const raw = await RawSocket.open(arena.url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token }));
    assert.equal((await raw.next()).header.t, 'welcome');
    return raw;
  }

  /** Calls every 50 ms until a call fails with TOKEN_EXPIRED (exp is in whole seconds of real time); returns the next free id. */
  async function callUntilExpired(raw: RawSocket): Promise<number> {
    let id = 0;
    await eventually(async () => {
      const answer = await raw.call({ id: ++id, o: 'calc', m: 'add' }, '[1,1]');
      if (answer.header.code === ErrorCode.TOKEN_EXPIRED) return true;
      assert.equal(answer.body, '2');
      return false;
    }, { timeoutMs: 5_000, everyMs: 50, what: 'TOKEN_EXPIRED' });
    return id + 1;
  }

  it('#36 a busy connection cannot outlive its token: calls get TOKEN_EXPIRED after exp, then close 4405', async () => {
    const raw = await session(await hsToken({}, { sub: 'busy', exp: expiresSoon() }));
    await callUntilExpired(raw);
    assert.equal((await raw.closed).code, CloseCode.TOKEN_EXPIRED);
  });

  it('#56 a token that expires mid-connection can be refreshed within the grace period; calls work again', async () => {
    const raw = await session(await hsToken({}, { sub: 'renewer', exp: expiresSoon() }));
    const id = await callUntilExpired(raw);
    raw.send(JSON.stringify({ t: 'refresh', id, token: await hsToken({}, { sub: 'renewer', exp: now() + 60 }) }));
    assert.equal((await raw.next()).header.t, 'refreshed');
    assert.equal((await raw.call({ id: id + 1, o: 'calc', m: 'add' }, '[1,1]')).body, '2');
    await sleep(600); // past the grace period: proves the close never comes (absence cannot be polled)
    assert.equal(raw.ws.readyState, raw.ws.OPEN, 'the grace timer was cancelled');
    raw.close();
  });

  it('#57 a refresh with another user\'s token, or one that expires earlier, is refused; the connection keeps its identity', async () => {
    const raw = await session(await hsToken({}, { sub: 'owner', exp: now() + 60 }));
    raw.send(JSON.stringify({ t: 'refresh', id: 1, token: await hsToken({}, { sub: 'intruder', exp: now() + 120 }) }));
    assert.equal((await raw.next()).header.code, ErrorCode.UNAUTHENTICATED);
    raw.send(JSON.stringify({ t: 'refresh', id: 2, token: await hsToken({}, { sub: 'owner', exp: now() + 10 }) }));
    const earlier = await raw.next();
    assert.equal(earlier.header.code, ErrorCode.UNAUTHENTICATED);
    assert.match(String(earlier.header.message), /expire before/);
    const who = await raw.call({ id: 3, o: 'echo', m: 'whoami' }, '[]');
    assert.equal((JSON.parse(who.body) as { subject: string }).subject, 'owner');
    raw.close();
  });

  it('#58 a refresh flood: a second refresh while one is being verified gets BUSY, and calls go on meanwhile', async () => {
    const raw = await session(await hsToken({}, { sub: 'flooder', exp: now() + 60 }));
    const fresh = await hsToken({}, { sub: 'flooder', exp: now() + 120 });
    raw.send(JSON.stringify({ t: 'refresh', id: 1, token: fresh }) );
    raw.send(JSON.stringify({ t: 'refresh', id: 2, token: fresh }));
    raw.send('{"t":"call","id":3,"o":"calc","m":"add"}\n[2,2]');
    const answers = [await raw.next(), await raw.next(), await raw.next()];
    const byId = new Map(answers.map((a) => [a.header.id, a]));
    assert.equal(byId.get(2)?.header.code, ErrorCode.BUSY);
    assert.equal(byId.get(3)?.body, '4');
    assert.equal(byId.get(1)?.header.t, 'refreshed');
    raw.close();
  });
});

describe('D. key confusion and remote keys', () => {
  it('#39 an HS256 token HMAC\'d with the server\'s RSA public key is refused, even with HS256 allowed', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['RS256', 'HS256'], publicKey: pem }) });
    const honest = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('rsa').setExpirationTime('1m').sign(privateKey);
    const c = await client(url, { token: honest });
    assert.equal(await c.proxy<Calc>('calc').add(1, 1), 2);
    const forged = await hsToken({}, { key: new TextEncoder().encode(pem) });
    assert.equal((await refused(url, forged)).close, CloseCode.UNAUTHENTICATED);
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  describe('JWKS', () => {
    const { arena, keys } = useJwksArena('k1', { jwksCooldownMs: 300, jwksTimeoutMs: 300 });

    it('#48 random kid values cannot force a refetch storm: at most one fetch per cooldown', async () => {
      await sleep(350); // jose's cooldown runs on real time: the storm starts when one refetch is allowed, to show only one happens
      const before = keys.jwks.fetches;
      const storm = await Promise.all(Array.from({ length: 25 }, async (_, i) => refused(arena.url, await (await keyPair(`random-${i}`)).sign())));
      for (const r of storm) assert.equal(r.close, CloseCode.UNAUTHENTICATED);
      assert.ok(keys.jwks.fetches - before <= 1, `${keys.jwks.fetches - before} fetches`);
    });

    it('#49 a slow JWKS endpoint: verification fails within the timeout; cached keys keep working; the process goes on', async () => {
      await sleep(350); // jose's cooldown runs on real time: the unknown kid must cause a refetch, which meets the slow endpoint
      keys.jwks.delayMs = 2_000;
      const started = Date.now();
      const outcome = await refused(arena.url, await (await keyPair('unknown')).sign());
      assert.equal(outcome.close, CloseCode.UNAUTHENTICATED);
      assert.ok(Date.now() - started < 1_500, `refused after ${Date.now() - started} ms`);
      assert.match(arena.gateway.health().auth, /JWKS unavailable/);
      const cached = await client(arena.url, { token: await (await keys.signer).sign('cached') });
      assert.equal(await cached.proxy<Calc>('calc').add(3, 3), 6, 'a known key is used from the cache');
      await cached.close();
      keys.jwks.delayMs = 0;
    });

    it('#50 rotation: a new kid is accepted after one refetch, which also drops the removed key', async () => {
      const old = await keys.signer;
      const next = await keyPair('k2');
      keys.jwks.keys = [next.jwk]; // the issuer rotates: k2 in, k1 out
      const before = keys.jwks.fetches;
      // Within jose's cooldown k2 is refused without a fetch; the first try after it refetches once.
      const c = await connectOnceAccepted(arena.url, () => next.sign('rotated'));
      assert.equal(await c.proxy<Calc>('calc').add(1, 2), 3);
      assert.equal(keys.jwks.fetches - before, 1);
      assert.equal(arena.gateway.health().auth, 'ok', 'a good fetch clears the degraded state');
      await c.close();
      assert.equal((await refused(arena.url, await old.sign('stale'))).close, CloseCode.UNAUTHENTICATED);
      keys.jwks.keys = [old.jwk, next.jwk]; // the honest client's key comes back for the arena's checks
      await (await connectOnceAccepted(arena.url, () => old.sign('back'))).close();
    });
  });
});

describe('D. the client side of a refused hello', () => {
  it('#37 (client side) the Node client surfaces a refused hello as a typed error', async () => {
    const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }) });
    const error = await rejection(client(url, { token: 'garbage' }));
    assert.equal(error.code, ErrorCode.UNAUTHENTICATED);
    await gateway.close({ drainMs: 0 });
  });
});

/** A client once the gateway accepts the token `sign` makes (tried every 50 ms: a JWKS cooldown passes in real time). */
async function connectOnceAccepted(url: string, sign: () => Promise<string>): Promise<Awaited<ReturnType<typeof client>>> {
  let connected: Awaited<ReturnType<typeof client>> | undefined;
  await eventually(async () => {
    try {
      connected = await client(url, { token: await sign() });
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 3_000, everyMs: 50, what: 'the token accepted' });
  return connected!;
}
