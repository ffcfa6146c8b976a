/**
 * The gateway's last guard (#26): a fault inside the gateway's own frame handling (here an object
 * host that throws synchronously, as nats.js's publish did before every send was budgeted) costs the
 * frame an INTERNAL answer and a log line; the connection and the process go on serving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../../src/index.js';
import type { HostCall, ObjectHost, ReplySink } from '../../../src/host/object-host.js';
import { RawSocket, startGateway } from '../../support/gateway.js';
import { objectHost } from '../../support/nats-cluster.js';

/** Serves `calc` as usual and throws out of invoke() for `boom`. */
function throwingHost(): ObjectHost {
  const local = objectHost();
  local.register({ add: (a: number, b: number) => a + b }, { id: 'calc', expose: ['add'] });
  return new Proxy(local, {
    get(target, name, receiver) {
      if (name === 'invoke') {
        return (call: HostCall, reply: ReplySink) => {
          if (call.object === 'boom') throw new Error('a library threw inside the handler');
          target.invoke(call, reply);
        };
      }
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === 'function' ? (value as Function).bind(target) : value;
    },
  });
}

describe('the frame handler guard', () => {
  it('answers INTERNAL, logs, and keeps the connection and the process serving', async () => {
    const { gateway, url, logs } = await startGateway({ objectHost: throwingHost() }, false);
    try {
      const raw = await RawSocket.open(url);
      raw.send('{"t":"call","id":1,"o":"boom","m":"x"}\n[]');
      const answer = await raw.next();
      assert.equal(answer.header.t, 'error');
      assert.equal(answer.header.id, 1);
      assert.equal(answer.header.code, ErrorCode.INTERNAL);
      raw.send('{"t":"call","id":2,"o":"calc","m":"add"}\n[1,2]');
      const next = await raw.next();
      assert.deepEqual([next.header.t, next.header.id, next.body], ['result', 2, '3'], 'the same connection is still served');
      assert.ok(logs.lines.some((l) => l.msg === 'a frame failed inside the gateway' && l.level === 50), 'logged at error level');
      raw.close();
    } finally {
      await gateway.close({ drainMs: 0 });
    }
  });
});
