/**
 * Runtime selection (runtime/select-runtime.ts): 'auto' takes uWS where a native build loads and the
 * node runtime otherwise, 'uws' refuses without a native build, 'node' never loads uWS; GET /health
 * and the 'gateway listening' line say which runtime serves. Both runtimes are started for real here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { optionsFromEnv } from '../../../src/index.js';
import { loadUws, NativeBindingError, type UwsReport } from '../../../src/server/http/uws-loader.js';
import { selectRuntime } from '../../../src/server/runtime/select-runtime.js';
import { eventually } from '../../support/eventually.js';
import { client, startGateway } from '../../support/gateway.js';
import { frame, parseFrames, rawWebSocket } from '../../hostile/raw-websocket.js';

/** A loader that finds no native build: each candidate skipped with its reason, as on Node 22 on Debian 12. */
const noNative = (): { uws: undefined; report: UwsReport } => ({
  uws: undefined,
  report: {
    loaded: undefined, native: false, uwsVersion: undefined, candidates: [
      { module: 'uws-btc', package: 'b', result: 'skipped', reason: "GLIBC_2.38' not found" },
      { module: 'uWebSockets.js', package: 't', result: 'skipped', reason: 'its native binary did not load for this platform; it fell back to the JS shim' },
    ],
  },
});

describe('runtime selection', () => {
  it("auto falls back to the node runtime with the reasons when no native uWS loads; 'uws' refuses; 'node' never loads uWS", () => {
    const auto = selectRuntime('auto', false, noNative);
    assert.equal(auto.runtime.name, 'node');
    assert.match(auto.fallback!, /no native uWebSockets\.js build loads .*uws-btc: GLIBC_2\.38' not found; uWebSockets\.js: .*JS shim.*running on the node runtime/);
    assert.equal(selectRuntime('auto', true, noNative).runtime.name, 'node', 'auto never takes the shim');
    assert.throws(() => selectRuntime('uws', false, noNative), NativeBindingError);
    let loaded = false;
    const node = selectRuntime('node', false, () => { loaded = true; return noNative(); });
    assert.equal(node.runtime.name, 'node');
    assert.equal(loaded, false);
    assert.equal(node.fallback, undefined);
  });

  it('auto takes uWS where a native build loads', () => {
    const here = loadUws();
    if (!here.report.native) return; // Node 22/24 on Debian 12: covered by the test above and test:platforms
    const auto = selectRuntime('auto', false, () => here);
    assert.equal(auto.runtime.name, 'uws');
    assert.equal(auto.fallback, undefined);
  });

  for (const runtime of ['uws', 'node'] as const) {
    it(`GET /health and the listening line say the runtime (${runtime}), and calls work on it`, async (t) => {
      if (runtime === 'uws' && !loadUws().report.native) return t.skip('no native uWS build on this platform');
      const { gateway, url, logs } = await startGateway({ runtime });
      const health = await (await fetch(`http://127.0.0.1:${gateway.port}/health`)).json() as { runtime: string };
      assert.equal(health.runtime, runtime);
      assert.equal(gateway.runtimeName, runtime);
      assert.equal(logs.lines.find((l) => l.msg === 'gateway listening')?.runtime, runtime);
      const c = await client(url);
      assert.equal(await c.proxy<{ add(a: number, b: number): Promise<number> }>('calc').add(2, 3), 5);
      c.close();
      await gateway.close({ drainMs: 0 });
    });
  }

  it('UPLINK_RUNTIME is read and checked', () => {
    assert.deepEqual(optionsFromEnv({ UPLINK_RUNTIME: 'node' }), { runtime: 'node' });
    assert.deepEqual(optionsFromEnv({ UPLINK_RUNTIME: 'AUTO' }), { runtime: 'auto' });
    assert.throws(() => optionsFromEnv({ UPLINK_RUNTIME: 'bun' }), /UPLINK_RUNTIME/);
  });

  it('node runtime: a socket that answers no ping is pinged at half the idle timeout and cut at its end; one that answers stays', async () => {
    const { gateway, logs } = await startGateway({ runtime: 'node', idleTimeoutSec: 1 });
    const silent = await rawWebSocket(gateway.port);
    silent.socket.write(frame({ opcode: 1, payload: '{"t":"hello","v":[1]}' }));
    const answering = await client(`ws://127.0.0.1:${gateway.port}`, { keepaliveMs: 0 }); // ws answers pings by itself
    await silent.ended; // cut: no close frame
    const frames = parseFrames(silent.received());
    assert.ok(frames.some((f) => f.opcode === 0x9), 'the server pinged first');
    assert.ok(!frames.some((f) => f.opcode === 0x8), 'no close frame: the TCP connection was cut');
    await eventually(() => logs.lines.some((l) => l.msg === 'connection closed' && l.code === 1006), { what: 'the cut to reach the gateway as 1006' });
    await new Promise((r) => setTimeout(r, 1_500)); // longer than the idle timeout: there is no event for "still open"
    assert.equal(gateway.connectionCount, 1, 'the client that answers pings stays');
    await answering.close();
    await gateway.close({ drainMs: 0 });
  });
});
