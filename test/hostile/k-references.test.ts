/** Catalogue K (docs/security.md): callbacks and references under attack. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { callback, type Callback, type RemoteRef } from '../../src/client/index.js';
import { ErrorCode, expose, remote, type ClientCallback } from '../../src/index.js';
import { client, RawSocket, rejection, sleep } from '../support/gateway.js';
import { eventually } from '../support/eventually.js';
import { natsServed } from '../support/nats-backed.js';
import { useArena } from './arena.js';

/** A server object handed out by reference; counts what reached it. */
class Box {
  static disposed = 0;
  pokes = 0;
  @expose poke(): number {
    return ++this.pokes;
  }

  @expose async slow(ms: number): Promise<string> {
    await sleep(Math.min(ms, 2_000));
    return 'slow done';
  }

  [Symbol.dispose](): void {
    Box.disposed++;
  }
}

class Lab {
  ran = 0;
  readonly boxes: Box[] = [];

  @expose open(): Box {
    const box = remote(new Box());
    this.boxes.push(box);
    return box;
  }

  @expose openMany(n: number): Box[] {
    return Array.from({ length: Math.min(n, 5_000) }, () => remote(new Box()));
  }

  /** Receives a server reference as an argument: the object itself, if it is the caller's. */
  @expose pokeThrough(box: Box): number {
    this.ran++;
    return box.poke();
  }

  @expose take(fns: ClientCallback[]): number {
    this.ran++;
    return fns.length;
  }

  @expose async callMe(fn: ClientCallback<() => unknown>): Promise<unknown> {
    return fn();
  }

  /** Calls back, and the client's callback calls nest again: a chain as deep as the client makes it. */
  @expose async nest(fn: ClientCallback<(depth: number) => number>, depth: number): Promise<number> {
    return (await fn(depth)) + 1;
  }
}

interface BoxApi { poke(): number; slow(ms: number): string }
interface LabApi {
  open(): RemoteRef<BoxApi>;
  openMany(n: number): Array<RemoteRef<BoxApi>>;
  pokeThrough(box: unknown): number;
  take(fns: unknown[]): number;
  callMe(fn: Callback<() => unknown>): unknown;
  nest(fn: Callback<(depth: number) => Promise<number>>, depth: number): number;
}

const CREF = '{"values":{"0":[["custom","cref"]]},"v":1}';

describe('K. callbacks and references', () => {
  const arena = useArena({ maxRefsPerConnection: 16, maxCallbacksInflight: 8, callbackTimeoutMs: 400 });
  const lab = new Lab();
  before(async () => {
    arena.gateway.register(lab, 'lab');
    await natsServed(arena.gateway);
  });
  const session = () => client(arena.url);

  it('#124 forged server reference ids (random, a registered object behind ~, malformed) get REF_RELEASED or BAD_FRAME, and reach nothing', async () => {
    const c = await session();
    const raw = await RawSocket.open(arena.url);
    try {
      const box = await c.proxy<LabApi>('lab').open();
      await box.poke();
      for (const [id, o] of [[1, '~sAAAAAAAAAAAAAAAAAAAAAA'], [2, '~calc'], [3, '~'], [4, `~s${'A'.repeat(200)}`], [5, '~c1']] as const) {
        const answer = await raw.call({ id, o, m: 'poke' }, '[]');
        assert.equal(answer.header.code, ErrorCode.REF_RELEASED, o);
      }
      for (const [id, node] of [[6, '{"id":"sAAAAAAAAAAAAAAAAAAAAAA"}'], [7, '{"id":"nope"}'], [8, '{"id":"sAAAAAAAAAAAAAAAAAAAAAA","m":["poke"]}'], [9, '{"id":"sAAAAAAAAAAAAAAAAAAAAAA","x":1}'], [10, '"sAAAAAAAAAAAAAAAAAAAAAA"']] as const) {
        const answer = await raw.call({ id, o: 'lab', m: 'pokeThrough' }, `[${node}]\n{"values":{"0":[["custom","sref"]]},"v":1}`);
        assert.ok(answer.header.code === ErrorCode.REF_RELEASED || answer.header.code === ErrorCode.BAD_FRAME, `${node}: ${String(answer.header.code)}`);
      }
      assert.equal(lab.ran, 0, 'no forged reference reached the method');
      assert.equal(await box.poke(), 2, 'the real reference still works');
    } finally {
      raw.close();
      await c.close();
      lab.boxes.length = 0;
    }
  });

  it('#125 another connection\'s reference ids: calls, arguments and releases get REF_RELEASED and leave the owner\'s reference alone', async () => {
    const owner = await session();
    const thief = await session();
    try {
      const box = await owner.proxy<LabApi>('lab').open();
      const id = owner.refs.write(box).id;
      assert.equal((await rejection(thief.call(`~${id}`, 'poke', []))).code, ErrorCode.REF_RELEASED);
      const raw = await RawSocket.open(arena.url);
      const passed = await raw.call({ id: 1, o: 'lab', m: 'pokeThrough' }, `[{"id":"${id}"}]\n{"values":{"0":[["custom","sref"]]},"v":1}`);
      assert.equal(passed.header.code, ErrorCode.REF_RELEASED, 'passed as an argument');
      raw.send(`{"t":"release","ref":"${id}"}`);
      await raw.barrier(); // the gateway has read the foreign release
      raw.close();
      assert.equal(await box.poke(), 1, 'the owner\'s reference survived the foreign release');
      assert.equal(await owner.proxy<LabApi>('lab').pokeThrough(box), 2, 'the owner may pass it back');
    } finally {
      await owner.close();
      await thief.close();
      lab.boxes.length = 0;
    }
  });

  it('#126 disposal races: a release during a call on the reference lets the call finish; later calls and repeated releases are refused; the object is disposed once', async () => {
    const c = await session();
    const raw = await RawSocket.open(arena.url);
    try {
      const opened = await raw.call({ id: 1, o: 'lab', m: 'open' }, '[]');
      const id = (JSON.parse(opened.body.split('\n')[0] as string) as { id: string }).id;
      const disposedBefore = Box.disposed;
      raw.send(JSON.stringify({ t: 'call', id: 2, o: `~${id}`, m: 'slow' }) + '\n[150]');
      raw.send(`{"t":"release","ref":"${id}"}`);
      raw.send(`{"t":"release","ref":"${id}"}`);
      raw.send(JSON.stringify({ t: 'call', id: 3, o: `~${id}`, m: 'poke' }) + '\n[]');
      const answers = [await raw.next(), await raw.next()];
      const byId = new Map(answers.map((a) => [a.header.id, a]));
      assert.equal(byId.get(3)?.header.code, ErrorCode.REF_RELEASED);
      assert.equal(byId.get(2)?.body, '"slow done"', 'the call already running finished');
      await eventually(() => Box.disposed === disposedBefore + 1, { what: 'one disposal' });
      raw.send('{"t":"release","ref":"sAAAAAAAAAAAAAAAAAAAAAA"}');
      await sleep(50); // proves no second disposal follows: absence cannot be polled
      assert.equal(Box.disposed, disposedBefore + 1, 'disposed exactly once');
      assert.equal((await raw.call({ id: 4, o: 'calc', m: 'add' }, '[1,2]')).body, '3');
    } finally {
      raw.close();
      await c.close();
      lab.boxes.length = 0;
    }
  });

  it('#127 re-entrant callbacks: a chain deeper than maxCallbacksInflight ends with BUSY instead of a deadlock', async () => {
    const c = await session();
    try {
      const labProxy = c.proxy<LabApi>('lab');
      const fn = callback(async (depth: number): Promise<number> => (depth <= 0 ? 0 : labProxy.nest(fn, depth - 1)));
      assert.equal(await labProxy.nest(fn, 5), 6, 'a chain within the cap completes');
      const started = performance.now();
      const error = await rejection(labProxy.nest(fn, 40));
      assert.equal(error.code, ErrorCode.BUSY);
      assert.ok(performance.now() - started < 2_000, 'refused at once, not at a deadline');
    } finally {
      await c.close();
    }
  });

  it('#128 callback answer floods: unsolicited, duplicated and oversized callback-result / callback-error frames are ignored or BAD_FRAME', async () => {
    const raw = await RawSocket.open(arena.url);
    try {
      for (let id = 1; id <= 2_000; id++) raw.send(`{"t":"callback-result","id":${id}}\n${id}`);
      for (let id = 1; id <= 500; id++) raw.send(`{"t":"callback-error","id":${id},"code":"INTERNAL","name":"X","message":"m"}`);
      raw.send(`{"t":"callback-error","id":1,"code":"INTERNAL","name":"X","message":"${'m'.repeat(5_000)}"}`);
      raw.send('{"t":"callback-result","id":-1}');
      raw.send('{"t":"ping","id":77}');
      const frames: string[] = [];
      for (;;) {
        const f = await raw.next();
        if (f.header.t === 'pong') break;
        frames.push(`${String(f.header.t)}:${String(f.header.code)}`);
      }
      assert.deepEqual(frames, ['error:BAD_FRAME', 'error:BAD_FRAME'], 'only the malformed two are answered');
    } finally {
      raw.close();
    }
  });

  it('#128b a callback answered with a malformed callback-error (message over its limit): the method gets BAD_FRAME at once, not its deadline', async () => {
    const raw = await RawSocket.open(arena.url);
    try {
      const started = performance.now();
      raw.send(`{"t":"call","id":1,"o":"lab","m":"callMe","dl":20000}\n[{"id":"c1"}]\n${JSON.stringify({ values: { 0: [['custom', 'cref']] }, v: 1 })}`);
      const callback = await raw.next();
      assert.equal(callback.header.t, 'callback');
      raw.send(`{"t":"callback-error","id":${String(callback.header.id)},"code":"INTERNAL","name":"X","message":"${'m'.repeat(5_000)}"}`);
      const frames = [await raw.next(), await raw.next()].map((f) => `${String(f.header.t)}:${String(f.header.id)}:${String(f.header.code)}`).sort();
      assert.deepEqual(frames, ['error:1:BAD_FRAME', 'error:undefined:BAD_FRAME'], 'the malformed frame is refused, and the method failed typed');
      assert.ok(performance.now() - started < 2_000, 'at once, not at the 20 s deadline');
    } finally {
      raw.close();
    }
  });

  it('#129 reference floods: more client references than maxRefsPerConnection in one call, or a result handing out more, get LIMIT_EXCEEDED and nothing is kept', async () => {
    const raw = await RawSocket.open(arena.url);
    const c = await session();
    try {
      const ran = lab.ran;
      const many = Array.from({ length: 17 }, (_, i) => `{"id":"c${i}"}`).join(',');
      const meta = JSON.stringify({ values: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`0.${i}`, [['custom', 'cref']]])), v: 1 });
      const refused = await raw.call({ id: 1, o: 'lab', m: 'take' }, `[[${many}]]\n${meta}`);
      assert.equal(refused.header.code, ErrorCode.LIMIT_EXCEEDED);
      assert.equal(lab.ran, ran, 'the method did not run');
      const viaClient = await rejection(c.proxy<LabApi>('lab').take(Array.from({ length: 17 }, () => callback(() => 1))));
      assert.equal(viaClient.code, ErrorCode.LIMIT_EXCEEDED);
      assert.equal(lab.ran, ran, 'the method did not run');
      const tooMany = await rejection(c.proxy<LabApi>('lab').openMany(17));
      assert.equal(tooMany.code, ErrorCode.LIMIT_EXCEEDED);
      const sixteen = await c.proxy<LabApi>('lab').openMany(16);
      assert.equal(sixteen.length, 16, 'the refused result kept nothing: the whole cap is free');
    } finally {
      raw.close();
      await c.close();
    }
  });

  it('#130 a client that never answers its callbacks: each method sees DEADLINE_EXCEEDED, at most maxCallbacksInflight wait, the rest get BUSY', async () => {
    const raw = await RawSocket.open(arena.url);
    try {
      for (let id = 1; id <= 12; id++) raw.send(JSON.stringify({ t: 'call', id, o: 'lab', m: 'callMe' }) + `\n[{"id":"c${id}"}]\n${CREF}`);
      const callbacks: number[] = [];
      const errors = new Map<number, string>();
      while (errors.size < 12) {
        const f = await raw.next(3_000);
        if (f.header.t === 'callback') callbacks.push(f.header.id as number);
        else if (f.header.t === 'error') errors.set(f.header.id as number, f.header.code as string);
      }
      assert.equal(callbacks.length, 8, 'eight callbacks were sent; the others were refused before sending');
      assert.equal([...errors.values()].filter((code) => code === ErrorCode.BUSY).length, 4);
      assert.equal([...errors.values()].filter((code) => code === ErrorCode.DEADLINE_EXCEEDED).length, 8);
      assert.equal((await raw.call({ id: 99, o: 'calc', m: 'add' }, '[1,2]')).body, '3', 'the connection still serves');
    } finally {
      raw.close();
    }
  });

  it('#131 malformed references: too many members, bad member names, extra fields, ids of the wrong kind are BAD_FRAME before anything runs', async () => {
    const raw = await RawSocket.open(arena.url);
    try {
      const ran = lab.ran;
      const members = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => `m${i}`));
      const nodes = [
        `{"id":"c1","m":${members(65)}}`,
        '{"id":"c1","m":["__proto__"]}',
        '{"id":"c1","m":["a.b"]}',
        '{"id":"c1","m":[]}',
        '{"id":"c1","extra":true}',
        '{"id":"sAAAAAAAAAAAAAAAAAAAAAA"}',
        `{"id":"c${'x'.repeat(80)}"}`,
        '["c1"]',
      ];
      for (const [i, node] of nodes.entries()) {
        const answer = await raw.call({ id: i + 1, o: 'lab', m: 'take' }, `[${node}]\n${CREF}`);
        assert.equal(answer.header.code, ErrorCode.BAD_FRAME, node);
      }
      assert.equal(lab.ran, ran);
    } finally {
      raw.close();
    }
  });
});
