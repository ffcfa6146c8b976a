/** Client callbacks over a real gateway: the server calls functions and objects the client handed over. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callback, exposeLocal, type Callback, type UplinkClient } from '../../../src/client/index.js';
import { ErrorCode, expose, UplinkError, type ClientCallback, type ClientObject, type Gateway } from '../../../src/index.js';
import { TestError } from '../../support/fixtures.js';
import { eventually } from '../../support/eventually.js';
import { client, rejection, startGateway } from '../../support/gateway.js';

type Progress = (pct: number) => void;
type Greeter = { greet(name: string): string; shout(name: string): string };

class Jobs {
  readonly subscribers = new Set<ClientCallback<(message: string) => void>>();

  @expose async longJob(steps: number, progress: ClientCallback<Progress>): Promise<string> {
    for (let i = 1; i <= steps; i++) await progress(Math.round((100 * i) / steps));
    return 'done';
  }

  @expose subscribe(handler: ClientCallback<(message: string) => void>): number {
    this.subscribers.add(handler);
    return this.subscribers.size;
  }

  /** Delivers to every live subscriber; released ones are dropped. Returns how many got it. */
  @expose async publish(message: string): Promise<number> {
    let delivered = 0;
    for (const handler of [...this.subscribers]) {
      if (!handler.live) {
        this.subscribers.delete(handler);
        continue;
      }
      try {
        await handler(message);
        delivered++;
      } catch (error) {
        // Released, or its client is gone (with objects on a host behind NATS, the host hears of a
        // closed connection up to a heartbeat later than the gateway).
        const code = (error as UplinkError).code;
        if (code === ErrorCode.REF_RELEASED || code === ErrorCode.CONNECTION_CLOSED) this.subscribers.delete(handler);
        else throw error;
      }
    }
    return delivered;
  }

  @expose async askObject(greeter: ClientObject<Greeter>): Promise<string> {
    return `${await greeter.greet('server')} / ${await greeter.shout('server')}`;
  }

  /** What the client's failure looks like on the server. */
  @expose async failing(fn: ClientCallback<() => void>): Promise<Record<string, unknown>> {
    try {
      await fn();
      return { ok: true };
    } catch (error) {
      const e = error as UplinkError;
      return { code: e.code, name: e.name, message: e.message, data: e.data, registered: error instanceof TestError };
    }
  }

  /** Sends the callback back: the client gets its own function. */
  @expose echo(fn: ClientCallback): ClientCallback {
    return fn;
  }

  @expose async releaseThenCall(fn: ClientCallback): Promise<string> {
    fn.release();
    return rejectionCode(fn());
  }

  /** Calls `fn` n times at once; reports each outcome's code (or 'ok'). */
  @expose async flood(fn: ClientCallback<() => Promise<void>>, n: number): Promise<string[]> {
    return Promise.all(Array.from({ length: n }, () => rejectionCode(fn()).catch(() => 'ok')));
  }

  @expose async slow(fn: ClientCallback<() => Promise<void>>): Promise<string> {
    return rejectionCode(fn());
  }

  /** A callback that calls the server that calls back (re-entrancy). */
  @expose async nested(fn: ClientCallback<(depth: number) => number>, depth: number): Promise<number> {
    return (await fn(depth)) + 1;
  }

  @expose async takeMany(fns: ClientCallback[]): Promise<number> {
    for (const fn of fns) fn.release();
    return fns.length;
  }
}

async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return String((error as UplinkError).code);
  }
  throw new Error('resolved');
}

interface JobsApi {
  longJob(steps: number, progress: Callback<Progress>): string;
  subscribe(handler: Callback<(message: string) => void>): number;
  publish(message: string): number;
  askObject(greeter: unknown): string;
  failing(fn: Callback<() => void>): Record<string, unknown>;
  echo(fn: Callback<() => void>): unknown;
  releaseThenCall(fn: Callback<() => void>): string;
  flood(fn: Callback<() => Promise<void>>, n: number): string[];
  slow(fn: Callback<() => Promise<void>>): string;
  nested(fn: Callback<(depth: number) => Promise<number>>, depth: number): number;
  takeMany(fns: Array<Callback<() => void>>): number;
}

describe('client callbacks', () => {
  let gateway: Gateway;
  let url: string;
  let jobs: Jobs;
  let c: UplinkClient;
  before(async () => {
    ({ gateway, url } = await startGateway({ maxCallbacksInflight: 4, callbackTimeoutMs: 300, maxRefsPerConnection: 1_024 }));
    jobs = new Jobs();
    gateway.register(jobs, 'jobs');
    c = await client(url);
  });
  after(async () => {
    await c.close();
    await gateway.close({ drainMs: 0 });
  });

  it('a method calls a client function and awaits each call (progress)', async () => {
    const seen: number[] = [];
    const result = await c.proxy<JobsApi>('jobs').longJob(4, callback((pct: number) => void seen.push(pct)));
    assert.equal(result, 'done');
    assert.deepEqual(seen, [25, 50, 75, 100]);
  });

  it('a kept callback is called after the method returned, until the client releases it (subscription)', async () => {
    const other = await client(url);
    try {
      const mine: string[] = [];
      const theirs: string[] = [];
      const handler = callback((m: string) => void mine.push(m));
      await c.proxy<JobsApi>('jobs').subscribe(handler);
      await other.proxy<JobsApi>('jobs').subscribe(callback((m: string) => void theirs.push(m)));
      assert.equal(await other.proxy<JobsApi>('jobs').publish('hello'), 2);
      assert.deepEqual(mine, ['hello']);
      assert.deepEqual(theirs, ['hello']);
      assert.ok(c.refs.holds(handler));
      c.release(handler);
      assert.ok(!c.refs.holds(handler));
      // The server's next call to it finds it released (the release frame went first on the socket).
      assert.equal(await other.proxy<JobsApi>('jobs').publish('again'), 1);
      assert.deepEqual(mine, ['hello']);
      assert.deepEqual(theirs, ['hello', 'again']);
    } finally {
      await other.close();
    }
    // The other client's subscription ended with its connection.
    assert.equal(await c.proxy<JobsApi>('jobs').publish('alone'), 0);
  });

  it('a client object exposes only the members it lists', async () => {
    const greeter = { greet: (n: string) => `hi ${n}`, shout: (n: string) => `HI ${n.toUpperCase()}`, secret: () => 'never' };
    assert.equal(await c.proxy<JobsApi>('jobs').askObject(exposeLocal(greeter, ['greet', 'shout'])), 'hi server / HI SERVER');
    assert.throws(() => exposeLocal(greeter, ['nothing' as never]), /not a method/);
    assert.throws(() => exposeLocal({ release: () => 1 }, ['release']), /cannot be exposed/);
  });

  it('a client failure reaches the method typed: registered classes keep name, message and data; others are INTERNAL', async () => {
    const jobsProxy = c.proxy<JobsApi>('jobs');
    const registered = await jobsProxy.failing(callback(() => { throw new TestError('client says no', { hint: 'x' }); }));
    assert.deepEqual(registered, { code: ErrorCode.APPLICATION_ERROR, name: 'TestError', message: 'client says no', data: { hint: 'x' }, registered: true });
    const typed = await jobsProxy.failing(callback(() => { throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'bad pct'); }));
    assert.equal(typed.code, ErrorCode.BAD_ARGUMENTS);
    assert.equal(typed.message, 'bad pct');
    const plain = await jobsProxy.failing(callback(() => { throw new Error('/home/alice/secret path'); }));
    assert.equal(plain.code, ErrorCode.INTERNAL);
    assert.doesNotMatch(String(plain.message), /alice/);
  });

  it('a callback handed back by the server is the client\'s own function again', async () => {
    const fn = () => 42;
    const back = await c.proxy<JobsApi>('jobs').echo(callback(fn));
    assert.ok(back instanceof Object && (back as { target: unknown }).target === fn);
  });

  it('a callback the server released gets REF_RELEASED there, and the client forgets it', async () => {
    const fn = callback(() => 1);
    assert.equal(await c.proxy<JobsApi>('jobs').releaseThenCall(fn), ErrorCode.REF_RELEASED);
    await eventually(() => !c.refs.holds(fn), { what: 'the release frame' });
  });

  it('at most maxCallbacksInflight callbacks wait per connection: the rest get BUSY at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let invoked = 0;
    const outcomes = c.proxy<JobsApi>('jobs').flood(callback(() => (invoked++, gate)), 10);
    await eventually(() => invoked === 4, { what: 'four callbacks waiting on the client' });
    release();
    const codes = await outcomes;
    assert.equal(codes.filter((x) => x === 'ok').length, 4);
    assert.equal(codes.filter((x) => x === ErrorCode.BUSY).length, 6);
  });

  it('a client that does not answer: DEADLINE_EXCEEDED after callbackTimeoutMs, and its late answer is dropped', async () => {
    let answered = false;
    let answerLate!: () => void;
    const late = new Promise<void>((resolve) => (answerLate = resolve));
    const started = performance.now();
    const code = await c.proxy<JobsApi>('jobs').slow(callback(async () => {
      await late; // the answer leaves only after the server gave up on it
      answered = true;
    }));
    assert.equal(code, ErrorCode.DEADLINE_EXCEEDED);
    assert.ok(performance.now() - started < 550, 'the callback deadline, not the answer, ended the wait');
    answerLate();
    await eventually(() => answered, { timeoutMs: 2_000, what: 'the slow callback to finish' });
    assert.equal(await c.proxy<{ add(a: number, b: number): number }>('calc').add(1, 2), 3, 'the connection still serves');
  });

  it('re-entrant: a callback calls the server, which calls back, three levels deep', async () => {
    const jobsProxy = c.proxy<JobsApi>('jobs');
    const fn = callback(async (depth: number): Promise<number> => (depth <= 0 ? 0 : jobsProxy.nested(fn, depth - 1)));
    assert.equal(await jobsProxy.nested(fn, 3), 4);
  });

  it('callbacks end with their connection: the method sees CONNECTION_CLOSED, the client forgets them', async () => {
    const other = await client(url);
    let invoked = false;
    const pending = other.proxy<JobsApi>('jobs').slow(callback(() => { invoked = true; return new Promise<void>(() => {}); }));
    await eventually(() => invoked, { what: 'the callback waiting on the client' });
    await other.close();
    await assert.rejects(pending, (e: UplinkError) => e.code === ErrorCode.CONNECTION_CLOSED);
    assert.deepEqual(other.refs.size, { exported: 0, imported: 0 });
  });

  it('a call with more callbacks than maxRefsPerConnection is refused with LIMIT_EXCEEDED, and nothing is kept', async () => {
    const small = await startGateway({ maxRefsPerConnection: 3 });
    small.gateway.register(new Jobs(), 'jobs');
    const sc = await client(small.url);
    try {
      const many = Array.from({ length: 4 }, () => callback(() => 1));
      const error = await rejection(sc.proxy<JobsApi>('jobs').takeMany(many));
      assert.equal(error.code, ErrorCode.LIMIT_EXCEEDED);
      assert.equal(await sc.proxy<JobsApi>('jobs').takeMany(many.slice(0, 3)), 3, 'three fit');
    } finally {
      await sc.close();
      await small.gateway.close({ drainMs: 0 });
    }
  });
});
