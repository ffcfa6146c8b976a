/** TLS: wss:// and https:// through uWS's SSLApp with a certificate made at test time; bad files stop the start. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { Gateway } from '../../../src/index.js';
import { client, startGateway } from '../../support/gateway.js';
import { makeCertificates, type TestCertificates } from '../../support/certificates.js';

let certs: TestCertificates;
before(() => (certs = makeCertificates()));
after(() => rmSync(certs.dir, { recursive: true, force: true }));

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

describe('TLS', () => {
  it('serves wss:// and https:// with the configured certificate; a client trusting the CA calls and streams', async () => {
    const { gateway } = await startGateway({ tls: { certFile: certs.certFile, keyFile: certs.encryptedKeyFile, passphrase: certs.passphrase } });
    const url = `wss://127.0.0.1:${gateway.port}`;
    assert.equal(gateway.uri('calc'), `uplinks://127.0.0.1:${gateway.port}/calc`);
    const c = await client(url, { ca: certs.ca });
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(20, 22), 42);
    const items: number[] = [];
    for await (const n of c.stream<number>('numbers', 'range', [3])) items.push(n);
    assert.deepEqual(items, [0, 1, 2]);
    await c.close();
    const health = await httpsGet(`https://127.0.0.1:${gateway.port}/health`, certs.ca);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, 'ok');
    await assert.rejects(client(url), /self-signed|unable to verify|certificate/i, 'without the CA the certificate is not trusted');
    await gateway.close({ drainMs: 0 });
  });

  it('refuses to start with a missing or unreadable file, a wrong passphrase, a key of another certificate, or a non-certificate', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ certFile: '/nonexistent/cert.pem', keyFile: certs.keyFile }, /certificate \/nonexistent\/cert.pem cannot be read: ENOENT/],
      [{ certFile: certs.certFile, keyFile: '/nonexistent/key.pem' }, /key \/nonexistent\/key.pem cannot be read: ENOENT/],
      [{ certFile: certs.certFile, keyFile: certs.encryptedKeyFile, passphrase: 'wrong' }, /wrong or missing passphrase/],
      [{ certFile: certs.certFile, keyFile: certs.encryptedKeyFile }, /wrong or missing passphrase/],
      [{ certFile: certs.certFile, keyFile: certs.otherKeyFile }, /does not belong to the certificate/],
      [{ certFile: certs.keyFile, keyFile: certs.keyFile }, /is not a PEM certificate/],
      [{ certFile: certs.certFile, keyFile: certs.certFile }, /not a PEM private key/],
    ];
    for (const [tls, message] of cases) {
      assert.throws(() => new Gateway({ tls: tls as never, logLevel: 'silent' }), message, JSON.stringify(tls));
    }
  });
});
