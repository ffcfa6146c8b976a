/**
 * Everything that waits, on a fake clock: call deadlines (InflightCall), token expiry and grace
 * (TokenLifetime), rate limits (TokenBucket, MessageRate), revocation memory, keepalive, refresh
 * scheduling and reconnect backoff. No sleeps: time moves by clock.advance().
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock, type Clock, type Timer } from '../../src/clock.js';
import { Revocations } from '../../src/auth/revocations.js';
import { reconnectDelay } from '../../src/client/backoff.js';
import { Keepalive } from '../../src/client/keepalive.js';
import { TokenRefresher } from '../../src/client/token-refresh.js';
import { CallContext, type Identity } from '../../src/core/context.js';
import { ErrorCode, type ErrorBody } from '../../src/protocol/errors.js';
import { Deadlines } from '../../src/server/deadlines.js';
import { InflightCall, type CallOwner } from '../../src/server/connection/inflight-call.js';
import { MessageRate, TokenBucket } from '../../src/server/connection/rate-limit.js';
import { TokenLifetime } from '../../src/server/connection/token-lifetime.js';
import { FakeClock } from '../support/fake-clock.js';

/** A clock whose timers run only when the test says, whatever the time: an event loop running late. */
class LateClock implements Clock {
  time = Date.UTC(2026, 0, 1);
  private timers = new Map<number, () => void>();
  private next = 0;
  now(): number { return this.time; }
  setTimeout(callback: () => void): Timer { this.timers.set(++this.next, callback); return this.next; }
  clearTimeout(timer: Timer | undefined): void { this.timers.delete(timer as number); }
  soon(callback: () => void): void { callback(); }
  get armed(): number { return this.timers.size; }
  runArmed(): void {
    const due = [...this.timers.values()];
    this.timers.clear();
    for (const callback of due) callback();
  }
}

const connection = { id: 'c1', remoteAddress: '127.0.0.1', identity: undefined, isOpen: true, track() {} };

function owner() {
  const sent: Array<{ id: number; ok: boolean; code?: string }> = [];
  const settled: number[] = [];
  const o: CallOwner = {
    isOpen: true,
    callSettled: (call) => void settled.push(call.id),
    sendResult: (call) => void sent.push({ id: call.id, ok: true }),
    sendError: (call, error: ErrorBody) => void sent.push({ id: call.id, ok: false, code: error.code }),
  };
  return { o, sent, settled };
}

describe('InflightCall deadlines', () => {
  it('answers DEADLINE_EXCEEDED at the deadline, aborts the signal, and drops the late result', () => {
    const clock = new FakeClock();
    const { o, sent, settled } = owner();
    const context = new CallContext(connection, 'cid', undefined, clock.now() + 500);
    const call = new InflightCall(o, 7, undefined, context, 'o', 'm', 1);
    call.armDeadline(new Deadlines(clock), 500);
    clock.advance(499);
    assert.deepEqual(sent, []);
    clock.advance(1);
    assert.deepEqual(sent, [{ id: 7, ok: false, code: ErrorCode.DEADLINE_EXCEEDED }]);
    assert.equal(context.signal.aborted, true);
    call.resolve({ text: '1' });
    assert.equal(sent.length, 1, 'exactly one answer');
    assert.deepEqual(settled, [7]);
  });

  it('a result before the deadline disarms it', () => {
    const clock = new FakeClock();
    const { o, sent } = owner();
    const call = new InflightCall(o, 1, undefined, new CallContext(connection, 'c', undefined, undefined), 'o', 'm', 1);
    const deadlines = new Deadlines(clock);
    call.armDeadline(deadlines, 100);
    call.resolve({ text: '1' });
    assert.equal(deadlines.size, 0, 'the deadline was cancelled');
    clock.advance(1_000);
    assert.deepEqual(sent, [{ id: 1, ok: true }]);
  });

  it('an orphaned call (connection gone) aborts its signal and sends nothing', () => {
    const clock = new FakeClock();
    const { o, sent } = owner();
    const context = new CallContext(connection, 'c', undefined, undefined);
    const call = new InflightCall(o, 1, undefined, context, 'o', 'm', 1);
    call.armDeadline(new Deadlines(clock), 100);
    call.orphan();
    clock.advance(1_000);
    assert.deepEqual(sent, []);
    assert.equal(context.signal.aborted, true);
  });
});

describe('Deadlines', () => {
  it('fires each deadline once, in order, at its time, on one timer; a cancelled one never fires', () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    const fired: string[] = [];
    deadlines.add(300, () => fired.push('c'));
    deadlines.add(100, () => fired.push('a'));
    const b = deadlines.add(200, () => fired.push('b'));
    deadlines.add(100, () => fired.push('a2'));
    assert.equal(clock.pending, 1, 'one platform timer for all deadlines');
    deadlines.cancel(b);
    clock.advance(99);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired.sort(), ['a', 'a2']);
    clock.advance(1_000);
    assert.deepEqual(fired.sort(), ['a', 'a2', 'c']);
    assert.equal(deadlines.size, 0);
    assert.equal(clock.pending, 0, 'no timer once nothing is pending');
  });

  it('keeps the heap bounded when most deadlines are cancelled before they pass', () => {
    const clock = new FakeClock();
    const deadlines = new Deadlines(clock);
    let fired = 0;
    for (let i = 0; i < 10_000; i++) deadlines.cancel(deadlines.add(30_000, () => fired++));
    const kept = deadlines.add(30_000, () => fired++);
    assert.equal(deadlines.size, 1);
    assert.ok((deadlines as unknown as { heap: unknown[] }).heap.length < 200, 'cancelled entries are compacted away');
    clock.advance(30_000);
    assert.equal(fired, 1);
    deadlines.cancel(kept); // after it fired: nothing happens
    assert.equal(fired, 1);
  });
});

describe('TokenLifetime', () => {
  it('expires at exp plus the tolerance, then closes after the grace period', () => {
    const clock = new FakeClock();
    let closed = 0;
    const lifetime = new TokenLifetime(new Deadlines(clock), clock, 1_000, 5_000, { tokenGraceOver: () => closed++ });
    lifetime.arm(clock.now() + 60_000);
    assert.deepEqual(lifetime.fields(), { exp: clock.now() + 60_000, expIn: 60_000 });
    clock.advance(60_999);
    assert.equal(lifetime.expired, false, 'the clock tolerance still holds');
    clock.advance(1);
    assert.equal(lifetime.expired, true);
    clock.advance(4_999);
    assert.equal(closed, 0);
    clock.advance(1);
    assert.equal(closed, 1);
  });

  it('a refresh inside the grace period re-arms with the new expiry', () => {
    const clock = new FakeClock();
    let closed = 0;
    const lifetime = new TokenLifetime(new Deadlines(clock), clock, 0, 5_000, { tokenGraceOver: () => closed++ });
    lifetime.arm(clock.now() + 1_000);
    clock.advance(2_000);
    assert.equal(lifetime.expired, true);
    lifetime.arm(clock.now() + 60_000);
    assert.equal(lifetime.expired, false);
    clock.advance(10_000);
    assert.equal(closed, 0, 'the old grace timer is gone');
  });

  it('is expired from the clock even when a busy event loop has not run the deadline yet', () => {
    const clock = new LateClock();
    let closed = 0;
    const lifetime = new TokenLifetime(new Deadlines(clock), clock, 1_000, 5_000, { tokenGraceOver: () => closed++ });
    const exp = clock.now() + 60_000;
    lifetime.arm(exp);
    clock.time = exp + 999;
    assert.equal(lifetime.expired, false, 'inside the tolerance');
    clock.time = exp + 1_000;
    assert.equal(clock.armed, 1, 'the expiry deadline has not run');
    assert.equal(lifetime.expired, true, 'a call now is refused all the same');
    clock.time = exp + 4_000; // the deadline runs 3 s late
    clock.runArmed();
    assert.equal(lifetime.expired, true);
    clock.time = exp + 5_999;
    clock.runArmed();
    assert.equal(closed, 0);
    clock.time = exp + 6_000;
    clock.runArmed();
    assert.equal(closed, 1, 'the grace period counts from the expiry, not from the late deadline');
  });

  it('re-arms past the 24.8-day timer cap instead of firing early', () => {
    const clock = new FakeClock();
    const lifetime = new TokenLifetime(new Deadlines(clock), clock, 0, 0, { tokenGraceOver: () => {} });
    lifetime.arm(clock.now() + 40 * 86_400_000);
    clock.advance(30 * 86_400_000);
    assert.equal(lifetime.expired, false);
    clock.advance(10 * 86_400_000);
    assert.equal(lifetime.expired, true);
  });
});

describe('rate limits', () => {
  it('a token bucket allows a burst, then refills at its rate', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(10, 5, clock);
    for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true);
    assert.equal(bucket.take(), false);
    clock.advance(100);
    assert.equal(bucket.take(), true, 'one token per 100 ms at 10/s');
    assert.equal(bucket.take(), false);
    clock.advance(10_000);
    assert.equal(bucket.idle, true, 'full again: it can be forgotten');
  });

  it('MessageRate calls it a flood after a whole second of refused frames', () => {
    const clock = new FakeClock();
    const rate = new MessageRate(3, clock);
    for (let i = 0; i < 3; i++) assert.equal(rate.take(), true);
    for (let i = 0; i < 3; i++) assert.equal(rate.take(), false);
    assert.equal(rate.flooded, false);
    rate.take();
    assert.equal(rate.flooded, true);
    clock.advance(1_000);
    assert.equal(rate.take(), true);
    assert.equal(rate.flooded, false, 'a granted frame resets the count');
  });
});

describe('Revocations', () => {
  const identity = (subject: string, iatSec: number, tokenId?: string): Identity =>
    ({ subject, issuer: 'i', tokenId, expiresAt: undefined, claims: { iat: iatSec } }) as unknown as Identity;

  it('a subject revocation refuses tokens issued before it, not a fresh login after it', () => {
    const clock = new FakeClock();
    const revocations = new Revocations(clock);
    const before = identity('alice', clock.now() / 1000 - 10);
    revocations.add({ subject: 'alice' });
    clock.advance(5_000);
    const after = identity('alice', clock.now() / 1000);
    assert.equal(revocations.isRevoked(before), true);
    assert.equal(revocations.isRevoked(after), false);
  });

  it('a token id is remembered until the token expires, then forgotten', () => {
    const clock = new FakeClock();
    const revocations = new Revocations(clock);
    const token = identity('bob', clock.now() / 1000, 'jti-1');
    revocations.add({ tokenId: 'jti-1' }, clock.now() + 60_000);
    assert.equal(revocations.isRevoked(token), true);
    clock.advance(61_000);
    revocations.add({ tokenId: 'other' }); // pruning happens on add
    assert.equal(revocations.isRevoked(token), false, 'pruned once the token itself has expired');
  });
});

describe('client timers', () => {
  it('keepalive pings every interval and declares the connection dead when a pong is late', () => {
    const clock = new FakeClock();
    const pings: number[] = [];
    let dead = 0;
    const keepalive = new Keepalive(clock, 1_000, 500, (id) => (pings.push(id), true), () => dead++);
    keepalive.start();
    clock.advance(1_000);
    assert.deepEqual(pings, [0]);
    keepalive.pong();
    clock.advance(1_000);
    assert.deepEqual(pings, [0, 1]);
    clock.advance(499);
    assert.equal(dead, 0);
    clock.advance(1);
    assert.equal(dead, 1);
    clock.advance(10_000);
    assert.deepEqual(pings, [0, 1], 'stopped after declaring the connection dead');
  });

  it('refreshes with 30 % of the lifetime left (at most 30 s early) and retries a failure three times', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const errors: string[] = [];
    let fail = true;
    const refresher = new TokenRefresher(clock, async () => {
      attempts.push(clock.now());
      if (fail) throw new Error('no token');
      return 10_000;
    }, (e) => errors.push(e.message));
    const start = clock.now();
    refresher.schedule(10_000);
    await clock.tick(6_999);
    assert.equal(attempts.length, 0);
    await clock.tick(1);
    assert.deepEqual(attempts, [start + 7_000]);
    await clock.tick(1_000);
    await clock.tick(1_000);
    assert.equal(attempts.length, 3);
    await clock.tick(5_000);
    assert.equal(attempts.length, 3, 'three tries, then it stops');
    assert.equal(errors.length, 3);
    fail = false;
    refresher.schedule(200_000);
    await clock.tick(170_000);
    assert.equal(attempts.length, 4, 'a long token is refreshed 30 s before expiry');
  });

  it('backoff doubles up to the cap, keeps half of it fixed, and honours the goodbye advice first', () => {
    const o = { initialDelayMs: 100, maxDelayMs: 1_000 };
    assert.equal(reconnectDelay(0, o, undefined, 0), 50);
    assert.equal(reconnectDelay(0, o, undefined, 0.999_999) < 100, true);
    assert.equal(reconnectDelay(3, o, undefined, 0), 400);
    assert.equal(reconnectDelay(10, o, undefined, 1), 1_000);
    assert.equal(reconnectDelay(0, o, 2_000, 0.5), 2_000);
    assert.equal(reconnectDelay(1, o, 2_000, 0), 100, 'the advice applies to the first attempt only');
  });
});

describe('Clock.soon', () => {
  it('systemClock runs soon work after the promise callbacks of the current turn, in order', async () => {
    const order: string[] = [];
    systemClock.soon!(() => order.push('soon 1'));
    systemClock.soon!(() => order.push('soon 2'));
    void Promise.resolve().then(() => order.push('promise'));
    order.push('sync');
    await new Promise((resolve) => setImmediate(resolve)); // queued after both
    assert.deepEqual(order, ['sync', 'promise', 'soon 1', 'soon 2']);
  });

  it('FakeClock queues soon work until the test settles or advances, in order, including work it queues', async () => {
    const clock = new FakeClock();
    const ran: string[] = [];
    clock.soon(() => { ran.push('a'); clock.soon(() => ran.push('c')); });
    clock.soon(() => ran.push('b'));
    await Promise.resolve();
    assert.equal(ran.length, 0, 'nothing runs by itself');
    assert.equal(clock.pendingSoon, 2);
    await clock.settle();
    assert.deepEqual(ran, ['a', 'b', 'c']);
    clock.setTimeout(() => { ran.push('timer'); clock.soon(() => ran.push('after timer')); }, 10);
    clock.setTimeout(() => ran.push('second timer'), 10);
    clock.soon(() => ran.push('before timers'));
    clock.advance(10);
    assert.deepEqual(ran.slice(3), ['before timers', 'timer', 'after timer', 'second timer'], 'a turn\'s soon work runs before the next timer');
  });
});
