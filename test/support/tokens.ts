/** Real tokens signed with jose for the tests, a JWKS endpoint on loopback, and a raw hello that reports how it was refused. */
import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { RawSocket } from './gateway.js';

export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const secretKey = new TextEncoder().encode(SECRET);
export const now = () => Math.floor(Date.now() / 1000);
/**
 * An `exp` that leaves between 0.5 and 1.5 s: `now() + 1` can leave a millisecond when the second is about
 * to turn, and the token is then expired before the hello is read (seen in CI).
 */
export const expiresSoon = () => Math.ceil((Date.now() + 500) / 1000);

export interface TokenOptions { alg?: string; exp?: number | null; sub?: string | null; key?: Uint8Array; typ?: string }

export async function hsToken(claims: Record<string, unknown> = {}, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({ ...claims }).setProtectedHeader({ alg: options.alg ?? 'HS256', ...(options.typ ? { typ: options.typ } : {}) }).setIssuedAt();
  if (options.sub !== null) jwt.setSubject(options.sub ?? 'alice');
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now() + 60);
  return jwt.sign(options.key ?? secretKey);
}

/** Connects with a raw hello carrying `token`; returns the first frame's error code, jose's reason and the close code. */
export async function refused(url: string, token: string | undefined): Promise<{ code: unknown; reason: unknown; close: number }> {
  const raw = await RawSocket.open(url, false);
  raw.send(JSON.stringify({ t: 'hello', v: [1], ...(token !== undefined ? { token } : {}) }));
  const close = await raw.closed;
  const frame = raw.frames[0];
  return { code: frame?.header.code, reason: (frame?.body ? JSON.parse(frame.body) : undefined)?.reason, close: close.code };
}

/** An ES256 key pair published under `kid`, and a signer for it. */
export async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } as JWK;
  const sign = (sub = 'carol') => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject(sub).setExpirationTime('1m').sign(privateKey);
  return { jwk, sign, privateKey };
}

/** A JWKS endpoint over HTTP on loopback that counts its fetches; `keys` and `delayMs` can change at any time. */
export class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  delayMs = 0;
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(port = 0): Promise<JwksServer> {
    let jwks: JwksServer;
    const server = createServer((_req, res) => {
      jwks.fetches++;
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: jwks.keys }));
      }, jwks.delayMs);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    jwks = new JwksServer(server, `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`);
    return jwks;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A hand-made HS256 JWS over any header and payload bytes (for tokens jose itself refuses to sign). */
export function handMadeHs256(header: Record<string, unknown>, payload: Uint8Array | string, key: Uint8Array = secretKey): string {
  const h = base64url.encode(JSON.stringify(header));
  const p = typeof payload === 'string' ? payload : base64url.encode(payload);
  return `${h}.${p}.${base64url.encode(createHmac('sha256', key).update(`${h}.${p}`).digest())}`;
}
