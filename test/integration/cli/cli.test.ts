/**
 * The `uplink` command line as an operator runs it (`node --import tsx src/cli/uplink.ts`): help on
 * stdout with exit 0, misuse with exit 2, and `uplink revoke` end to end: a real nats-server on
 * docs/nats-server.conf, an `uplink serve` gateway and an `uplink host`, clients whose sockets close
 * when the operator revokes their subject or their token id.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mintDevToken } from '../../../src/auth/dev-tokens.js';
import type { UplinkClient } from '../../../src/client/client.js';
import { client } from '../../support/gateway.js';
import { natsUnavailable, startNatsServer, type NatsServer } from '../../support/nats-server.js';
import { startUplink, type UplinkProcess } from '../../support/processes.js';

const CLI = new URL('../../../src/cli/uplink.ts', import.meta.url).pathname;
const CONFIG = new URL('../../../docs/nats-server.conf', import.meta.url).pathname;
const OBJECTS = new URL('../../support/cluster-objects.ts', import.meta.url).pathname;
const NO_OBJECTS = new URL('../../support/cluster-gateway.ts', import.meta.url).pathname;

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

/** Runs the CLI to its end. */
function uplink(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 })));
}

describe('uplink help', () => {
  for (const arg of ['--help', '-h', 'help']) {
    it(`uplink ${arg} prints the usage on stdout and exits 0`, async () => {
      const run = await uplink([arg]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^usage:\n/);
      assert.match(run.stdout, /uplink revoke <subject>/);
      assert.equal(run.stderr, '');
    });
  }

  it('an unknown command, no command or a bad revoke is misuse: the usage on stderr, exit 2', async () => {
    for (const args of [['frobnicate'], [], ['revoke'], ['revoke', 'a', 'b'], ['revoke', 'a', '--token-id', 'j'], ['revoke', '--nope']]) {
      const run = await uplink(args, { UPLINK_NATS_URL: 'nats://127.0.0.1:1' });
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /usage:/);
      assert.equal(run.stdout, '');
    }
  });

  it('uplink revoke without UPLINK_NATS_URL is misuse (exit 2); with NATS unreachable it fails within seconds (exit 1)', async () => {
    const noUrl = await uplink(['revoke', 'alice'], { UPLINK_NATS_URL: '' });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /UPLINK_NATS_URL/);
    const unreachable = await uplink(['revoke', 'alice'], { UPLINK_NATS_URL: 'nats://127.0.0.1:1' });
    assert.equal(unreachable.code, 1, unreachable.stderr);
    assert.ok(unreachable.ms < 8_000, `${Math.round(unreachable.ms)} ms`);
  });
});

const skip = natsUnavailable();
const PASSWORDS = {
  UPLINK_NATS_GATEWAY_PASSWORD: `p${randomBytes(18).toString('hex')}`,
  UPLINK_NATS_HOST_PASSWORD: `p${randomBytes(18).toString('hex')}`,
  UPLINK_NATS_OPS_PASSWORD: `p${randomBytes(18).toString('hex')}`,
};
const SECRET = randomBytes(32).toString('hex');

describe('uplink revoke against a real cluster', { skip, timeout: 60_000 }, () => {
  let server: NatsServer;
  const started: UplinkProcess[] = [];
  const clients: UplinkClient[] = [];
  let gatewayUrl: string;
  const nats = (user: 'gateway' | 'host' | 'ops') => ({
    UPLINK_NATS_URL: `nats://${server.url}`, UPLINK_NATS_USER: `uplink-${user}`,
    UPLINK_NATS_PASS: PASSWORDS[`UPLINK_NATS_${user.toUpperCase() as 'GATEWAY' | 'HOST' | 'OPS'}_PASSWORD`],
  });
  const connectAs = async (sub: string) => {
    const token = await mintDevToken(SECRET, { sub, ttlSec: 600 });
    const c = await client(gatewayUrl, { token });
    clients.push(c);
    return { c, jti: (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti };
  };

  before(async () => {
    if (skip) return;
    server = await startNatsServer({ config: CONFIG, env: PASSWORDS });
    const [host, gateway] = await Promise.all([
      startUplink('host', OBJECTS, { ...nats('host'), UPLINK_HOST_NAME: 'cli-host' }),
      startUplink('serve', NO_OBJECTS, { ...nats('gateway'), UPLINK_JWT_SECRET: SECRET }),
    ]);
    started.push(host, gateway);
    gatewayUrl = gateway.ready.url as string;
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const p of started) p.signal('SIGKILL');
    await Promise.all(started.map((p) => p.exited));
    await server?.stop();
  });

  it('uplink revoke alice (as uplink-ops) closes alice\'s connection (4409) and leaves bob\'s', async () => {
    const alice = await connectAs('alice');
    const bob = await connectAs('bob');
    assert.equal(await alice.c.call('anywhere', 'where', []), 'cli-host');
    const run = await uplink(['revoke', 'alice'], nats('ops'));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await alice.c.whenClosed).code, 4409);
    assert.equal(await bob.c.call('anywhere', 'where', []), 'cli-host', 'another subject stays connected');
  });

  it('uplink revoke --token-id <jti> (as uplink-gateway) closes that token\'s connection only', async () => {
    const first = await connectAs('carol');
    const second = await connectAs('carol');
    const run = await uplink(['revoke', '--token-id', first.jti], nats('gateway'));
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await first.c.whenClosed).code, 4409);
    assert.equal(await second.c.call('anywhere', 'where', []), 'cli-host', 'the same subject\'s other token stays');
  });

  it('a user without the permission (uplink-host) is refused: exit 1, and nobody is disconnected', async () => {
    const dave = await connectAs('dave');
    const run = await uplink(['revoke', 'dave'], nats('host'));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /refused/i);
    assert.equal(await dave.c.call('anywhere', 'where', []), 'cli-host');
  });
});
