/** Registry, exposure rules, instance modes, properties, oneway, metadata and the built-in object, over a real gateway. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callContext, ErrorCode, expose, Gateway, oneway } from '../../../src/index.js';
import { parseUri } from '../../../src/protocol/uri.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { eventually } from '../../support/eventually.js';
import { client, rejection, RawSocket, sleep, startGateway, testRuntime, type LogCapture } from '../../support/gateway.js';

class Base {
  @expose inherited(): string { return 'base'; }
  notDecorated(): string { return 'hidden'; }
  @expose overridden(): string { return 'base'; }
}

class Service extends Base {
  secretField = 'field';
  // An undecorated override hides the exposed base method.
  override overridden(): string { return 'derived'; }
  @expose hello(name: string): string { return `hello ${name}`; }
  @expose async later(): Promise<number> {
    await nextTurn(); // a real await: the context must survive it
    return callContext().connection.id.length;
  }
  @expose async *ticks(): AsyncGenerator<number> { yield 1; }
  @expose get readOnly(): string { return 'r'; }
  helper(): void {}
}

class Session {
  static created = 0;
  static disposed = 0;
  private n = 0;
  constructor() { Session.created++; }
  @expose next(): number { return ++this.n; }
  [Symbol.dispose](): void { Session.disposed++; }
}

class Recorder {
  static seen: string[] = [];
  static failures = 0;
  @oneway record(value: string): void { Recorder.seen.push(value); }
  @oneway async boom(): Promise<void> { await nextTurn(); throw new Error('oneway failure'); }
  @oneway async hold(ms: number): Promise<void> { await sleep(ms); Recorder.seen.push(`held ${ms}`); }
}

type Remote = Record<string, (...args: unknown[]) => Promise<unknown>>;

let gateway: Gateway;
let url: string;
let logs: LogCapture;
const errors: unknown[] = [];
before(async () => {
  ({ gateway, url, logs } = await startGateway({ maxOnewayInflight: 2, onError: (e) => errors.push(e) }));
  gateway.register(new Service(), 'svc');
  gateway.register(Session, { id: 'session' });
  gateway.register(Session, { id: 'single', mode: 'single' });
  let made = 0;
  gateway.register(Session, { id: 'percall', mode: 'percall', factory: () => { made++; return new Session(); } });
  gateway.register({ plus: (a: number, b: number) => a + b, version: '1.2', hidden: () => 'no' }, 'plain', { expose: ['plus', 'version'] });
  gateway.register(new Recorder(), 'recorder');
  void made;
});
after(() => gateway.close({ drainMs: 0 }));

describe('registration', () => {
  it('returns a URI that names the object and the gateway', () => {
    const uri = gateway.register(new Service(), 'svc2');
    assert.equal(uri, `uplink://127.0.0.1:${gateway.port}/svc2`);
    assert.deepEqual(parseUri(uri), { url: `ws://127.0.0.1:${gateway.port}`, object: 'svc2' });
  });

  it('generates an id when none is given', () => {
    const { object } = parseUri(gateway.register(new Service()));
    assert.match(object, /^obj_[0-9a-f]{32}$/);
  });

  it('refuses a duplicate id unless forced', async () => {
    assert.throws(() => gateway.register(new Service(), 'svc'), /already registered/);
    gateway.register({ hello: () => 'forced' }, 'svc3', { expose: ['hello'] });
    gateway.register({ hello: () => 'replaced' }, 'svc3', { expose: ['hello'], force: true });
    const c = await client(url);
    assert.equal(await c.proxy<Remote>('svc3').hello!(), 'replaced');
    await c.close();
  });

  it('unregisters: later calls get UNKNOWN_OBJECT', async () => {
    gateway.register({ ping: () => 1 }, 'temp', { expose: ['ping'] });
    const c = await client(url);
    assert.equal(await c.proxy<Remote>('temp').ping!(), 1);
    assert.equal(gateway.unregister('temp'), true);
    assert.equal((await rejection(c.proxy<Remote>('temp').ping!())).code, ErrorCode.UNKNOWN_OBJECT);
    await c.close();
  });

  it('refuses to expose private, prototype and dotted names, and reserved ids', () => {
    assert.throws(() => gateway.register({ _x: () => 1 }, 'bad1', { expose: ['_x'] }), /private/);
    assert.throws(() => gateway.register({ toString: () => 'x' }, 'bad2', { expose: ['toString'] }), /prototype name/);
    assert.throws(() => gateway.register({ 'a.b': () => 1 }, 'bad3', { expose: ['a.b'] }), /dotted/);
    assert.throws(() => gateway.register({ then: () => 1 }, 'bad4', { expose: ['then'] }), /prototype name/);
    assert.throws(() => gateway.register({}, 'bad5', { expose: ['missing'] }), /no such member/);
    assert.throws(() => gateway.register({ a: 1 }, 'bad6'), /exposes nothing/);
    assert.throws(() => gateway.register(new Service(), '$mine'), /reserved/);
    assert.throws(() => {
      class Evil { @expose _secret(): void {} }
      gateway.register(new Evil(), 'bad7');
    }, /private/);
  });
});

describe('dispatch only reaches exposed members', () => {
  // Unexposed, refused-by-rule and missing members all look the same to a client (nothing hidden leaks).
  const refused = ['notDecorated', 'helper', 'secretField', 'constructor', '__proto__', 'toString', 'hasOwnProperty',
    'valueOf', '__defineGetter__', '_private', '#x', 'hello.call', 'then', 'apply', 'nothing'];
  for (const name of refused) {
    it(`refuses '${name}' with UNKNOWN_MEMBER and the same message as a missing member`, async () => {
      const raw = await RawSocket.open(url);
      const { header } = await raw.call({ id: 1, o: 'svc', m: name }, '[]');
      assert.equal(header.code, ErrorCode.UNKNOWN_MEMBER);
      assert.equal(header.message, `'svc' has no member '${name}'`);
      raw.close();
    });
  }

  it('calls exposed methods, inherited ones only when decorated in the base', async () => {
    const c = await client(url);
    const svc = c.proxy<Remote>('svc');
    assert.equal(await svc.hello!('ada'), 'hello ada');
    assert.equal(await svc.inherited!(), 'base');
    assert.equal((await rejection(svc.overridden!())).code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal(typeof (await svc.later!()), 'number');
    await c.close();
  });

  it('refuses unknown objects, wrong arity and non-array arguments', async () => {
    const raw = await RawSocket.open(url);
    assert.equal((await raw.call({ id: 1, o: 'nope', m: 'x' }, '[]')).header.code, ErrorCode.UNKNOWN_OBJECT);
    assert.equal((await raw.call({ id: 2, o: 'svc', m: 'hello' }, '{"a":1}')).header.code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await raw.call({ id: 3, o: 'svc', m: 'hello' }, JSON.stringify(new Array(65).fill(0)))).header.code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await raw.call({ id: 4, o: 'svc', m: 'hello' }, '"x"')).header.code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await raw.call({ id: 5, o: 'svc', m: 'hello' }, '["ok"]')).body, '"hello ok"');
    raw.close();
  });

  it('refuses a generator method as a plain call', async () => {
    const c = await client(url);
    assert.equal((await rejection(c.proxy<Remote>('svc').ticks!())).code, ErrorCode.BAD_ARGUMENTS);
    await c.close();
  });

  it('exposes members of plain objects named in the allow-list only', async () => {
    const c = await client(url);
    const plain = c.proxy<{ plus(a: number, b: number): number; hidden(): string; version: string }>('plain');
    assert.equal(await plain.plus(2, 2), 4);
    assert.equal(await plain.$get('version'), '1.2');
    assert.equal((await rejection(plain.hidden())).code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal((await rejection(plain.$set('version', '9'))).code, ErrorCode.BAD_ARGUMENTS);
    await c.close();
  });
});

describe('properties', () => {
  it('reads and writes exposed accessors; a getter alone is read-only', async () => {
    const c = await client(url);
    const counter = c.proxy<{ count: number; increment(by?: number): number }>('counter');
    await counter.$set('count', 10);
    assert.equal(await counter.$get('count'), 10);
    assert.equal(await counter.increment(5), 15);
    const svc = c.proxy<{ readOnly: string; hello(n: string): string }>('svc');
    assert.equal(await svc.$get('readOnly'), 'r');
    assert.equal((await rejection(svc.$set('readOnly', 'w'))).message, "property 'readOnly' is read-only");
    assert.equal((await rejection(c.get('svc', 'hello'))).code, ErrorCode.BAD_ARGUMENTS);
    assert.equal((await rejection(c.call('counter', 'count', []))).code, ErrorCode.BAD_ARGUMENTS);
    await c.close();
  });
});

describe('instance modes', () => {
  it('session: one instance per connection, disposed when it closes', async () => {
    const a = await client(url);
    const b = await client(url);
    const created = Session.created;
    assert.equal(await a.proxy<Remote>('session').next!(), 1);
    assert.equal(await a.proxy<Remote>('session').next!(), 2);
    assert.equal(await b.proxy<Remote>('session').next!(), 1);
    assert.equal(Session.created - created, 2);
    const disposed = Session.disposed;
    await a.close();
    await b.close();
    await eventually(() => Session.disposed - disposed >= 2, { timeoutMs: 500, what: 'both sessions disposed' });
    assert.equal(Session.disposed - disposed, 2);
  });

  it('single: one instance shared by all connections', async () => {
    const a = await client(url);
    const b = await client(url);
    const first = (await a.proxy<Remote>('single').next!()) as number;
    assert.equal(await b.proxy<Remote>('single').next!(), first + 1);
    await a.close();
    await b.close();
  });

  it('percall: a new instance (from the factory) for every call', async () => {
    const c = await client(url);
    assert.equal(await c.proxy<Remote>('percall').next!(), 1);
    assert.equal(await c.proxy<Remote>('percall').next!(), 1);
    await c.close();
  });

  it('refuses modes and factories for plain instances, allow-lists for classes', () => {
    assert.throws(() => gateway.register(new Service(), 'x1', { mode: 'percall' }), /apply to registered classes/);
    assert.throws(() => gateway.register(Session, { id: 'x2', expose: ['next'] }), /@expose/);
  });
});

describe('oneway calls', () => {
  it('runs without a reply; failures go to the error hook, not the caller', async () => {
    const c = await client(url);
    const rec = c.proxy<{ record(v: string): void; boom(): void }>('recorder');
    const before = errors.length;
    rec.$oneway('record', 'first');
    rec.$oneway('boom');
    await eventually(() => errors.length > before && Recorder.seen.includes('first'), { timeoutMs: 500, what: 'the record and the failure' });
    assert.ok(Recorder.seen.includes('first'));
    assert.equal((errors.at(-1) as Error).message, 'oneway failure');
    assert.equal(await c.proxy<Remote>('calc').add!(1, 1), 2);
    await c.close();
  });

  it('bounds concurrency: beyond the limit oneway calls are dropped, the connection goes on', async () => {
    const c = await client(url);
    const rec = c.proxy<{ hold(ms: number): void }>('recorder');
    const dropped = () => logs.lines.filter((l) => l.msg === 'oneway call dropped' && l.method === 'hold').length;
    const droppedBefore = dropped();
    for (const ms of [40, 41, 42, 43]) rec.$oneway('hold', ms);
    // Two run; the two beyond maxOnewayInflight are refused on arrival (the log says so), so they never run.
    await eventually(() => Recorder.seen.includes('held 40') && Recorder.seen.includes('held 41') && dropped() === droppedBefore + 2, { what: 'two held, two dropped' });
    assert.ok(Recorder.seen.includes('held 40') && Recorder.seen.includes('held 41'));
    assert.ok(!Recorder.seen.includes('held 42') && !Recorder.seen.includes('held 43'));
    assert.equal(await c.proxy<Remote>('calc').add!(1, 2), 3);
    await c.close();
  });

  it('refuses a oneway frame to a method that is not oneway', async () => {
    const raw = await RawSocket.open(url);
    raw.send('{"t":"oneway","o":"calc","m":"add"}\n[1,2]');
    raw.send('{"t":"ping","id":1}');
    assert.deepEqual((await raw.next()).header, { t: 'pong', id: 1 });
    raw.close();
  });
});

describe('built-in $uplink object', () => {
  it('answers ping, info, list (prefix and pattern) and metadata', async () => {
    const c = await client(url);
    const builtin = c.proxy<{
      ping(): string; info(): { server: string; connection: string; protocolVersions: number[] };
      list(p?: string): string[]; metadata(id: string): unknown;
    }>('$uplink');
    assert.equal(await builtin.ping(), 'pong');
    const info = await builtin.info();
    assert.equal(info.connection, c.session.connectionId);
    assert.deepEqual(info.protocolVersions, [1]);
    assert.ok((await builtin.list()).includes('calc'));
    assert.deepEqual(await builtin.list('sess'), ['session']);
    assert.deepEqual(await builtin.list('*ingle'), ['single']);
    assert.deepEqual(await builtin.metadata('svc'), {
      id: 'svc', methods: ['hello', 'later', 'ticks', 'inherited'], oneway: [], streams: ['ticks'],
      properties: [{ name: 'readOnly', readable: true, writable: false }],
      signatures: [{ name: 'hello', params: ['name'] }, { name: 'later', params: [] }, { name: 'ticks', params: [] }, { name: 'inherited', params: [] }],
    });
    assert.equal((await rejection(builtin.metadata('nope'))).code, ErrorCode.UNKNOWN_OBJECT);
    assert.equal((await rejection(c.call('$uplink', 'metadata', []))).code, ErrorCode.BAD_ARGUMENTS, 'no id: BAD_ARGUMENTS, not UNKNOWN_OBJECT');
    assert.equal((await rejection(c.call('$uplink', 'list', [42]))).code, ErrorCode.BAD_ARGUMENTS);
    const calc = await builtin.metadata('calc') as { signatures: Array<{ name: string; params: string[]; args?: { prefixItems?: unknown[] } }> };
    const divide = calc.signatures.find((s) => s.name === 'divide')!;
    assert.deepEqual(divide.params, ['a', 'b']);
    assert.deepEqual(divide.args?.prefixItems, [{ type: 'number' }, { type: 'number' }], 'the argument schema as JSON Schema');
    await c.close();
  });

  it('filters list and metadata through the access policy; forbidden calls look like calls to missing ones', async () => {
    const g = new Gateway({
      port: 0, logLevel: 'silent', runtime: testRuntime,
      authorize: (_identity, object, member) => object !== 'admin' && member !== 'secret',
    });
    g.register({ open: () => 1, secret: () => 2 }, 'public', { expose: ['open', 'secret'] });
    g.register({ open: () => 3 }, 'admin', { expose: ['open'] });
    await g.listen();
    const c = await client(`ws://127.0.0.1:${g.port}`);
    const builtin = c.proxy<{ list(): string[]; metadata(id: string): { methods: string[] } }>('$uplink');
    assert.deepEqual(await builtin.list(), ['$uplink', 'public']);
    assert.deepEqual((await builtin.metadata('public')).methods, ['open']);
    assert.equal((await rejection(builtin.metadata('admin'))).code, ErrorCode.UNKNOWN_OBJECT);
    assert.equal((await rejection(c.proxy<Remote>('admin').open!())).message, (await rejection(c.proxy<Remote>('nope').open!())).message.replace('nope', 'admin'));
    assert.equal((await rejection(c.proxy<Remote>('admin').open!())).code, ErrorCode.UNKNOWN_OBJECT);
    assert.equal((await rejection(c.proxy<Remote>('public').secret!())).code, ErrorCode.UNKNOWN_MEMBER);
    assert.equal(await c.proxy<Remote>('public').open!(), 1);
    await c.close();
    await g.close({ drainMs: 0 });
  });
});
