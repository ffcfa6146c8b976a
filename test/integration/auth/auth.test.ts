/** Authentication and authorization with real tokens signed by jose, a real JWKS over HTTP, and real gateways. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { JwtAuthenticator } from '../../../src/auth/jwt.js';
import { CloseCode, ErrorCode, Gateway, UplinkError, type GatewayOptions } from '../../../src/index.js';
import { client, RawSocket, rejection, sleep, startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { expiresSoon, hsToken, JwksServer, keyPair, now, refused, SECRET } from '../../support/tokens.js';

type Calc = { add(a: number, b: number): number };

describe('JWT verification (HS256 gateway)', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => ({ gateway, url } = await startGateway({
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET, issuer: 'uplink-tests', audience: 'uplink', clockToleranceSec: 1 }),
  })));
  after(() => gateway.close({ drainMs: 0 }));
  const good = (claims: Record<string, unknown> = {}, options = {}) => hsToken({ iss: 'uplink-tests', aud: 'uplink', ...claims }, options);

  /** Every refusal test ends by checking that an honest client on the same gateway still works. */
  async function honestStillWorks(): Promise<void> {
    const c = await client(url, { token: await good() });
    assert.equal(await c.proxy<Calc>('calc').add(2, 3), 5);
    await c.close();
  }

  it('accepts a valid token: the welcome carries the expiry, the context the identity', async () => {
    const exp = now() + 120;
    const c = await client(url, { token: await good({ jti: 'tok-1' }, { exp }) });
    assert.equal(c.session.tokenExpiresAt, exp * 1000);
    assert.ok(c.session.tokenExpiresIn! > 100_000 && c.session.tokenExpiresIn! <= 120_000);
    const info = await c.proxy<{ info(): { subject: string } }>('$uplink').info();
    assert.equal(info.subject, 'alice');
    await c.close();
  });

  const cases: Array<[string, () => Promise<string | undefined>, string, string | undefined]> = [
    ['no token', async () => undefined, ErrorCode.UNAUTHENTICATED, undefined],
    ['a bad signature', async () => good({}, { key: new TextEncoder().encode('another-secret-that-is-long-enough-000') }), ErrorCode.UNAUTHENTICATED, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
    ['alg none', async () => {
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now() + 60, iss: 'uplink-tests', aud: 'uplink' })}.`;
    }, ErrorCode.UNAUTHENTICATED, 'ERR_JOSE_ALG_NOT_ALLOWED'],
    ['an algorithm outside the allow-list (HS512)', async () => good({}, { alg: 'HS512' }), ErrorCode.UNAUTHENTICATED, 'ERR_JOSE_ALG_NOT_ALLOWED'],
    ['an expired token', async () => good({}, { exp: now() - 30 }), ErrorCode.TOKEN_EXPIRED, 'ERR_JWT_EXPIRED'],
    ['a token not yet valid', async () => good({ nbf: now() + 60 }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a token without exp', async () => good({}, { exp: null }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a token without sub', async () => good({}, { sub: null }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a wrong issuer', async () => good({ iss: 'someone-else' }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a wrong audience', async () => good({ aud: 'other-service' }), ErrorCode.UNAUTHENTICATED, 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ['a malformed token', async () => 'not.a.jwt', ErrorCode.UNAUTHENTICATED, 'ERR_JWS_INVALID'],
    ['an oversized token', async () => 'x'.repeat(5_000), ErrorCode.UNAUTHENTICATED, 'ERR_TOKEN_TOO_LONG'],
  ];
  for (const [name, make, code, reason] of cases) {
    it(`refuses ${name} with ${code}${reason ? ` (${reason})` : ''} and close 4401`, async () => {
      const result = await refused(url, await make());
      assert.equal(result.code, code);
      assert.equal(result.reason, reason);
      assert.equal(result.close, CloseCode.UNAUTHENTICATED);
      await honestStillWorks();
    });
  }

  it('names the failed claim without echoing the token', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token: await good({ iss: 'evil' }) }));
    const { header, body } = await raw.next();
    assert.equal(header.message, "invalid token: claim 'iss' failed");
    assert.deepEqual(JSON.parse(body), { reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
  });

  it('closes a hello larger than the pre-auth frame limit with 4000', async () => {
    assert.equal((await refused(url, 'x'.repeat(9_000))).close, CloseCode.PROTOCOL_ERROR);
    await honestStillWorks();
  });

  it('closes with 4000 on a call before authentication, dispatching nothing', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send('{"t":"call","id":1,"o":"calc","m":"add"}\n[1,2]');
    assert.equal((await raw.closed).code, CloseCode.PROTOCOL_ERROR);
    assert.equal(raw.frames.length, 0);
    await honestStillWorks();
  });

  it('closes with 4002 when the hello does not arrive before the auth deadline', async () => {
    const { gateway: g, url: u } = await startGateway({ helloTimeoutMs: 200, authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }) });
    const raw = await RawSocket.open(u, false);
    assert.equal((await raw.closed).code, CloseCode.HELLO_TIMEOUT);
    await g.close({ drainMs: 0 });
  });
});

describe('key types and configuration', () => {
  it('refuses HS/RS confusion: an HS256 token signed with the RSA public key', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['RS256', 'HS256'], publicKey: pem }) });
    const forged = await hsToken({}, { key: new TextEncoder().encode(pem) });
    const result = await refused(url, forged);
    assert.equal(result.code, ErrorCode.UNAUTHENTICATED);
    assert.equal(result.close, CloseCode.UNAUTHENTICATED);
    await gateway.close({ drainMs: 0 });
  });

  it('verifies RS256, ES256 and EdDSA tokens with a public key (PEM or JWK)', async () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA']) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined } as never);
      const key = alg === 'ES256' ? (await exportJWK(publicKey)) as JsonWebKey : await exportSPKI(publicKey);
      const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: [alg], publicKey: key }) });
      const token = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('bob').setExpirationTime('1m').sign(privateKey);
      const c = await client(url, { token });
      assert.equal(await c.proxy<Calc>('calc').add(1, 1), 2, alg);
      await c.close();
      await gateway.close({ drainMs: 0 });
    }
  });

  it('refuses unsafe configurations', () => {
    assert.throws(() => new JwtAuthenticator({ algorithms: ['none'], secret: SECRET }), /never 'none'/);
    assert.throws(() => new JwtAuthenticator({ algorithms: [], secret: SECRET }), /allow-list/);
    assert.throws(() => new JwtAuthenticator({ algorithms: ['HS256'], secret: 'short' }), /32 bytes/);
    assert.throws(() => new JwtAuthenticator({ algorithms: ['HS256'] }), /exactly one/);
  });
});

describe('JWKS with key rotation', () => {
  let server: JwksServer;
  before(async () => (server = await JwksServer.start()));
  after(() => server.close());

  it('accepts a token signed with a newly rotated key without a restart, and refetches at most once per cooldown', async () => {
    const first = await keyPair('k1');
    const second = await keyPair('k2');
    const unknown = await keyPair('k-unknown');
    server.keys = [first.jwk];
    const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['ES256'], jwksUrl: server.url, jwksCooldownMs: 300 }) });
    const a = await client(url, { token: await first.sign() });
    assert.equal(await a.proxy<Calc>('calc').add(1, 2), 3);
    assert.equal(server.fetches, 1);

    server.keys = [first.jwk, second.jwk]; // rotation: the issuer publishes k2
    // Within jose's cooldown (300 ms, real time) k2 is refused without a fetch; the first try after it refetches.
    const b = await acceptedClient(url, () => second.sign());
    assert.equal(await b.proxy<Calc>('calc').add(2, 2), 4);
    assert.equal(server.fetches, 2);

    const before = server.fetches;
    const storm = await Promise.all(Array.from({ length: 20 }, async () => refused(url, await unknown.sign())));
    for (const r of storm) assert.equal(r.close, CloseCode.UNAUTHENTICATED);
    assert.ok(server.fetches - before <= 1, `unknown kid caused ${server.fetches - before} fetches`);
    await a.close();
    await b.close();
    await gateway.close({ drainMs: 0 });
  });
});

describe('token transports and origins', () => {
  const authenticator = () => new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET });

  it('accepts the Authorization header when enabled, and answers an invalid one with HTTP 401 before upgrading', async () => {
    const { gateway, url } = await startGateway({ authenticator: authenticator(), acceptHeaderToken: true });
    const c = await client(url, { token: await hsToken(), tokenTransport: 'header' });
    assert.equal(await c.proxy<{ info(): { subject: string } }>('$uplink').info().then((i) => i.subject), 'alice');
    await c.close();
    const status = await upgradeStatus(url, { Authorization: `Bearer ${await hsToken({}, { exp: now() - 60 })}` });
    assert.equal(status, 401);
    await gateway.close({ drainMs: 0 });
  });

  it('accepts a query-string token only when enabled, and never logs it', async () => {
    const { gateway, url, logs } = await startGateway({ authenticator: authenticator(), acceptQueryToken: true });
    const token = await hsToken();
    const c = await client(url, { token, tokenTransport: 'query' });
    assert.equal(await c.proxy<Calc>('calc').add(1, 2), 3);
    await c.close();
    assert.equal(await upgradeStatus(`${url}/?token=garbage`, {}), 401);
    assert.ok(!logs.text().includes(token.split('.')[2]!));
    await gateway.close({ drainMs: 0 });
    const { gateway: off, url: offUrl } = await startGateway({ authenticator: authenticator() });
    await assert.rejects(client(offUrl, { token, tokenTransport: 'query' }), (e: UplinkError) => e.code === ErrorCode.UNAUTHENTICATED);
    await off.close({ drainMs: 0 });
  });

  it('refuses origins outside the allow-list with 403, and missing origins unless allowed', async () => {
    const { gateway, url } = await startGateway({ allowedOrigins: ['https://app.example.com'] });
    assert.equal(await upgradeStatus(url, { Origin: 'https://evil.example.com' }), 403);
    assert.equal(await upgradeStatus(url, {}), 403);
    assert.equal(await upgradeStatus(url, { Origin: 'https://app.example.com' }), 101);
    await gateway.close({ drainMs: 0 });
    const { gateway: g2, url: u2 } = await startGateway({ allowedOrigins: ['https://app.example.com'], allowMissingOrigin: true });
    assert.equal(await upgradeStatus(u2, {}), 101);
    assert.equal(await upgradeStatus(u2, { Origin: 'null' }), 403);
    await g2.close({ drainMs: 0 });
  });
});

describe('expiry and in-band refresh', () => {
  const auth = () => new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET, clockToleranceSec: 0 });

  it('refreshes before expiry on a live connection: calls keep working past the first token\'s lifetime', async () => {
    const { gateway, url } = await startGateway({ authenticator: auth() });
    let issued = 0;
    const c = await client(url, { token: () => (issued++, hsToken({}, { exp: now() + 2 })), timeoutMs: 2_000 });
    const connection = c.session.connectionId;
    const until = Date.now() + 3_500;
    while (Date.now() < until) {
      assert.equal(await c.proxy<Calc>('calc').add(1, 1), 2);
      await sleep(100); // calls spread over the token's real lifetime (exp is in whole seconds): a pace, not a wait
    }
    assert.ok(issued >= 2, `token function called ${issued} times`);
    assert.equal((await c.proxy<{ info(): { connection: string } }>('$uplink').info()).connection, connection);
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  it('refuses a refresh with another subject, and the connection goes on', async () => {
    const { gateway, url } = await startGateway({ authenticator: auth() });
    let sub = 'alice';
    const c = await client(url, { token: () => hsToken({}, { sub }) });
    sub = 'mallory';
    const error = await rejection(c.refreshToken());
    assert.equal(error.code, ErrorCode.UNAUTHENTICATED);
    assert.match(error.message, /same subject/);
    assert.equal((await c.proxy<{ info(): { subject: string } }>('$uplink').info()).subject, 'alice');
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  it('without a refresh: TOKEN_EXPIRED on calls after expiry, then close 4405 after the grace period', async () => {
    const { gateway, url } = await startGateway({ authenticator: auth(), expiryGraceMs: 600 });
    try { // a failed assertion must not leave the gateway listening (the test process would never end)
      const c = await client(url, { token: await hsToken({}, { exp: expiresSoon() }) });
      assert.equal(await c.proxy<Calc>('calc').add(1, 1), 2);
      await sleep(Math.max(0, c.session.tokenExpiresAt! - Date.now()) + 100);
      assert.equal((await rejection(c.proxy<Calc>('calc').add(1, 1))).code, ErrorCode.TOKEN_EXPIRED);
      const closed = await c.whenClosed;
      assert.equal(closed.code, CloseCode.TOKEN_EXPIRED);
    } finally {
      await gateway.close({ drainMs: 0 });
    }
  });

  it('a refresh after the grace period is too late: the connection is gone', async () => {
    const { gateway, url } = await startGateway({ authenticator: auth(), expiryGraceMs: 200 });
    try {
      let first = true;
      let markClosed!: () => void;
      const closed = new Promise<void>((resolve) => (markClosed = resolve));
      const c = await client(url, {
        token: async () => {
          if (first) { first = false; return hsToken({}, { exp: expiresSoon() }); }
          await closed; // the automatic refresh waits for a token until the grace period has run out
          return hsToken({}, { exp: now() + 60 });
        },
      });
      void c.whenClosed.then(markClosed);
      assert.equal((await c.whenClosed).code, CloseCode.TOKEN_EXPIRED);
      assert.equal((await rejection(c.refreshToken())).code, ErrorCode.CONNECTION_CLOSED);
    } finally {
      await gateway.close({ drainMs: 0 });
    }
  });
});

describe('authorization', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => {
    const options: GatewayOptions = {
      authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
      validateHandshake: (info) => {
        if (info.identity?.claims.banned === true) throw new Error('banned user');
      },
    };
    ({ gateway, url } = await startGateway(options));
    gateway.register({ read: () => 'r', write: () => 'w', audit: () => 'a' }, 'docs', {
      expose: ['read', 'write', 'audit'],
      access: { scopes: ['docs:read'], members: { write: { scopes: ['docs:write'] }, audit: { roles: ['auditor', 'admin'], check: (claims) => claims.tenant === 'acme' } } },
    });
  });
  after(() => gateway.close({ drainMs: 0 }));

  it('hides the admin object from a non-admin token: its calls get UNKNOWN_OBJECT, as if it did not exist', async () => {
    const user = await client(url, { token: await hsToken({ scope: 'docs:read' }) });
    const builtin = user.proxy<{ list(): string[]; metadata(id: string): unknown }>('$uplink');
    assert.ok(!(await builtin.list()).includes('admin'));
    assert.equal((await rejection(builtin.metadata('admin'))).code, ErrorCode.UNKNOWN_OBJECT);
    assert.equal((await rejection(user.call('admin', 'stats', []))).code, ErrorCode.UNKNOWN_OBJECT);
    const admin = await client(url, { token: await hsToken({ scope: 'admin' }) });
    assert.ok((await admin.proxy<{ list(): string[] }>('$uplink').list()).includes('admin'));
    assert.equal(typeof ((await admin.call('admin', 'stats', [])) as { rssBytes: number }).rssBytes, 'number');
    await user.close();
    await admin.close();
  });

  it('applies object and member rules: scopes (all), roles (any), check functions', async () => {
    const reader = await client(url, { token: await hsToken({ scope: 'docs:read' }) });
    const writer = await client(url, { token: await hsToken({ scope: ['docs:read', 'docs:write'] }) });
    const auditor = await client(url, { token: await hsToken({ scope: 'docs:read', roles: ['auditor'], tenant: 'acme' }) });
    const outsider = await client(url, { token: await hsToken({ scope: 'docs:read', roles: ['auditor'], tenant: 'other' }) });
    const nobody = await client(url, { token: await hsToken({}) });
    assert.equal(await reader.call('docs', 'read', []), 'r');
    assert.equal((await rejection(reader.call('docs', 'write', []))).code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal(await writer.call('docs', 'write', []), 'w');
    assert.equal(await auditor.call('docs', 'audit', []), 'a');
    assert.equal((await rejection(outsider.call('docs', 'audit', []))).code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal((await rejection(nobody.call('docs', 'read', []))).code, ErrorCode.UNKNOWN_OBJECT);
    assert.deepEqual((await reader.proxy<{ metadata(id: string): { methods: string[] } }>('$uplink').metadata('docs')).methods, ['read']);
    assert.ok(!(await nobody.proxy<{ list(): string[] }>('$uplink').list()).includes('docs'));
    for (const c of [reader, writer, auditor, outsider, nobody]) await c.close();
  });

  it('lets the handshake hook refuse a client with a reason: FORBIDDEN and close 4403', async () => {
    const raw = await RawSocket.open(url, false);
    raw.send(JSON.stringify({ t: 'hello', v: [1], token: await hsToken({ banned: true }) }));
    const { header } = await raw.next();
    assert.equal(header.code, ErrorCode.FORBIDDEN);
    assert.equal(header.message, 'banned user');
    assert.equal((await raw.closed).code, CloseCode.FORBIDDEN);
  });
});

describe('revocation', () => {
  it('disconnects every connection of a subject, or of one token id, at once (4409) and refuses the revoked tokens', async () => {
    const { gateway, url } = await startGateway({ authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }) });
    const aliceToken = await hsToken({ jti: 'a1' });
    const alice1 = await client(url, { token: aliceToken });
    const alice2 = await client(url, { token: await hsToken({ jti: 'a2' }) });
    const bob = await client(url, { token: await hsToken({ jti: 'b1' }, { sub: 'bob' }) });
    const bob2 = await client(url, { token: await hsToken({ jti: 'b2' }, { sub: 'bob' }) });

    assert.equal(gateway.revoke({ subject: 'alice' }), 2);
    assert.equal((await alice1.whenClosed).code, CloseCode.REVOKED);
    assert.equal((await alice2.whenClosed).code, CloseCode.REVOKED);
    assert.equal(await bob.proxy<Calc>('calc').add(1, 2), 3);
    assert.equal((await refused(url, aliceToken)).close, CloseCode.UNAUTHENTICATED);

    assert.equal(gateway.revoke({ tokenId: 'b2' }), 1);
    assert.equal((await bob2.whenClosed).code, CloseCode.REVOKED);
    assert.equal(await bob.proxy<Calc>('calc').add(2, 2), 4);

    // A token issued after the revocation is fine: iat is in whole seconds, so one is accepted once the second turns.
    const again = await acceptedClient(url, () => hsToken({ jti: 'a3' }));
    assert.equal(await again.proxy<Calc>('calc').add(3, 3), 6);
    await again.close();
    await bob.close();
    await gateway.close({ drainMs: 0 });
  });
});

/** The HTTP status of an upgrade attempt (101 when it succeeds). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => { resolve(101); ws.close(); });
    ws.on('error', () => resolve(-1));
  });
}

describe('demo tokens', () => {
  it('GET /demo/token mints a token for sub and scope with a bounded ttl, and refuses anything else with 400', async () => {
    const { gateway } = await startGateway({ demoTokens: { secret: SECRET, ttlSec: 600 } });
    const base = `http://127.0.0.1:${gateway.port}/demo/token`;
    const started = Date.now();
    const answer = await (await fetch(`${base}?sub=dora&scope=read%20write&ttl=60`)).json() as { token: string; expiresAt: number };
    const claims = decodeJwt(answer.token);
    assert.deepEqual([claims.sub, claims.scope], ['dora', 'read write']);
    assert.equal((claims.exp as number) - (claims.iat as number), 60);
    assert.ok(answer.expiresAt >= started + 59_000 && answer.expiresAt <= Date.now() + 61_000);
    const fallback = decodeJwt((await (await fetch(`${base}?sub=dora`)).json() as { token: string }).token);
    assert.equal((fallback.exp as number) - (fallback.iat as number), 600, 'without ttl: the configured lifetime');
    for (const query of ['sub=dora&ttl=5', 'sub=dora&ttl=86401', 'sub=dora&ttl=1.5', 'sub=dora&ttl=soon', 'sub=', 'sub=a%20b']) {
      assert.equal((await fetch(`${base}?${query}`)).status, 400, query);
    }
    await gateway.close({ drainMs: 0 });
  });
});

/** A client once the gateway accepts the token `sign` makes (tried every 50 ms: what it waits for passes in real time). */
async function acceptedClient(url: string, sign: () => Promise<string>): Promise<Awaited<ReturnType<typeof client>>> {
  let connected: Awaited<ReturnType<typeof client>> | undefined;
  await eventually(async () => {
    connected = await client(url, { token: await sign() }).catch(() => undefined);
    return connected !== undefined;
  }, { timeoutMs: 3_000, everyMs: 50, what: 'the token accepted' });
  return connected!;
}
