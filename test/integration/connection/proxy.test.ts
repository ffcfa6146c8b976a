/** Client addresses behind reverse proxies: forwarding headers count only from a configured proxy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { callContext } from '../../../src/index.js';
import { clientAddress } from '../../../src/server/http/client-address.js';
import { startGateway } from '../../support/gateway.js';

/** The address the gateway saw for an upgrade sent with `headers`, as the call context reports it. */
async function seenAddress(url: string, headers: Record<string, string>): Promise<string> {
  const ws = new WebSocket(url, { headers });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send('{"t":"hello","v":[1]}');
  ws.send('{"t":"call","id":1,"o":"whereami","m":"address"}\n[]');
  const answer = await new Promise<string>((resolve) => ws.on('message', (data) => {
    const text = String(data);
    if (text.startsWith('{"t":"result"')) resolve(JSON.parse(text.split('\n')[1]!) as string);
  }));
  ws.close();
  return answer;
}

describe('trustProxy', () => {
  it('ignores forwarding headers by default: a spoofed X-Forwarded-For does not change the address', async () => {
    const { gateway, url } = await startGateway();
    gateway.register({ address: () => callContext().connection.remoteAddress }, 'whereami', { expose: ['address'] });
    assert.equal(await seenAddress(url, { 'X-Forwarded-For': '203.0.113.7' }), '127.0.0.1');
    await gateway.close({ drainMs: 0 });
  });

  it('behind a trusted proxy takes the rightmost untrusted hop of X-Forwarded-For (the default header)', async () => {
    const { gateway, url } = await startGateway({ trustProxy: ['127.0.0.1', '10.0.0.2'] });
    gateway.register({ address: () => callContext().connection.remoteAddress }, 'whereami', { expose: ['address'] });
    assert.equal(await seenAddress(url, { 'X-Forwarded-For': '203.0.113.7' }), '203.0.113.7');
    assert.equal(await seenAddress(url, { 'X-Forwarded-For': '198.51.100.99, 203.0.113.7, 10.0.0.2' }), '203.0.113.7', 'what the client wrote on the left is ignored');
    assert.equal(await seenAddress(url, {}), '127.0.0.1', 'no header: the proxy itself');
    await gateway.close({ drainMs: 0 });
  });

  it('#4 of #26: a client\'s own Forwarded header behind an X-Forwarded-For proxy is ignored', async () => {
    const { gateway, url } = await startGateway({ trustProxy: ['127.0.0.1'] });
    gateway.register({ address: () => callContext().connection.remoteAddress }, 'whereami', { expose: ['address'] });
    // The proxy appended the real peer to X-Forwarded-For and passed the client's Forwarded through.
    assert.equal(await seenAddress(url, { Forwarded: 'for=198.51.100.1', 'X-Forwarded-For': '203.0.113.7' }), '203.0.113.7');
    assert.equal(await seenAddress(url, { Forwarded: 'for=198.51.100.1' }), '127.0.0.1', 'only Forwarded: the proxy itself, never the invented address');
    await gateway.close({ drainMs: 0 });
  });

  it('with trustProxyHeader: forwarded, reads Forwarded only (and ignores X-Forwarded-For)', async () => {
    const { gateway, url } = await startGateway({ trustProxy: ['127.0.0.1'], trustProxyHeader: 'forwarded' });
    gateway.register({ address: () => callContext().connection.remoteAddress }, 'whereami', { expose: ['address'] });
    assert.equal(await seenAddress(url, { Forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"' }), '2001:db8:cafe::17');
    assert.equal(await seenAddress(url, { 'X-Forwarded-For': '203.0.113.7' }), '127.0.0.1');
    await gateway.close({ drainMs: 0 });
  });

  it('per-address connection limits hold when a client invents its Forwarded address', async () => {
    const { gateway, url } = await startGateway({ trustProxy: ['127.0.0.1'], maxConnectionsPerSecPerIp: 2 });
    gateway.register({ address: () => callContext().connection.remoteAddress }, 'whereami', { expose: ['address'] });
    let admitted = 0;
    for (let i = 0; i < 6; i++) {
      const ws = new WebSocket(url, { headers: { Forwarded: `for=198.51.100.${i}`, 'X-Forwarded-For': '203.0.113.7' } });
      const opened = await new Promise<boolean>((resolve) => { ws.once('open', () => resolve(true)); ws.once('error', () => resolve(false)); ws.once('unexpected-response', () => resolve(false)); });
      if (opened) admitted++;
      ws.terminate();
    }
    assert.equal(admitted, 2, 'six upgrades from one real address: two admitted');
    await gateway.close({ drainMs: 0 });
  });

  it('parses the header forms', () => {
    const trusted = new Set(['10.0.0.1']);
    assert.equal(clientAddress('::ffff:10.0.0.1', '192.0.2.1', 'x-forwarded-for', trusted), '192.0.2.1');
    assert.equal(clientAddress('10.0.0.1', 'for=192.0.2.43:4711', 'forwarded', trusted), '192.0.2.43');
    assert.equal(clientAddress('10.0.0.2', '192.0.2.44', 'x-forwarded-for', trusted), '10.0.0.2', 'an untrusted peer\'s headers are ignored');
    assert.equal(clientAddress('10.0.0.1', '', 'x-forwarded-for', trusted), '10.0.0.1');
  });
});
