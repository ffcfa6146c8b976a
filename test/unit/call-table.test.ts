/** The per-connection call table: one call in its own slot, more in the Map, the weight of each. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallTable } from '../../src/server/connection/call-table.js';
import type { InflightCall } from '../../src/server/connection/inflight-call.js';

function fakeCall(table: CallTable, id: number, weight = 1) {
  const events: string[] = [];
  const call = {
    id, weight,
    abort: (code: string) => { events.push(`abort ${code}`); table.settled(call as unknown as InflightCall); },
    orphan: () => void events.push('orphan'),
  };
  return { call: call as unknown as InflightCall, events };
}

describe('CallTable', () => {
  it('tracks calls by id and weight, whether one or several are in flight', () => {
    const table = new CallTable();
    const a = fakeCall(table, 1);
    const b = fakeCall(table, 2, 3);
    table.add(a.call);
    assert.equal(table.has(1), true);
    table.add(b.call);
    assert.equal(table.weight, 4);
    assert.equal(table.has(2), true);
    table.settled(a.call);
    assert.equal(table.has(1), false, 'the first call left');
    assert.equal(table.has(2), true, 'the second is still there');
    assert.equal(table.weight, 3);
    table.settled(a.call); // a second settle changes nothing
    assert.equal(table.weight, 3);
    const c = fakeCall(table, 1);
    table.add(c.call); // id 1 may be used again once its call is done
    assert.equal(table.has(1), true);
    table.settled(b.call);
    table.settled(c.call);
    assert.equal(table.weight, 0);
    assert.equal(table.has(1) || table.has(2), false);
  });

  it('cancels by id in either place, and aborts or orphans every call', () => {
    const table = new CallTable();
    const [a, b, c] = [fakeCall(table, 1), fakeCall(table, 2), fakeCall(table, 3)];
    for (const x of [a, b, c]) table.add(x.call);
    table.cancel(1);
    table.cancel(3);
    table.cancel(99);
    assert.deepEqual([a.events, c.events], [['abort CANCELLED'], ['abort CANCELLED']]);
    assert.equal(table.weight, 1);
    const d = fakeCall(table, 4);
    table.add(d.call);
    table.abortAll();
    assert.deepEqual([b.events, d.events], [['abort SHUTTING_DOWN'], ['abort SHUTTING_DOWN']]);
    assert.equal(table.weight, 0);
    const e = fakeCall(table, 5);
    const f = fakeCall(table, 6);
    table.add(e.call);
    table.add(f.call);
    table.orphanAll();
    assert.deepEqual([e.events, f.events], [['orphan'], ['orphan']]);
    assert.equal(table.weight, 0);
    assert.equal(table.has(5) || table.has(6), false);
  });
});
