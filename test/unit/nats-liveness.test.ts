/**
 * The scale-out's timer logic on a fake clock: which hosts a gateway counts as alive and picks for
 * new calls (HostTable), the host's accept tick and deadline aborts (RunningCalls), and repeat().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { repeat } from '../../src/clock.js';
import { CallContext } from '../../src/core/context.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { HostTable, MAX_HOSTS, type HostBeat } from '../../src/nats/host-table.js';
import { RunningCalls } from '../../src/nats/running-calls.js';
import { FakeClock } from '../support/fake-clock.js';

const beat = (id: string, objects: string[], extra: Partial<HostBeat> = {}): HostBeat =>
  ({ id, name: id, state: 'up', objects, calls: 0, streams: 0, reconnects: 0, ...extra });

describe('HostTable', () => {
  it('follows a host whose objects change with the same count, and stops believing new ids when full', () => {
    const table = new HostTable(new FakeClock(), 900);
    table.beat(beat('a', ['calc', 'chat']));
    table.beat(beat('a', ['calc', 'news']));
    assert.equal(table.pick('chat'), undefined, 'chat is no longer served');
    assert.equal(table.pick('news'), 'a');
    table.beat(beat('a', ['calc', 'news'], { state: 'draining' }));
    assert.equal(table.pick('calc'), undefined, 'a draining host gets no new calls');
    for (let i = 0; table.size < MAX_HOSTS; i++) table.beat(beat(`h${i}`, ['calc']));
    assert.deepEqual(table.beat(beat('one-too-many', ['calc'])), { joined: false, reconnected: false });
    assert.equal(table.alive('one-too-many'), false);
    table.seen('another');
    assert.equal(table.size, MAX_HOSTS);
  });

  it('restartClock: after this side\'s reconnect every host gets a whole bound again (#26 item 7)', () => {
    const clock = new FakeClock();
    const table = new HostTable(clock, 900);
    table.beat(beat('a', ['calc']));
    clock.advance(5_000); // our own outage: nothing heard from anyone
    table.restartClock();
    clock.advance(900);
    assert.equal(table.alive('a'), true, 'the outage was ours, not the host\'s');
    assert.deepEqual(table.sweep(), []);
    clock.advance(1);
    assert.deepEqual(table.sweep(), ['a'], 'a host still silent a whole bound after the reconnect is lost');
  });

  it('a suspected host is not picked until its suspicion runs out; the others are', () => {
    const clock = new FakeClock();
    const table = new HostTable(clock, 900);
    table.beat(beat('rogue', ['calc']));
    table.beat(beat('honest', ['calc']));
    table.suspect('rogue', 9_000);
    assert.deepEqual(Array.from({ length: 4 }, () => table.pick('calc')), ['honest', 'honest', 'honest', 'honest']);
    clock.advance(600);
    table.beat(beat('rogue', ['calc']));
    table.beat(beat('honest', ['calc']));
    clock.advance(8_400);
    table.beat(beat('rogue', ['calc']));
    table.beat(beat('honest', ['calc']));
    assert.deepEqual(new Set(Array.from({ length: 4 }, () => table.pick('calc'))), new Set(['rogue', 'honest']));
  });

  it('access rules and members are per host: one host cannot change what another host\'s calls may do', () => {
    const table = new HostTable(new FakeClock(), 900);
    const names = { scope: 'scope', roles: 'roles' };
    table.beat(beat('honest', ['calc'], { members: { calc: ['add'] } }));
    table.beat(beat('rogue', ['calc'], { access: { calc: { rule: { scopes: ['nobody'] }, claimNames: names } }, members: { calc: ['x1'] } }));
    assert.equal(table.accessOf('calc', 'honest'), undefined);
    assert.deepEqual(table.accessOf('calc', 'rogue')?.rule, { scopes: ['nobody'] });
    assert.equal(table.declaresMember('calc', 'add'), true);
  });

  it('a host is alive until it misses the bound, then the sweep reports it once', () => {
    const clock = new FakeClock();
    const table = new HostTable(clock, 900);
    assert.deepEqual(table.beat(beat('a', ['calc'])), { joined: true, reconnected: false });
    clock.advance(900);
    assert.equal(table.alive('a'), true);
    assert.deepEqual(table.sweep(), []);
    clock.advance(1);
    assert.equal(table.alive('a'), false);
    assert.deepEqual(table.sweep(), ['a']);
    assert.deepEqual(table.sweep(), [], 'reported once');
  });

  it('any message counts as a sign of life; a clean goodbye is dead at once', () => {
    const clock = new FakeClock();
    const table = new HostTable(clock, 900);
    table.beat(beat('a', ['calc']));
    clock.advance(800);
    table.seen('a');
    clock.advance(800);
    assert.equal(table.alive('a'), true, 'seen 800 ms ago');
    table.beat(beat('a', ['calc'], { state: 'gone' }));
    assert.equal(table.alive('a'), false);
    table.seen('a');
    assert.equal(table.alive('a'), false, 'a late message does not revive a host that said goodbye');
    assert.deepEqual(table.sweep(), ['a']);
  });

  it('reports a host whose connection came back (its frames may be lost)', () => {
    const table = new HostTable(new FakeClock(), 900);
    table.beat(beat('a', ['calc']));
    assert.equal(table.beat(beat('a', ['calc'])).reconnected, false);
    assert.equal(table.beat(beat('a', ['calc'], { reconnects: 1 })).reconnected, true);
    assert.equal(table.beat(beat('a', ['calc'], { reconnects: 1 })).reconnected, false);
  });

  it('picks live, undrained hosts serving the object, in turn; none when none is known', () => {
    const clock = new FakeClock();
    const table = new HostTable(clock, 900);
    table.beat(beat('a', ['calc', 'chat']));
    table.beat(beat('b', ['calc']));
    table.beat(beat('c', ['calc'], { state: 'draining' }));
    const picks = Array.from({ length: 6 }, () => table.pick('calc'));
    assert.deepEqual(picks.sort(), ['a', 'a', 'a', 'b', 'b', 'b'], 'evenly, never the draining host');
    assert.equal(table.pick('chat'), 'a');
    assert.equal(table.pick('nobody'), undefined);
    clock.advance(600);
    table.beat(beat('a', ['calc', 'chat']));
    clock.advance(600); // b missed its bound; no sweep yet
    assert.deepEqual(Array.from({ length: 4 }, () => table.pick('calc')), ['a', 'a', 'a', 'a'], 'a dead host is skipped before the sweep');
  });
});

describe('RunningCalls', () => {
  const context = (clock: FakeClock, deadlineIn?: number) =>
    new CallContext({ id: 'g/c0', remoteAddress: '127.0.0.1', identity: undefined, track: () => {} }, 'cid', undefined, deadlineIn === undefined ? undefined : clock.now() + deadlineIn);

  it('announces a call still running after one accept tick, once; fast calls never', () => {
    const clock = new FakeClock();
    const announced: string[] = [];
    const calls = new RunningCalls(clock, 50, (reply) => announced.push(reply));
    calls.add('fast', context(clock));
    calls.add('slow', context(clock));
    clock.advance(30);
    calls.finish('fast');
    clock.advance(20); // first tick: both started in it
    assert.deepEqual(announced, []);
    clock.advance(50);
    assert.deepEqual(announced, ['slow']);
    clock.advance(500);
    assert.deepEqual(announced, ['slow'], 'once');
    calls.stop();
  });

  it('aborts a call whose deadline passed (within a tick), and a cancel from the gateway', () => {
    const clock = new FakeClock();
    const calls = new RunningCalls(clock, 50, () => {});
    const late = context(clock, 120);
    const cancelled = context(clock);
    calls.add('late', late);
    calls.add('cancelled', cancelled);
    clock.advance(100);
    assert.equal(late.aborted, false);
    clock.advance(50);
    assert.equal(late.aborted, true);
    assert.equal((late.signal.reason as { code: string }).code, ErrorCode.DEADLINE_EXCEEDED);
    calls.cancel('cancelled');
    assert.equal((cancelled.signal.reason as { code: string }).code, ErrorCode.CANCELLED);
    assert.deepEqual(calls.replies().sort(), ['cancelled', 'late'], 'still running until they answer');
    calls.stop();
  });
});

describe('repeat', () => {
  it('runs every period until stopped, on one timer at a time', () => {
    const clock = new FakeClock();
    let runs = 0;
    const stop = repeat(clock, 100, () => runs++);
    clock.advance(350);
    assert.equal(runs, 3);
    stop();
    clock.advance(1_000);
    assert.equal(runs, 3);
  });
});
