/**
 * The ways a gateway or host authenticates to NATS, as `uplink serve` and `uplink host` read them
 * (UPLINK_NATS_*, src/nats/connect.ts), against real nats-servers: user and password, an nkey seed
 * file, a token, and TLS verified against a private CA. Each ends with a call through a gateway
 * whose object is on a host connected the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { connect, nkeys } from '@nats-io/transport-node';
import { NatsHostService, NatsObjectHost } from '../../../src/nats/index.js';
import { natsOptionsFromEnv } from '../../../src/nats/connect.js';
import { client, startGateway } from '../../support/gateway.js';
import { makeCertificates } from '../../support/certificates.js';
import { Calculator } from '../../support/fixtures.js';
import { objectHost } from '../../support/nats-cluster.js';
import { natsUnavailable, startNatsServer } from '../../support/nats-server.js';

const skip = natsUnavailable();
const dir = mkdtempSync(join(tmpdir(), 'uplink-nats-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server on `config`; a host and a gateway connected with `env`; one call through them. */
async function callThrough(config: string, env: (port: number) => Record<string, string>, serverArgs: { url?: (port: number) => string } = {}): Promise<number> {
  const file = join(dir, `server-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, config);
  const server = await startNatsServer({ config: file });
  const port = Number(server.url.split(':')[1]);
  const url = serverArgs.url ? serverArgs.url(port) : `nats://127.0.0.1:${port}`;
  try {
    const options = natsOptionsFromEnv({ UPLINK_NATS_URL: url, ...env(port) }, 'uplink-auth-test')!;
    const [hostNats, gatewayNats] = await Promise.all([connect(options), connect(options)]);
    const host = objectHost();
    host.register(new Calculator(), { id: 'calc' });
    const service = new NatsHostService(hostNats, host);
    service.serve();
    const remote = new NatsObjectHost(gatewayNats);
    const { gateway, url: wsUrl } = await startGateway({ remoteObjects: remote }, false);
    const c = await client(wsUrl);
    const answer = await c.call('calc', 'add', [40, 2]) as number;
    await c.close();
    await gateway.close({ drainMs: 0 });
    await service.stop();
    await Promise.all([hostNats.close(), gatewayNats.close()]);
    return answer;
  } finally {
    await server.stop();
  }
}

describe('NATS credentials from UPLINK_NATS_*', { skip }, () => {
  it('user and password (UPLINK_NATS_USER / UPLINK_NATS_PASS); a wrong password is refused', async () => {
    const config = 'authorization { users: [ { user: "uplink", password: "s3cret-pass" } ] }\n';
    assert.equal(await callThrough(config, () => ({ UPLINK_NATS_USER: 'uplink', UPLINK_NATS_PASS: 's3cret-pass' })), 42);
    await assert.rejects(callThrough(config, () => ({ UPLINK_NATS_USER: 'uplink', UPLINK_NATS_PASS: 'wrong' })));
  });

  it('an nkey seed file (UPLINK_NATS_NKEY)', async () => {
    const user = nkeys.createUser();
    const seedFile = join(dir, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()) + '\n');
    const config = `authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }\n`;
    assert.equal(await callThrough(config, () => ({ UPLINK_NATS_NKEY: seedFile })), 42);
    const other = join(dir, 'other.nk');
    writeFileSync(other, new TextDecoder().decode(nkeys.createUser().getSeed()));
    await assert.rejects(callThrough(config, () => ({ UPLINK_NATS_NKEY: other })), 'another key is refused');
  });

  it('a token (UPLINK_NATS_TOKEN)', async () => {
    assert.equal(await callThrough('authorization { token: "t0ken-for-uplink" }\n', () => ({ UPLINK_NATS_TOKEN: 't0ken-for-uplink' })), 42);
  });

  it('TLS to NATS verified against a private CA (UPLINK_NATS_CA, tls:// URL)', async () => {
    const certs = makeCertificates();
    try {
      const config = `tls { cert_file: "${certs.certFile}", key_file: "${certs.keyFile}" }\n`;
      assert.equal(await callThrough(config, () => ({ UPLINK_NATS_CA: certs.caFile }), { url: (port) => `tls://127.0.0.1:${port}` }), 42);
      await assert.rejects(callThrough(config, () => ({}), { url: (port) => `tls://127.0.0.1:${port}` }), 'without the CA the server is not trusted');
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
});
