/** The host's reference table for one connection, without sockets: counts, rollback, caps, disposal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.js';
import type { ConnectionInfo } from '../../src/core/context.js';
import { ErrorCode, UplinkError } from '../../src/protocol/errors.js';
import { HostReferences } from '../../src/host/references.js';
import { remote } from '../../src/host/remote.js';
import { Codec } from '../../src/protocol/codec.js';

class Box {
  disposed = 0;
  ping(): number {
    return 1;
  }

  [Symbol.dispose](): void {
    this.disposed++;
  }
}

function setup(maxRefs = 4) {
  const released: Array<[string, number | undefined]> = [];
  const connection: ConnectionInfo = {
    id: 'conn-1', remoteAddress: '127.0.0.1', identity: undefined, track: () => {},
    peer: { callback: async () => ({ text: 'null' }), release: (ref, n) => void released.push([ref, n]) },
  };
  const refs = new HostReferences(new Codec(), { maxRefs, callbackTimeoutMs: 1_000 }, systemClock);
  const idOf = (encoded: { text: string }) => (JSON.parse(encoded.text.split('\n')[0] as string) as { id: string }).id;
  return { refs, connection, released, idOf };
}

const box = () => remote(new Box(), { expose: ['ping'] });

describe('host reference table', () => {
  it('an object sent twice goes only after the client released both copies (n counts them)', () => {
    const { refs, connection, idOf } = setup();
    const target = box();
    const id = idOf(refs.encode(connection, target));
    assert.equal(idOf(refs.encode(connection, target)), id, 'the same object is the same id');
    const table = refs.existing(connection)!;
    table.releasedByClient(id, 1);
    assert.ok(table.holds(id), 'one copy is still on its way to the client');
    assert.equal(target.disposed, 0);
    table.releasedByClient(id, 1);
    assert.ok(!table.holds(id));
    assert.equal(target.disposed, 1);
  });

  it('a refused result takes back what it sent: new objects are withdrawn, counts of known ones restored', () => {
    const { refs, connection, idOf } = setup(2);
    const kept = box();
    const id = idOf(refs.encode(connection, kept));
    const fresh = box();
    assert.throws(() => refs.encode(connection, [kept, fresh], () => { throw new UplinkError(ErrorCode.LIMIT_EXCEEDED, 'too big'); }), /too big/);
    const table = refs.existing(connection)!;
    assert.equal(table.size.exported, 1, 'the fresh object was withdrawn');
    assert.equal(fresh.disposed, 1, 'and disposed: nobody holds it');
    table.releasedByClient(id, 1);
    assert.ok(!table.holds(id), 'the refused copy did not count');
  });

  it('one object over the cap is LIMIT_EXCEEDED and nothing of that result stays', () => {
    const { refs, connection } = setup(2);
    assert.throws(() => refs.encode(connection, [box(), box(), box()]), (e: UplinkError) => e.code === ErrorCode.LIMIT_EXCEEDED);
    assert.equal(refs.existing(connection)?.size.exported, 0);
  });

  it('a client callback released by the server says how many times it arrived', () => {
    const { refs, connection, released } = setup();
    const cref = '[{"id":"c1"},{"id":"c1"}]\n{"values":{"0":[["custom","cref"]],"1":[["custom","cref"]]},"v":1}';
    const [a, b] = refs.decode(connection, { text: cref }) as Array<{ release(): void }>;
    assert.equal(a, b, 'one proxy per id');
    a!.release();
    assert.deepEqual(released, [['c1', 2]]);
  });

  it('the connection closes: every object is disposed, nothing is sent', () => {
    const { refs, connection, released } = setup();
    const boxes = [box(), box()];
    refs.encode(connection, boxes);
    refs.releaseConnection(connection);
    assert.deepEqual(boxes.map((b) => b.disposed), [1, 1]);
    assert.deepEqual(released, []);
  });
});
