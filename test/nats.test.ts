/**
 * Objects in another process's host, through a real nats-server (first slice of the scale-out:
 * calls, properties, oneway calls, typed errors, identity and context in headers, no host =
 * OBJECT_UNAVAILABLE). The host here runs in the test's process on its own NATS connection: the
 * gateway reaches it only through NATS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { callContext, ErrorCode, type Gateway } from '../src/index.js';
import { LocalObjectHost } from '../src/host/local-host.js';
import { NatsHostService, NatsObjectHost } from '../src/nats/index.js';
import { Codec } from '../src/protocol/codec.js';
import { client, rejection, startGateway } from './helpers.js';
import { Calculator, Counter, TestError } from './support/fixtures.js';
import { eventually } from './support/eventually.js';
import { natsUnavailable, startNatsServer, type NatsServer } from './support/nats-server.js';

const skip = natsUnavailable();
let server: NatsServer;
let gatewayNats: NatsConnection;
let hostNats: NatsConnection;
let gateway: Gateway;
let url: string;
const failures: unknown[] = [];

before(async () => {
  if (skip) return;
  server = await startNatsServer();
  hostNats = await natsConnect({ servers: server.url, name: 'uplink-host-test' });
  gatewayNats = await natsConnect({ servers: server.url, name: 'uplink-gw-test' });
  const codec = new Codec();
  codec.registerError(TestError, 'TestError');
  const host = new LocalObjectHost({
    codec, maxArgs: 64, maxResultBytes: 1 << 20, onError: (error) => failures.push(error),
    streamLimits: { lifetimeMs: 0, idleMs: 0, lingerMs: 0, maxUnacked: 1000, maxBatch: 64, frameBytes: 16_384, maxFrameBytes: 1 << 20, maxReplayBytes: 1 << 20 },
  });
  host.register(new Calculator(), { id: 'calc' });
  host.register({ whoami: () => ({ subject: callContext().identity?.subject ?? null, cid: callContext().correlationId, remote: callContext().connection.remoteAddress }) }, { id: 'who', expose: ['whoami'] });
  host.register(new Counter(), { id: 'tally' });
  new NatsHostService(hostNats, host).serve(['calc', 'who', 'tally']);
  await hostNats.flush();
  ({ gateway, url } = await startGateway({ remoteObjects: new NatsObjectHost(gatewayNats) }, false));
});
after(async () => {
  if (skip) return;
  await gateway?.close({ drainMs: 0 });
  await gatewayNats?.close();
  await hostNats?.close();
  await server?.stop();
});

describe('objects on a host behind NATS', { skip }, () => {
  it('calls, properties and typed errors pass through NATS; $uplink stays on the gateway', async () => {
    const c = await client(url);
    assert.equal(await c.call('calc', 'add', [40, 2]), 42);
    const error = await rejection(c.call('calc', 'divide', [1, 0]));
    assert.ok(error instanceof TestError, 'a registered error class comes back as itself');
    assert.deepEqual(error.data, { hint: 'pass a non-zero divisor' });
    assert.equal((await rejection(c.call('calc', 'divide', [1, 'x']))).code, ErrorCode.BAD_ARGUMENTS, 'argument schemas run on the host');
    assert.equal((await rejection(c.call('calc', 'nope', []))).code, ErrorCode.UNKNOWN_MEMBER);
    await c.set('tally', 'count', 5);
    assert.equal(await c.get('tally', 'count'), 5);
    assert.equal(await c.proxy<{ ping(): string }>('$uplink').ping(), 'pong');
    await c.close();
  });

  it('carries the correlation id and the client address to the host', async () => {
    const c = await client(url);
    const answer = await c.call('who', 'whoami', [], { correlationId: 'trace-7' }) as { subject: string | null; cid: string; remote: string };
    assert.deepEqual(answer, { subject: null, cid: 'trace-7', remote: '127.0.0.1' });
    await c.close();
  });

  it('an object no host serves is OBJECT_UNAVAILABLE at once (the server\'s no-responders)', async () => {
    const c = await client(url);
    const started = performance.now();
    const error = await rejection(c.call('nobody-serves-this', 'x', []));
    assert.equal(error.code, ErrorCode.OBJECT_UNAVAILABLE);
    assert.ok(performance.now() - started < 1_000, 'not the whole deadline');
    assert.equal(await c.call('calc', 'add', [1, 1]), 2, 'the connection goes on');
    await c.close();
  });

  it('a oneway call reaches the host', async () => {
    const c = await client(url);
    c.oneway('tally', 'note', ['hello over NATS']);
    let notes: string[] = [];
    await eventually(async () => (notes = await c.call('tally', 'notes', []) as string[]).length > 0, { what: 'the note on the host' });
    assert.deepEqual(notes, ['hello over NATS']);
    await c.close();
  });
});
