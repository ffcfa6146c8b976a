/**
 * The object-host seam: `new Gateway({ objectHost })` sends every call, stream and connection event to
 * the given host instead of the local registry, with arguments still encoded, and observers read
 * `gateway.stats()` instead of reaching into the registry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostCall, ObjectHost, ReplySink, StreamControl, StreamSink } from '../../../src/host/object-host.js';
import { Gateway } from '../../../src/index.js';
import { client, startGateway, testRuntime } from '../../support/gateway.js';

/** A host that records what reaches it and answers from the call itself. */
class RecordingHost implements ObjectHost {
  readonly calls: HostCall[] = [];
  released: string[] = [];
  shutdowns = 0;

  invoke(call: HostCall, reply: ReplySink): void {
    this.calls.push(call);
    reply.resolve({ text: JSON.stringify({ target: `${call.object}.${call.member}`, args: call.args.text, cid: call.context.correlationId }) });
  }

  openStream(call: HostCall, upTo: number, sink: StreamSink): StreamControl | undefined {
    this.calls.push(call);
    sink.opened('recorded-stream-key-000000');
    sink.items(0, { text: JSON.stringify([upTo, 'b']) }, 2);
    sink.end(2);
    const control = { live: true, grant: () => { control.live = false; sink.released(); }, cancel() {}, detach() {}, drained() {} };
    return control;
  }

  resumeStream(): StreamControl | undefined {
    return undefined;
  }

  releaseConnection(connection: { id: string }): void {
    this.released.push(connection.id);
  }

  releaseReference(connection: { id: string }, ref: string, _received?: number): void {
    this.released.push(`${connection.id}/${ref}`);
  }

  endStreams(): number {
    return 0;
  }

  streamStats() {
    return { live: 7, lingering: 3 };
  }

  shutdown(): void {
    this.shutdowns++;
  }
}

describe('object host seam', () => {
  it('routes calls, streams and connection ends to the configured object host, arguments still encoded', async () => {
    const host = new RecordingHost();
    const { gateway, url } = await startGateway({ objectHost: host }, false);
    const c = await client(url);
    const answer = await c.call('anything', 'method', [1, 'two']) as { target: string; args: string };
    assert.deepEqual({ target: answer.target, args: answer.args }, { target: 'anything.method', args: '[1,"two"]' });
    const items: unknown[] = [];
    for await (const item of c.proxy<{ feed(): AsyncIterable<unknown> }>('remote').feed()) items.push(item);
    assert.equal(items.length, 2);
    assert.equal(items[1], 'b');
    assert.deepEqual(host.calls.map((call) => `${call.object}.${call.member}`), ['anything.method', 'remote.feed']);
    assert.deepEqual(gateway.stats().streams, { live: 7, lingering: 3 }, 'stats come from the object host');
    assert.throws(() => gateway.register({ ping: () => 1 }, 'local', { expose: ['ping'] }), /objectHost/);
    await c.close();
    await gateway.close({ drainMs: 0 });
    assert.equal(host.released.length, 1, 'the connection end reached the host');
    assert.equal(host.shutdowns, 1);
  });

  it('defaults to the local registry, whose streams show in stats()', async () => {
    const gateway = new Gateway({ port: 0, runtime: testRuntime });
    assert.equal(gateway.objectHost, gateway.registry);
    assert.deepEqual(gateway.stats(), { connections: 0, streams: { live: 0, lingering: 0 } });
  });
});
