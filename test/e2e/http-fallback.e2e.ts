/**
 * The web demo in Chromium behind a proxy that refuses WebSocket upgrades: the page's client falls back
 * to calls over HTTP (transport 'auto'), says so, and keeps working.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { Gateway } from '../../src/index.js';
import { launchChromium } from '../support/chromium.js';
import { noUpgradeProxy, type NoUpgradeProxy } from '../support/no-upgrade-proxy.js';

const SECRET = 'e2e-http-secret-long-enough-0123456789';
const webDemo = fileURLToPath(new URL('../../web-demo', import.meta.url));

let gateway: Gateway;
let proxy: NoUpgradeProxy;
let browser: Browser;
let page: Page;
let pageErrors: string[];

before(async () => {
  gateway = new Gateway({
    port: 0, logLevel: 'warn', staticDir: webDemo,
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
    demoTokens: { secret: SECRET, ttlSec: 600 },
  });
  registerDemoObjects(gateway);
  await gateway.listen();
  proxy = await noUpgradeProxy(`ws://127.0.0.1:${gateway.port}`);
  ({ browser, page, errors: pageErrors } = await launchChromium());
});
after(async () => {
  await browser?.close();
  await proxy?.close();
  await gateway?.close({ drainMs: 0 });
});

describe('web demo behind a proxy that refuses WebSocket upgrades', () => {
  it('signs in over HTTP, says so, and calls', async () => {
    await page.goto(`${proxy.url.replace('ws://', 'http://')}/`);
    await page.getByTestId('name').fill('walled');
    await page.getByTestId('demo-signin').click();
    await page.getByTestId('status').filter({ hasText: /connected as walled/ }).waitFor({ timeout: 10_000 });
    assert.ok(proxy.upgradesRefused >= 1, 'the page tried a WebSocket first');
    assert.match(await page.getByTestId('transport').innerText(), /over HTTP/);
    await page.getByTestId('object').selectOption('calc');
    await page.getByTestId('member').selectOption('call:add');
    await page.getByTestId('args').fill('[40, 2]');
    await page.getByTestId('call').click();
    await page.getByTestId('result').filter({ hasText: /^42/ }).waitFor();
    // The live stream over SSE: items arrive; cancelling ends the generator on the gateway.
    await page.getByTestId('start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=shown]')?.textContent) >= 5, undefined, { timeout: 10_000 });
    await page.getByTestId('cancel').click();
    for (let i = 0; i < 100 && gateway.stats().streams.live > 0; i++) await page.waitForTimeout(20); // the gateway ends the generator on its own time
    assert.equal(gateway.stats().streams.live, 0, 'the server closed the generator');
    // The browser itself logs the refused upgrade; nothing else may go wrong on the page.
    assert.deepEqual(pageErrors.filter((e) => !/WebSocket connection to .* failed/.test(e)), []);
  });
});
