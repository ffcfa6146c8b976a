/** Errors, batches, deadlines, cancellation and the call context, over a real gateway and the Node client. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callContext, ConnectionClosedError, ErrorCode, UplinkError, type Gateway } from '../../../src/index.js';
import { TestError } from '../../support/fixtures.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { eventually } from '../../support/eventually.js';
import { client, rejection, startGateway, type LogCapture } from '../../support/gateway.js';

type Calc = { add(a: number, b: number): number; divide(a: number, b: number): number };
type Echo = { echo<T>(v: T): T; fail(m: string): never; crash(): never; slow(ms: number): string; whoami(): { correlationId: string } };

const aborts: string[] = [];
let waits = 0; // calls of probe.wait that reached the method
const disposed: string[] = [];
let gateway: Gateway;
let url: string;
let logs: LogCapture;
const connected: string[] = [];
const disconnected: Array<[string, number]> = [];
before(async () => {
  ({ gateway, url, logs } = await startGateway({
    onConnect: (c) => connected.push(c.id),
    onDisconnect: (c, code) => disconnected.push([c.id, code]),
  }));
  gateway.register({
    async wait(ms: number) {
      const ctx = callContext();
      waits++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          aborts.push((ctx.signal.reason as UplinkError).code);
          resolve();
        });
      });
      return ctx.deadline !== undefined;
    },
    openResource(name: string) {
      callContext().connection.track({ close: () => void disposed.push(name) });
      return name;
    },
    async context() {
      await nextTurn(); // a real await (another macrotask): the context must survive it
      const ctx = callContext();
      return { connection: ctx.connection.id, remote: ctx.connection.remoteAddress, annotations: ctx.annotations ?? null };
    },
    rejectWithString() {
      return Promise.reject('plain string');
    },
  }, 'probe', { expose: ['wait', 'openResource', 'context', 'rejectWithString'] });
});
after(() => gateway.close({ drainMs: 0 }));

describe('errors', () => {
  it('brings registered error classes back as the same class, with data', async () => {
    const c = await client(url);
    const error = await rejection(c.proxy<Calc>('calc').divide(1, 0));
    assert.ok(error instanceof TestError);
    assert.equal(error.message, 'division by zero');
    assert.equal((error as unknown as UplinkError).code, ErrorCode.APPLICATION_ERROR);
    assert.deepEqual(error.data, { hint: 'pass a non-zero divisor' });
    await c.close();
  });

  it('turns unregistered errors into INTERNAL with no message, stack or path; the hook gets the full error', async () => {
    const c = await client(url);
    const error = await rejection(c.proxy<Echo>('echo').crash());
    assert.equal(error.code, ErrorCode.INTERNAL);
    assert.equal(error.message, 'internal error');
    assert.equal(error.data, undefined);
    assert.ok(!String(error.stack).includes('/srv/app'));
    const logged = logs.lines.find((l) => l.msg === 'user code failed' && l.member === 'crash');
    assert.match(JSON.stringify(logged), /secret internal detail/);
    assert.equal((await rejection(c.proxy<Record<string, () => Promise<void>>>('probe').rejectWithString!())).code, ErrorCode.INTERNAL);
    assert.equal(await c.proxy<Calc>('calc').add(1, 1), 2);
    await c.close();
  });

  it('sends real messages and stacks only with debugErrors on', async () => {
    const { gateway: g, url: u } = await startGateway({ debugErrors: true });
    const c = await client(u);
    const error = await rejection(c.proxy<Echo>('echo').crash());
    assert.equal(error.code, ErrorCode.INTERNAL);
    assert.match(error.message, /secret internal detail/);
    assert.match(String((error.data as { stack: string }).stack), /fixtures\.ts/);
    await c.close();
    await g.close({ drainMs: 0 });
  });

  it('logs each failed call with object, method, code, duration and correlation id, never argument values', async () => {
    const c = await client(url);
    await rejection(c.proxy<Calc>('calc').$call('divide', [987654321, 0], { correlationId: 'corr-9' }));
    const line = logs.lines.find((l) => l.msg === 'call failed' && l.cid === 'corr-9');
    assert.ok(line, 'a failed-call line');
    assert.equal(line.call, 'calc.divide');
    assert.equal(line.code, ErrorCode.APPLICATION_ERROR);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!logs.text().includes('987654321'));
    await c.close();
  });
});

describe('batch', () => {
  it('stops at the first error and leaves the rest unrun (Pyro semantics)', async () => {
    const c = await client(url);
    const results = await c.batch([
      { object: 'calc', method: 'add', args: [1, 2] },
      { object: 'calc', method: 'divide', args: [1, 0] },
      { object: 'calc', method: 'add', args: [3, 4] },
    ], { stopOnError: true });
    assert.deepEqual(results[0], { ok: true, value: 3 });
    assert.ok(!results[1]!.ok && 'error' in results[1]! && results[1].error instanceof TestError);
    assert.deepEqual(results[2], { ok: false, notRun: true });
    await c.close();
  });

  it('runs every call when asked, including properties and binary values', async () => {
    const c = await client(url);
    const bytes = new Uint8Array([9, 8, 7]);
    const results = await c.batch([
      { object: 'calc', method: 'divide', args: [1, 0] },
      { object: 'echo', method: 'echo', args: [bytes] },
      { object: 'counter', method: 'count', kind: 'get' },
      { object: 'nope', method: 'x' },
      { object: 'echo', method: 'echo', args: [new Map([[1, 2n]])] },
    ], { stopOnError: false });
    assert.equal(results[0]!.ok, false);
    assert.deepEqual(results[1], { ok: true, value: bytes });
    assert.deepEqual(results[2], { ok: true, value: 0 });
    assert.equal(!results[3]!.ok && 'error' in results[3]! && results[3].error.code, ErrorCode.UNKNOWN_OBJECT);
    assert.deepEqual(results[4], { ok: true, value: new Map([[1, 2n]]) });
    await c.close();
  });
});

describe('deadlines and cancellation', () => {
  it('a client timeout travels as a deadline: the method sees it and is aborted when it passes', async () => {
    const c = await client(url);
    const probe = c.proxy<{ wait(ms: number): boolean }>('probe', { timeoutMs: 100 });
    assert.equal(await probe.wait(1), true);
    const before = aborts.length;
    const error = await rejection(probe.wait(2_000));
    assert.equal(error.code, ErrorCode.DEADLINE_EXCEEDED);
    await eventually(() => aborts.length > before, { timeoutMs: 500, what: 'the method aborted' });
    assert.equal(aborts.at(-1), ErrorCode.DEADLINE_EXCEEDED);
    await c.close();
  });

  it('a per-call timeout overrides the proxy default ($with and $call)', async () => {
    const c = await client(url);
    const echo = c.proxy<Echo>('echo', { timeoutMs: 5_000 });
    assert.equal((await rejection(echo.$with({ timeoutMs: 30 }).slow(1_000))).code, ErrorCode.DEADLINE_EXCEEDED);
    assert.equal((await rejection(echo.$call('slow', [1_000], { timeoutMs: 30 }))).code, ErrorCode.DEADLINE_EXCEEDED);
    assert.equal(await echo.slow(1), 'slept 1 ms');
    await c.close();
  });

  it('aborting a call with an AbortSignal tells the server, which aborts the method', async () => {
    const c = await client(url);
    const controller = new AbortController();
    const before = aborts.length;
    const started = waits;
    const pending = c.proxy<{ wait(ms: number): boolean }>('probe').$call('wait', [5_000], { signal: controller.signal });
    await eventually(() => waits > started, { what: 'the method running' });
    controller.abort();
    assert.equal((await rejection(pending)).code, ErrorCode.CANCELLED);
    await eventually(() => aborts.length > before, { timeoutMs: 500, what: 'the method aborted' });
    assert.equal(aborts.at(-1), ErrorCode.CANCELLED);
    assert.equal((await rejection(c.call('calc', 'add', [1, 2], { signal: controller.signal }))).code, ErrorCode.CANCELLED);
    await c.close();
  });
});

describe('call context and connection hooks', () => {
  it('carries connection id, remote address and annotations across awaits', async () => {
    const c = await client(url);
    const ctx = await c.call('probe', 'context', [], { annotations: { tenant: 'acme' } }) as { connection: string; remote: string; annotations: unknown };
    assert.equal(ctx.connection, c.session.connectionId);
    assert.match(ctx.remote, /127\.0\.0\.1/);
    assert.deepEqual(ctx.annotations, { tenant: 'acme' });
    await c.close();
  });

  it('generates a correlation id when the client sends none', async () => {
    const c = await client(url);
    const who = await c.proxy<Echo>('echo').whoami();
    assert.match(who.correlationId, new RegExp(`^${c.session.connectionId}\\.\\d+$`));
    await c.close();
  });

  it('closes tracked resources and calls onConnect / onDisconnect when the connection closes', async () => {
    const c = await client(url);
    const id = c.session.connectionId;
    await c.call('probe', 'openResource', ['db-handle']);
    assert.ok(connected.includes(id));
    await c.close();
    await eventually(() => disposed.includes('db-handle'), { timeoutMs: 500, what: 'the tracked resource closed' });
    assert.deepEqual(disconnected.find(([cid]) => cid === id), [id, 1000]);
  });
});

describe('client behaviour', () => {
  it('fails calls made after close with ConnectionClosedError', async () => {
    const c = await client(url);
    await c.close();
    const error = await rejection(c.proxy<Calc>('calc').add(1, 2));
    assert.ok(error instanceof ConnectionClosedError);
    assert.equal(error.code, ErrorCode.CONNECTION_CLOSED);
  });

  it('does not treat the proxy as a thenable, and carries binary both ways', async () => {
    const c = await client(url);
    const echo = c.proxy<Echo>('echo');
    assert.equal(await Promise.resolve(echo), echo);
    const big = new Uint8Array(40_000).map((_, i) => (i * 7) & 0xff);
    const back = await echo.echo(big);
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual(Buffer.from(back).equals(Buffer.from(big)), true);
    const ab = await echo.echo(big.buffer.slice(0, 10));
    assert.ok(ab instanceof ArrayBuffer);
    await c.close();
  });
});
