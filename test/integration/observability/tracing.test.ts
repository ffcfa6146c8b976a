/**
 * OpenTelemetry tracing with the SDK's in-memory exporter: a client span, the gateway's server span as
 * its child (through the traceparent annotation), user code's own spans nested under the server span
 * (in one process and on an object host behind NATS), stream spans, error status; a malformed
 * traceparent is ignored.
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { callContext, expose, type Gateway } from '../../../src/index.js';
import { client, RawSocket, rejection, startGateway } from '../../support/gateway.js';
import { eventually } from '../../support/eventually.js';
import { natsUnavailable } from '../../support/nats-server.js';
import { TestCluster } from '../../support/nats-cluster.js';

const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** User code that makes a span of its own. */
class Traced {
  @expose async work(n: number): Promise<number> {
    return trace.getTracer('user-code').startActiveSpan('inner work', async (span) => {
      await nextTurn(); // a real await (another macrotask) inside the user's span
      span.setAttribute('correlation', callContext().correlationId);
      span.end();
      return n * 2;
    });
  }

  @expose fail(): never {
    throw new Error('nope');
  }

  @expose *items(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}

const spans = () => exporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

describe('tracing', () => {
  let gateway: Gateway;
  let url: string;
  before(async () => {
    ({ gateway, url } = await startGateway({}));
    gateway.register(new Traced(), 'traced');
  });
  after(() => gateway.close({ drainMs: 0 }));
  beforeEach(() => exporter.reset());

  it('client span -> gateway span -> user code\'s span, one trace', async () => {
    const c = await client(url);
    assert.equal(await c.call('traced', 'work', [21]), 42);
    await eventually(() => named('inner work').length === 1, { what: 'the inner span' });
    const [clientSpan] = spans().filter((s) => s.name === 'traced/work' && s.kind === SpanKind.CLIENT);
    const [serverSpan] = spans().filter((s) => s.name === 'traced/work' && s.kind === SpanKind.SERVER);
    const [inner] = named('inner work');
    assert.ok(clientSpan && serverSpan && inner);
    assert.equal(serverSpan.spanContext().traceId, clientSpan.spanContext().traceId);
    assert.equal(parentOf(serverSpan), clientSpan.spanContext().spanId, 'the gateway span is the client span\'s child');
    assert.equal(parentOf(inner), serverSpan.spanContext().spanId, 'user code\'s span nests under the gateway span');
    assert.equal(serverSpan.attributes['rpc.system'], 'uplink');
    assert.equal(serverSpan.attributes['rpc.method'], 'work');
    assert.equal(serverSpan.attributes['uplink.code'], 'OK');
    assert.equal(serverSpan.attributes['uplink.connection'], c.session.connectionId);
    await c.close();
  });

  it('a failed call\'s spans carry the error code; a stream has one span that ends with the stream', async () => {
    const c = await client(url);
    await rejection(c.call('traced', 'fail', []));
    const items: number[] = [];
    for await (const n of c.stream<number>('traced', 'items', [5])) items.push(n);
    await eventually(() => spans().some((s) => s.name === 'traced/items'), { what: 'the stream span' });
    const failed = spans().find((s) => s.name === 'traced/fail' && s.kind === SpanKind.SERVER)!;
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.attributes['uplink.code'], 'INTERNAL');
    const failedClient = spans().find((s) => s.name === 'traced/fail' && s.kind === SpanKind.CLIENT)!;
    assert.equal(failedClient.status.code, SpanStatusCode.ERROR);
    const stream = spans().find((s) => s.name === 'traced/items')!;
    assert.equal(stream.attributes['uplink.stream'], true);
    assert.equal(stream.attributes['uplink.items'], 5);
    assert.equal(stream.attributes['uplink.code'], 'OK');
    await c.close();
  });

  it('a traceparent from another client is the parent; a malformed one is ignored', async () => {
    const raw = await RawSocket.open(url);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await raw.call({ id: 1, o: 'traced', m: 'work', ann: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }, '[1]');
    await raw.call({ id: 2, o: 'traced', m: 'work', ann: { traceparent: '00-zz-not-a-parent' } }, '[1]');
    await eventually(() => spans().filter((s) => s.name === 'traced/work').length === 2, { what: 'two server spans' });
    const [first, second] = spans().filter((s) => s.name === 'traced/work');
    assert.equal(first!.spanContext().traceId, traceId);
    assert.equal(parentOf(first!), '00f067aa0ba902b7');
    assert.notEqual(second!.spanContext().traceId, traceId);
    assert.equal(parentOf(second!), undefined, 'a new root');
    raw.close();
  });

  it('a call over HTTP: its traceparent header is the parent of the gateway span; user code nests under it', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const answer = await fetch(`${url.replace('ws://', 'http://')}/rpc/traced/work`, { method: 'POST', headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }, body: '[4]' });
    assert.equal(await answer.text(), '8');
    await eventually(() => named('inner work').length === 1 && named('traced/work').length === 1, { what: 'the spans' });
    const [server] = named('traced/work');
    assert.equal(server!.spanContext().traceId, traceId);
    assert.equal(parentOf(server!), '00f067aa0ba902b7');
    assert.equal(server!.attributes['uplink.transport'], 'http');
    assert.equal(server!.attributes['uplink.code'], 'OK');
    assert.equal(parentOf(named('inner work')[0]!), server!.spanContext().spanId);
  });
});

describe('tracing through NATS', { skip: natsUnavailable() }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await TestCluster.start();
    await cluster.addHost((h) => h.register(new Traced(), { id: 'traced' }), 'host-t');
  });
  after(() => cluster?.stop());

  it('user code on an object host nests under the gateway\'s span', async () => {
    const g = await cluster.addGateway();
    await eventually(() => g.remote.hosts.live().length === 1, { what: 'the host' });
    exporter.reset();
    const c = await client(g.url);
    assert.equal(await c.call('traced', 'work', [2]), 4);
    await eventually(() => named('inner work').length === 1, { what: 'the inner span' });
    const serverSpan = spans().find((s) => s.name === 'traced/work' && s.kind === SpanKind.SERVER)!;
    const [inner] = named('inner work');
    assert.equal(inner!.spanContext().traceId, serverSpan.spanContext().traceId);
    assert.equal(parentOf(inner!), serverSpan.spanContext().spanId);
    await c.close();
  });
});
