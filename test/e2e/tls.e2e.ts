/**
 * The web demo over TLS in Debian's chromium: the page from https://, the client on wss://, through
 * uWS's SSLApp with a certificate made at test time (the browser is told to accept its test CA's
 * certificate, as it would trust a real one).
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { Gateway } from '../../src/index.js';
import { makeCertificates, type TestCertificates } from '../support/certificates.js';
import { testRuntime } from '../support/gateway.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECRET = 'e2e-tls-secret-long-enough-0123456789';
let certs: TestCertificates;
let gateway: Gateway;
let browser: Browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  certs = makeCertificates();
  gateway = new Gateway({
    port: 0, logLevel: 'warn', runtime: testRuntime, staticDir: fileURLToPath(new URL('../../web-demo', import.meta.url)),
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
    demoTokens: { secret: SECRET, ttlSec: 600 },
    tls: { certFile: certs.certFile, keyFile: certs.keyFile },
  });
  registerDemoObjects(gateway);
  await gateway.listen();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--ignore-certificate-errors'],
  });
});
after(async () => {
  await browser?.close();
  await gateway?.close({ drainMs: 0 });
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe('web demo over TLS', () => {
  it('loads over https, connects over wss, signs in and calls', async () => {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const response = await page.goto(`https://127.0.0.1:${gateway.port}/`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.evaluate(() => location.protocol), 'https:');
    await page.getByTestId('name').fill('tess');
    await page.getByTestId('demo-signin').click();
    await page.getByTestId('status').filter({ hasText: /connected as tess/ }).waitFor({ timeout: 10_000 });
    assert.equal(gateway.stats().connections, 1, 'the page\'s client is connected (over wss: the only listener is TLS)');
    await page.getByTestId('object').selectOption('calc');
    await page.getByTestId('member').selectOption('call:add');
    await page.getByTestId('args').fill('[40, 2]');
    await page.getByTestId('call').click();
    await page.getByTestId('result').filter({ hasText: /^42/ }).waitFor({ timeout: 5_000 });
    assert.deepEqual(errors, []);
  });
});
