/**
 * The web demo in a real browser: Debian's chromium driven by playwright-core (never a downloaded
 * browser). Run with `npm run test:e2e`; it saves docs/web-demo.png.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { JwtAuthenticator } from '../../src/auth/jwt.js';
import { registerDemoObjects } from '../../src/demo/register.js';
import { Gateway } from '../../src/index.js';
import { TcpRelay, testRuntime } from '../support/gateway.js';
import { launchChromium } from '../support/chromium.js';

const SECRET = 'e2e-demo-secret-long-enough-0123456789';
const webDemo = fileURLToPath(new URL('../../web-demo', import.meta.url));
const screenshot = fileURLToPath(new URL('../../docs/web-demo.png', import.meta.url));
const adminScreenshot = fileURLToPath(new URL('../../docs/admin-view.png', import.meta.url));

async function startDemoGateway(): Promise<Gateway> {
  const gateway = new Gateway({
    port: 0, logLevel: 'warn', staticDir: webDemo, runtime: testRuntime,
    authenticator: new JwtAuthenticator({ algorithms: ['HS256'], secret: SECRET }),
    demoTokens: { secret: SECRET, ttlSec: 600 },
    reconnectAfterMs: 100, adminScope: 'admin', metrics: { port: 0 },
  });
  registerDemoObjects(gateway);
  await gateway.listen();
  return gateway;
}

let gateway: Gateway;
/** The page's stable address: a TCP relay in front of the gateway, so a restarted gateway can take over. */
let relay: TcpRelay;
let browser: Browser;
let page: Page;
let pageErrors: string[];

before(async () => {
  gateway = await startDemoGateway();
  relay = await TcpRelay.start(gateway.port);
  ({ browser, page, errors: pageErrors } = await launchChromium());
});
after(async () => {
  await browser?.close();
  await relay?.close();
  await gateway?.close({ drainMs: 0 });
});

const text = (testId: string) => page.getByTestId(testId).innerText();
async function waitForText(testId: string, pattern: RegExp, timeout = 5_000): Promise<string> {
  await page.getByTestId(testId).filter({ hasText: pattern }).waitFor({ timeout });
  return text(testId);
}

async function signIn(name: string, admin: boolean): Promise<void> {
  await page.getByTestId('name').fill(name);
  await page.getByTestId('admin').setChecked(admin);
  await page.getByTestId('demo-signin').click();
  await waitForText('status', new RegExp(`connected as ${name}`));
}

/** A second page: the demo loaded and signed in as `name` (no admin scope). */
async function openSignedIn(other: Page, name: string): Promise<void> {
  await other.goto(`http://127.0.0.1:${relay.port}/`);
  await other.getByTestId('name').fill(name);
  await other.getByTestId('demo-signin').click();
  await other.getByTestId('status').filter({ hasText: new RegExp(`connected as ${name}`) }).waitFor();
}

async function call(object: string, member: string, args: string): Promise<string> {
  await page.getByTestId('object').selectOption(object);
  await page.getByTestId('member').selectOption(member);
  await page.getByTestId('args').fill(args);
  const before = await text('result');
  await page.getByTestId('call').click();
  await page.waitForFunction((b) => document.querySelector('[data-testid=result]')?.textContent !== b, before);
  return text('result');
}

describe('web demo', () => {
  it('loads the page from the gateway with content types, caching and security headers', async () => {
    const response = await page.goto(`http://127.0.0.1:${relay.port}/`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-type'] ?? '', /text\/html/);
    assert.equal(response?.headers()['cache-control'], 'no-cache');
    assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    assert.equal(await page.title(), 'Uplink demo');
    assert.equal(await text('status'), 'signed out');
    const script = await page.request.get(`http://127.0.0.1:${relay.port}/uplink.js`);
    assert.match(script.headers()['content-type'] ?? '', /text\/javascript/);
    assert.match(script.headers().etag ?? '', /^".+"$/);
  });

  it('signs in with a demo token; the explorer hides the admin object from a non-admin', async () => {
    await signIn('alice', false);
    assert.match(await text('expiry'), /token expires in \d+ s/);
    await page.locator('[data-object=calc]').waitFor();
    const objects = await page.locator('#objects li').evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.object));
    assert.deepEqual(objects.sort(), ['calc', 'chat', 'counter', 'echo', 'jobs', 'ticker']);
  });

  it('calls a method and shows its result with the timing', async () => {
    const result = await call('calc', 'call:add', '[40, 2]');
    assert.match(result, /^42\n\n\d+\.\d ms$/);
    assert.match(await call('counter', 'call:increment', '[5]'), /^5\n/);
    assert.match(await call('counter', 'get:count', '[]'), /^5\n/);
  });

  it('shows a typed error', async () => {
    assert.match(await call('calc', 'call:divide', '[1, 0]'), /^APPLICATION_ERROR DemoError: division by zero/);
    assert.match(await call('echo', 'call:crash', '[]'), /^INTERNAL InternalError: internal error/);
    assert.equal(await page.getByTestId('result').getAttribute('class'), 'error');
  });

  it('starts, pauses (flow control holds the producer at the window), resumes and cancels a stream', async () => {
    await page.getByTestId('start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=shown]')?.textContent) >= 5);
    await page.getByTestId('pause').click();
    await page.waitForTimeout(2_000); // 20 ticks' worth of time at 100 ms per tick
    const received = Number(await text('received'));
    const held = Number(await text('held'));
    assert.ok(held <= 8 + 1, `held ${held} items with a window of 8`);
    await page.waitForTimeout(600);
    assert.equal(Number(await text('received')), received, 'the server stopped sending while paused');
    await page.getByTestId('pause').click();
    await page.waitForFunction((r) => Number(document.querySelector('[data-testid=received]')?.textContent) > r + 2, received);
    await page.screenshot({ path: screenshot, fullPage: true });
    await page.getByTestId('cancel').click();
    assert.equal(await text('stream-state'), 'cancelled');
    for (let i = 0; i < 100 && gateway.stats().streams.live > 0; i++) await page.waitForTimeout(20);
    assert.equal(gateway.stats().streams.live, 0, 'the server closed the generator');
  });

  it('runs a long job whose progress the server reports through a callback the page handed over', async () => {
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenPercents: string[] }).seenPercents = seen;
      const target = document.querySelector('[data-testid=job-percent]') as HTMLElement;
      new MutationObserver(() => seen.push(target.textContent ?? '')).observe(target, { childList: true, characterData: true, subtree: true });
    });
    await page.getByTestId('job-steps').fill('5');
    await page.getByTestId('job-run').click();
    await waitForText('job-result', /5 steps done/, 5_000);
    assert.equal(await page.getByTestId('job-progress').evaluate((p) => (p as HTMLProgressElement).value), 100);
    const seen = await page.evaluate(() => (window as unknown as { seenPercents: string[] }).seenPercents);
    assert.deepEqual(seen, ['20 %', '40 %', '60 %', '80 %', '100 %'], 'each step arrived while the job ran');
  });

  it('chats: the room calls each page back, joining returns a membership that leaving disposes', async () => {
    await page.getByTestId('chat-join').click();
    await waitForText('chat-state', /in the room as alice/);
    const bob = await browser.newPage();
    try {
      await openSignedIn(bob, 'bob');
      await bob.getByTestId('chat-join').click();
      await waitForText('chat-log', /bob joined/);
      await bob.getByTestId('chat-text').fill('hello alice');
      await bob.getByTestId('chat-send').click();
      await waitForText('chat-log', /bob hello alice/);
      await page.getByTestId('chat-text').fill('hi bob');
      await page.getByTestId('chat-send').click();
      await bob.getByTestId('chat-log').filter({ hasText: /alice hi bob/ }).waitFor({ timeout: 5_000 });
      await page.screenshot({ path: screenshot, fullPage: true });
      await page.getByTestId('chat-leave').click();
      await bob.getByTestId('chat-log').filter({ hasText: /alice left/ }).waitFor({ timeout: 5_000 });
      assert.equal(await text('chat-state'), 'not in the room');
    } finally {
      await bob.close();
    }
  });

  it('reconnects after the server restarts', async () => {
    await gateway.close({ drainMs: 2_000 }); // the page's client leaves on goodbye, then reconnects
    await waitForText('status', /reconnecting/);
    gateway = await startDemoGateway();
    relay.targetPort = gateway.port;
    await waitForText('status', /connected as alice/, 10_000);
    assert.match(await call('calc', 'call:add', '[2, 2]'), /^4\n/);
  });

  it('shows the admin object to an admin token', async () => {
    assert.equal(await page.getByTestId('admin-view').isHidden(), true, 'alice has no admin view');
    await signIn('root', true);
    await page.locator('[data-object=admin]').waitFor();
    assert.match(await call('admin', 'call:stats', '[]'), /"rssBytes": \d+/);
    assert.deepEqual(pageErrors, []);
  });

  it('the admin view: live connections, per-member figures, streams; revoking a subject cuts its page off', async () => {
    const alice = await browser.newPage();
    try {
      await openSignedIn(alice, 'alice');
      assert.equal(await alice.getByTestId('admin-view').isHidden(), true, 'no admin view without the scope');
      await alice.getByTestId('start').click(); // a stream for the streams table
      await page.getByTestId('admin-view').waitFor();
      await page.getByTestId('admin-connections').filter({ hasText: /alice/ }).waitFor({ timeout: 5_000 });
      await page.getByTestId('admin-connections').filter({ hasText: /root/ }).waitFor();
      await page.getByTestId('admin-members').filter({ hasText: /stats/ }).waitFor({ timeout: 5_000 });
      await page.getByTestId('admin-streams').filter({ hasText: /ticker.*watch.*alice/s }).waitFor({ timeout: 5_000 });
      assert.match(await text('admin-summary'), /\d+ connections · \d+ streams · up \d+ s/);
      await page.screenshot({ path: adminScreenshot, fullPage: true });
      await page.getByTestId('revoke-subject').fill('alice');
      await page.getByTestId('revoke').click();
      await waitForText('revoke-result', /revoked alice: 1 connection closed/);
      await alice.getByTestId('status').filter({ hasText: /disconnected \(4409/ }).waitFor({ timeout: 5_000 });
      await page.getByTestId('admin-connections').filter({ hasNotText: /alice/ }).waitFor({ timeout: 5_000 });
      assert.deepEqual(pageErrors, []);
    } finally {
      await alice.close();
    }
  });
});
