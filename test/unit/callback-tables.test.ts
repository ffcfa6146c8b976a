/** The gateway's outgoing callbacks (timers on a fake clock) and the client's reference table, without sockets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientReferences, callback, exposeLocal } from '../../src/client/references.js';
import { ErrorCode, UplinkError } from '../../src/protocol/errors.js';
import { Codec } from '../../src/protocol/codec.js';
import type { WireMessage } from '../../src/protocol/frame-writer.js';
import { OutgoingCallbacks } from '../../src/server/connection/callbacks.js';
import { FakeClock } from '../support/fake-clock.js';

function outgoing(maxInflight = 2) {
  const sent: string[] = [];
  const out = { isOpen: true, send: (m: WireMessage) => void sent.push(String(m)) };
  const clock = new FakeClock();
  const callbacks = new OutgoingCallbacks(out, new Codec(), clock, maxInflight);
  return { sent, out, clock, callbacks };
}

const settled = async (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: UplinkError) => ({ code: e.code, message: e.message }));

describe('outgoing callbacks (fake clock)', () => {
  it('sends a callback frame with the deadline and resolves with the answer', async () => {
    const { sent, callbacks } = outgoing();
    const answer = callbacks.callback('c1', 'greet', { text: '["x"]' }, 1_000, undefined);
    assert.equal(sent[0], '{"t":"callback","id":1,"ref":"c1","m":"greet","dl":1000}\n["x"]');
    callbacks.answered(1, { text: '"hi"' });
    assert.deepEqual(await answer, { text: '"hi"' });
    callbacks.answered(1, { text: '"again"' }); // a second answer for a settled id is ignored
    assert.equal(callbacks.inflight, 0);
  });

  it('the deadline passes: DEADLINE_EXCEEDED, then callback-cancel; a late answer changes nothing', async () => {
    const { sent, clock, callbacks } = outgoing();
    const answer = settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined));
    clock.advance(499);
    assert.equal(callbacks.inflight, 1);
    clock.advance(1);
    assert.deepEqual(await answer, { code: ErrorCode.DEADLINE_EXCEEDED, message: 'the client did not answer within 500 ms' });
    assert.equal(sent[1], '{"t":"callback-cancel","id":1}');
    callbacks.answered(1, { text: '1' });
    assert.equal(callbacks.inflight, 0);
  });

  it('the call being served is cancelled: CANCELLED and callback-cancel', async () => {
    const { sent, callbacks } = outgoing();
    const controller = new AbortController();
    const answer = settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, controller.signal));
    controller.abort();
    assert.equal((await answer as { code: string }).code, ErrorCode.CANCELLED);
    assert.equal(sent.at(-1), '{"t":"callback-cancel","id":1}');
    assert.equal((await settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, controller.signal)) as { code: string }).code, ErrorCode.CANCELLED, 'an aborted signal sends nothing');
    assert.equal(sent.length, 2);
  });

  it('at most maxInflight wait: one more is BUSY before anything is sent', async () => {
    const { sent, callbacks } = outgoing(2);
    void callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined).catch(() => {});
    void callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined).catch(() => {});
    assert.equal((await settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined)) as { code: string }).code, ErrorCode.BUSY);
    assert.equal(sent.length, 2);
    callbacks.closeAll();
  });

  it('the client\'s error is typed; an unknown code becomes APPLICATION_ERROR', async () => {
    const { callbacks } = outgoing();
    const a = settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined));
    callbacks.failed(1, { code: ErrorCode.BAD_ARGUMENTS, name: 'UplinkError', message: 'no' }, undefined);
    assert.deepEqual(await a, { code: ErrorCode.BAD_ARGUMENTS, message: 'no' });
    const b = settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined));
    callbacks.failed(2, { code: 'MADE_UP' as never, name: 'X', message: 'odd' }, undefined);
    assert.equal((await b as { code: string }).code, ErrorCode.APPLICATION_ERROR);
  });

  it('the connection closes: every waiting callback fails with CONNECTION_CLOSED and no timer is left', async () => {
    const { clock, callbacks, out } = outgoing();
    const a = settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined));
    callbacks.closeAll();
    assert.equal((await a as { code: string }).code, ErrorCode.CONNECTION_CLOSED);
    assert.equal(clock.pending, 0);
    out.isOpen = false;
    assert.equal((await settled(callbacks.callback('c1', undefined, { text: '[]' }, 500, undefined)) as { code: string }).code, ErrorCode.CONNECTION_CLOSED);
  });
});

describe('client reference table (a hostile gateway)', () => {
  function table() {
    const sent: string[] = [];
    const target = { call: async () => 1, get: async () => 1, set: async () => {}, oneway: () => {}, stream: () => { throw new Error('no'); } };
    const refs = new ClientReferences(new Codec(), { open: true, send: (m) => void sent.push(String(m)), target: target as never });
    const answer = () => headerOf(sent.at(-1) as string);
    return { refs, sent, answer };
  }

  it('a callback frame naming a member the client did not list gets UNKNOWN_MEMBER, and the member never runs', async () => {
    const { refs, answer } = table();
    let secretRan = false;
    const greeter = { greet: () => 'hi', secret: () => { secretRan = true; } };
    const { id } = refs.write(exposeLocal(greeter, ['greet']));
    await refs.onCallback({ t: 'callback', id: 1, ref: id, m: 'secret' }, { text: '[]' });
    assert.equal(answer().code, ErrorCode.UNKNOWN_MEMBER);
    for (const m of ['constructor', '__proto__', 'toString', undefined]) {
      await refs.onCallback({ t: 'callback', id: 2, ref: id, ...(m ? { m } : {}) }, { text: '[]' });
      assert.equal(answer().code, ErrorCode.UNKNOWN_MEMBER, String(m));
    }
    await refs.onCallback({ t: 'callback', id: 3, ref: id, m: 'greet' }, { text: '[]' });
    assert.equal(answer().t, 'callback-result');
    assert.equal(secretRan, false);
  });

  it('a function has no members; an id the client never handed over is REF_RELEASED', async () => {
    const { refs, answer } = table();
    const { id } = refs.write(callback(() => 1));
    await refs.onCallback({ t: 'callback', id: 1, ref: id, m: 'call' }, { text: '[]' });
    assert.equal(answer().code, ErrorCode.UNKNOWN_MEMBER);
    await refs.onCallback({ t: 'callback', id: 2, ref: 'c999', }, { text: '[]' });
    assert.equal(answer().code, ErrorCode.REF_RELEASED);
    await refs.onCallback({ t: 'callback', id: 3, ref: id }, { text: '{"not":"an array"}' });
    assert.equal(answer().code, ErrorCode.BAD_ARGUMENTS);
  });

  it('a cancelled callback sends no answer', async () => {
    const { refs, sent } = table();
    let finish!: () => void;
    const { id } = refs.write(callback(() => new Promise<void>((r) => (finish = r))));
    const running = refs.onCallback({ t: 'callback', id: 7, ref: id }, { text: '[]' });
    refs.onCancel(7);
    finish();
    await running;
    assert.equal(sent.length, 0);
  });

  it('a release from the server counts: the client forgets a callback only once the server received every copy sent', () => {
    const { refs } = table();
    const fn = callback(() => 1);
    const { id } = refs.write(fn);
    refs.write(fn);
    refs.write(fn); // sent three times; the server's release says it received two: one is still on its way
    refs.onRelease(id, 2);
    assert.ok(refs.holds(fn));
    refs.onRelease(id, 1);
    assert.ok(!refs.holds(fn));
  });

  it('a server reference received twice is released with n=2; a newer copy after the release is a new proxy', () => {
    const { refs, sent } = table();
    const first = refs.read('sref', { id: 'sAAAAAAAAAAAAAAAAAAAAAA' }) as { $release(): Promise<void>; $live: boolean };
    assert.equal(refs.read('sref', { id: 'sAAAAAAAAAAAAAAAAAAAAAA' }), first, 'one proxy per reference');
    void first.$release();
    assert.equal(sent.at(-1), '{"t":"release","ref":"sAAAAAAAAAAAAAAAAAAAAAA","n":2}');
    const again = refs.read('sref', { id: 'sAAAAAAAAAAAAAAAAAAAAAA' }) as { $live: boolean };
    assert.notEqual(again, first);
    assert.equal(again.$live, true);
    assert.equal(first.$live, false);
  });

  it('the same callback handed over twice is one id; after a reconnect none is held', () => {
    const { refs } = table();
    const fn = callback(() => 1);
    assert.equal(refs.write(fn).id, refs.write(fn).id);
    assert.ok(refs.holds(fn));
    refs.dropped();
    assert.ok(!refs.holds(fn));
  });
});

/** The header of a frame the client sent. */
function headerOf(message: string): Record<string, unknown> {
  const nl = message.indexOf('\n');
  return JSON.parse(nl < 0 ? message : message.slice(0, nl)) as Record<string, unknown>;
}
