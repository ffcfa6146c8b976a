/**
 * `npm run bench:number-strings`: what writing an ever-growing id into a header costs, `${id}` against
 * JSON.stringify(id). V8 keeps strings made from numbers the first way in a cache that lives in the
 * old generation; with a fresh id per call, each scavenge finds thousands of young strings held there
 * and promotes them (docs/performance.md, issue #17 second pass). The header is the only thing that
 * differs between the two runs.
 */
import { PerformanceObserver } from 'node:perf_hooks';

type Header = (id: number) => string;
const headers: Array<[string, Header]> = [
  ['template ${id}', (id) => `{"t":"result","id":${id}}`],
  ['JSON.stringify(id)', (id) => '{"t":"result","id":' + JSON.stringify(id) + '}'],
];

let gcMs = 0;
let gcCount = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcCount++;
  }
}).observe({ entryTypes: ['gc'] });

/**
 * `calls` of 8 callers in turn: each call's answer frame (header + body) is written when the call is
 * made and waits in a queue until a setImmediate sends the batch, as a gateway's outbox holds frames.
 */
async function run(header: Header, ms: number): Promise<{ usPerCall: number; gcMsPerSec: number; gcs: number }> {
  let outbox: Array<[string, () => void]> = [];
  let scheduled = false;
  let nextId = 1;
  let bytes = 0;
  const flush = () => {
    scheduled = false;
    const frames = outbox;
    outbox = [];
    for (const [frame, resolve] of frames) {
      bytes += frame.length;
      resolve();
    }
  };
  const call = () => new Promise<void>((resolve) => {
    outbox.push([header(nextId++) + '\n[3]', resolve]);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  const until = performance.now() + ms;
  let calls = 0;
  [gcMs, gcCount] = [0, 0];
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < until) {
      await call();
      calls++;
    }
  }));
  const cpu = process.cpuUsage(cpu0);
  if (bytes === 0) throw new Error('nothing was sent');
  return { usPerCall: (cpu.user + cpu.system) / calls, gcMsPerSec: (gcMs * 1000) / ms, gcs: gcCount };
}

for (let round = 0; round < 3; round++) {
  for (const [name, header] of headers) {
    const r = await run(header, 2_000);
    console.log(`${name.padEnd(20)} ${r.usPerCall.toFixed(2)} us per call, garbage collection ${r.gcMsPerSec.toFixed(0)} ms per second (${r.gcs} collections)`);
  }
}
