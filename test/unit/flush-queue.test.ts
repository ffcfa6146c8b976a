/** The gateway's write pass (server/connection/flush-queue.ts), driven by hand: no event loop involved. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlushQueue, type QueuedWrites } from '../../src/server/connection/flush-queue.js';

/** A queue whose passes run only when the test says so. */
function manualQueue() {
  let scheduled: (() => void) | undefined;
  let arms = 0;
  const queue = new FlushQueue((pass) => {
    arms++;
    scheduled = pass;
  });
  const runPass = () => {
    const pass = scheduled;
    scheduled = undefined;
    pass?.();
  };
  return { queue, runPass, arms: () => arms, armed: () => scheduled !== undefined };
}

const outbox = (log: string[], name: string, onWrite?: () => void): QueuedWrites => ({ writeQueued: () => { log.push(name); onWrite?.(); } });

describe('FlushQueue', () => {
  it('arms one pass for many outboxes and writes each once', () => {
    const { queue, runPass, arms } = manualQueue();
    const log: string[] = [];
    const a = outbox(log, 'a');
    queue.add(a);
    queue.add(outbox(log, 'b'));
    queue.add(a);
    assert.equal(arms(), 1);
    runPass();
    assert.deepEqual(log, ['a', 'b']);
  });

  it('runs tasks first, and the outboxes they fill are written in the same pass (one turn from item to socket)', () => {
    const { queue, runPass, arms, armed } = manualQueue();
    const log: string[] = [];
    queue.beforeWrites(() => {
      log.push('stream batch');
      queue.add(outbox(log, 'outbox'));
    });
    runPass();
    assert.deepEqual(log, ['stream batch', 'outbox']);
    assert.equal(arms(), 1, 'no second pass was needed');
    assert.equal(armed(), false);
  });

  it('serves what arrives during the writes in the next pass, never drops it', () => {
    const { queue, runPass, armed } = manualQueue();
    const log: string[] = [];
    const late = outbox(log, 'late');
    queue.add(outbox(log, 'first', () => {
      queue.add(late);
      queue.beforeWrites(() => log.push('late task'));
    }));
    runPass();
    assert.deepEqual(log, ['first']);
    assert.equal(armed(), true, 'a new pass is armed for the arrivals');
    runPass();
    assert.deepEqual(log, ['first', 'late task', 'late']);
  });

  it('a task that schedules another task runs it in the next pass, not in a loop', () => {
    const { queue, runPass } = manualQueue();
    let runs = 0;
    const again = (): void => {
      runs++;
      queue.beforeWrites(again);
    };
    queue.beforeWrites(again);
    runPass();
    assert.equal(runs, 1);
    runPass();
    assert.equal(runs, 2);
  });

  it('a task or a write that throws is reported; the pass goes on and later passes still run', () => {
    const failures: unknown[] = [];
    const passes: Array<() => void> = [];
    const queue = new FlushQueue((pass) => passes.push(pass), (error) => failures.push(error));
    const log: string[] = [];
    queue.beforeWrites(() => { throw new Error('task'); });
    queue.beforeWrites(() => log.push('second task'));
    queue.add({ writeQueued: () => { throw new Error('write'); } });
    queue.add(outbox(log, 'other outbox'));
    passes.shift()!();
    assert.deepEqual(log, ['second task', 'other outbox']);
    assert.deepEqual(failures.map((e) => (e as Error).message), ['task', 'write']);
    queue.add(outbox(log, 'later'));
    assert.equal(passes.length, 1, 'a new pass is armed after the failures');
    passes.shift()!();
    assert.deepEqual(log.at(-1), 'later');
  });

  it('forgets the outbox of a closed connection', () => {
    const { queue, runPass } = manualQueue();
    const log: string[] = [];
    const gone = outbox(log, 'gone');
    queue.add(gone);
    queue.forget(gone);
    runPass();
    assert.deepEqual(log, []);
  });
});
