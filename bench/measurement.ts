/** One row of the bench (a scenario on a server: its rate, latency and server cost), and how rows are summarised. */
export interface Measurement {
  scenario: string; server: string; ops: number; opsPerSec: number;
  p50us: number; p99us: number; p999us: number;
  serverCpuUsPerOp: number; clientCpuUsPerOp: number; ratioToReference?: number;
  /** The client rows (bench/client-rows.ts): ratioToReference is client CPU there; these are calls/s and server CPU. */
  callsRatio?: number;
  serverRatio?: number;
  rssBytesPerConnection?: number;
  /** uplink-nats rows: CPU of the object host and of nats-server per operation (the gateway's is serverCpuUsPerOp). */
  hostCpuUsPerOp?: number;
  natsCpuUsPerOp?: number;
  /** The nats rows (bench/nats-rows.ts): the cluster's calls/s, nats-server CPU and p50 as ratios to raw nats.js request/reply. */
  vsRawNats?: { calls: number; natsCpu: number; p50: number };
}

export const round = (n: number) => Math.round(n * 100) / 100;

/** The middle value (the upper one of an even count). */
export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * `runs[i][r]`: subject i's measurement in round r. Each subject's median run (by server CPU per
 * op); the others' ratio to the first is the median of the per-round ratios.
 */
export function medianRows(runs: Measurement[][]): Measurement[] {
  return runs.map((series, i) => {
    const cpu = median(series.map((m) => m.serverCpuUsPerOp));
    const row = series.find((m) => m.serverCpuUsPerOp === cpu)!;
    if (i > 0) row.ratioToReference = round(median(series.map((m, r) => m.serverCpuUsPerOp / runs[0]![r]!.serverCpuUsPerOp)));
    console.error(`  ${row.scenario.padEnd(22)} ${row.server.padEnd(9)} ${String(row.opsPerSec).padStart(8)}/s  server ${row.serverCpuUsPerOp} us/op (median of ${series.length})`);
    return row;
  });
}
