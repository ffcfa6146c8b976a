/**
 * The demo cluster in a real browser: `npm run demo:cluster` (nats-server, two object hosts, two
 * gateways, each its own process) driven by Debian's chromium. The page shows which host answered a
 * call; then the page's gateway is killed mid-stream and the chart goes on through the other one.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { natsUnavailable } from '../support/nats-server.js';

const CLUSTER = fileURLToPath(new URL('../../src/demo/cluster.ts', import.meta.url));
const skip = natsUnavailable();

interface Ready { page: string; gateways: Array<{ name: string; url: string; pid: number }>; hosts: Array<{ name: string; pid: number }> }

let cluster: ChildProcess;
let ready: Ready;
let browser: Browser;
let page: Page;
let pageErrors: string[];

before(async () => {
  if (skip) return;
  cluster = spawn(process.execPath, ['--import', 'tsx', CLUSTER], {
    env: { ...process.env, UPLINK_PORT: '0', UPLINK_NATS_HEARTBEAT_MS: '300', UPLINK_LOG_LEVEL: 'warn', UPLINK_JWT_SECRET: '', UPLINK_DEMO_TOKENS: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the demo cluster did not start within 60 s')), 60_000);
    let buffer = '';
    cluster.stdout!.on('data', (data) => {
      buffer += String(data);
      for (const line of buffer.split('\n')) {
        if (!line.includes('demo cluster ready')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Ready);
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    cluster.once('exit', (code) => reject(new Error(`the demo cluster exited with ${code}`)));
  });
  ({ browser, page, errors: pageErrors } = await launchChromium());
});
after(async () => {
  if (skip) return;
  await browser?.close();
  if (cluster && cluster.exitCode === null) {
    cluster.kill('SIGTERM');
    await once(cluster, 'exit');
  }
});

const text = (testId: string) => page.getByTestId(testId).innerText();
const number = (testId: string) => text(testId).then(Number);

describe('demo cluster', { skip }, () => {
  it('the page shows which host answered a call', async () => {
    await page.goto(ready.page);
    await page.getByTestId('name').fill('alice');
    await page.getByTestId('demo-signin').click();
    await page.getByTestId('status').filter({ hasText: /connected as alice/ }).waitFor({ timeout: 10_000 });
    assert.equal(await text('gateway'), `via ${ready.gateways[0]!.url}`);
    await page.locator('[data-object=calc]').waitFor();
    await page.getByTestId('object').selectOption('calc');
    await page.getByTestId('member').selectOption('call:add');
    await page.getByTestId('args').fill('[40, 2]');
    await page.getByTestId('call').click();
    await page.getByTestId('served-by').filter({ hasText: /served by host-[12]/ }).waitFor({ timeout: 5_000 });
    assert.match(await text('result'), /^42\n\n\d+\.\d ms · served by host-[12]$/);
  });

  it('a chat across gateways: the room on one host calls each page back through that page\'s own gateway', async () => {
    await page.getByTestId('chat-join').click();
    await page.getByTestId('chat-state').filter({ hasText: /in the room as alice/ }).waitFor({ timeout: 5_000 });
    const bob = await browser.newPage();
    try {
      const second = ready.gateways[1]!.url;
      await bob.goto(`${second.replace(/^ws/, 'http')}/?gateways=${encodeURIComponent(second)}`);
      await bob.getByTestId('name').fill('bob');
      await bob.getByTestId('demo-signin').click();
      await bob.getByTestId('status').filter({ hasText: /connected as bob/ }).waitFor({ timeout: 10_000 });
      await bob.getByTestId('chat-join').click();
      await page.getByTestId('chat-log').filter({ hasText: /bob joined/ }).waitFor({ timeout: 5_000 });
      await bob.getByTestId('chat-text').fill('hello from the other gateway');
      await bob.getByTestId('chat-send').click();
      await page.getByTestId('chat-log').filter({ hasText: /bob hello from the other gateway/ }).waitFor({ timeout: 5_000 });
      await bob.getByTestId('chat-leave').click();
      await page.getByTestId('chat-log').filter({ hasText: /bob left/ }).waitFor({ timeout: 5_000 });
    } finally {
      await bob.close();
    }
  });

  it('killing the page\'s gateway mid-stream: the chart goes on through the other gateway', async () => {
    await page.getByTestId('start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=shown]')?.textContent) >= 10);
    process.kill(ready.gateways[0]!.pid, 'SIGKILL');
    const atKill = await number('shown');
    await page.getByTestId('gateway').filter({ hasText: ready.gateways[1]!.url }).waitFor({ timeout: 10_000 });
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=shown]')?.textContent) >= n + 20, atKill, { timeout: 15_000 });
    assert.equal(await text('stream-state'), 'streaming', 'the stream never failed');
    assert.equal(await number('received'), await number('shown') + await number('held'));
    assert.deepEqual(pageErrors, []);
  });
});
