/**
 * How the bench puts load on a server: closed loop (a fixed number of operations in flight per lane,
 * each started when the previous one ends: the server saturates and batches) or open loop (operations
 * started on a fixed schedule whatever the answers do: the server sees them one by one at a moderate
 * rate, so per-call fixed costs are not spread over a batch).
 */

export interface Driven { ops: number; latencies: Float64Array }

/** Keeps `inflight` operations going on each lane for `ms`; records one latency per operation. */
export async function driveClosed(lanes: Array<() => Promise<void>>, inflight: number, ms: number): Promise<Driven> {
  const latencies = new Float64Array(4_000_000);
  let ops = 0;
  const end = performance.now() + ms;
  await Promise.all(lanes.flatMap((op) => Array.from({ length: inflight }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op();
      if (ops < latencies.length) latencies[ops] = performance.now() - t0;
      ops++;
    }
  })));
  return { ops, latencies: latencies.subarray(0, Math.min(ops, latencies.length)) };
}

/**
 * Starts `perSecond` operations a second for `ms`, round robin over the lanes, each at its own time:
 * a setImmediate loop checks the clock between I/O polls (timers cannot go below 1 ms), so
 * operations leave one or two at a time rather than in 1 ms bursts. It costs the load generator a
 * core, which the measurement (the server's CPU) does not count. Waits for the last answers.
 */
export async function driveAtRate(lanes: Array<() => Promise<void>>, perSecond: number, ms: number): Promise<Driven> {
  const total = Math.floor((perSecond * ms) / 1000);
  const latencies = new Float64Array(total);
  const inFlight: Array<Promise<void>> = [];
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  const issue = () => {
    const t = performance.now();
    const due = Math.min(total, Math.floor(((t - t0) * perSecond) / 1000));
    for (; started < due; started++) {
      const index = started;
      inFlight.push(lanes[index % lanes.length]!().then(() => {
        latencies[index] = performance.now() - t;
        done++;
      }));
    }
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      issue();
      if (started < total) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  return { ops: done, latencies };
}

/**
 * `perSecond` operations a second for `ms` from a 1 ms timer (bursts of about perSecond / 1000):
 * unlike driveAtRate it leaves the load generator idle between bursts, so that the client's CPU per
 * operation can be read from the process's CPU time (the client rows, bench/client-rows.ts).
 */
export async function driveAtRateTimed(lanes: Array<() => Promise<void>>, perSecond: number, ms: number): Promise<Driven> {
  const total = Math.floor((perSecond * ms) / 1000);
  const latencies = new Float64Array(total);
  const inFlight: Array<Promise<void>> = [];
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const t = performance.now();
      const due = Math.min(total, Math.floor(((t - t0) * perSecond) / 1000));
      for (; started < due; started++) {
        const index = started;
        inFlight.push(lanes[index % lanes.length]!().then(() => {
          latencies[index] = performance.now() - t;
          done++;
        }));
      }
      if (started >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(inFlight);
  return { ops: done, latencies };
}
