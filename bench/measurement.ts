/** One row of the bench: a scenario on a server, its rate, latency and server cost. */
export interface Measurement {
  scenario: string; server: string; ops: number; opsPerSec: number;
  p50us: number; p99us: number; p999us: number;
  serverCpuUsPerOp: number; clientCpuUsPerOp: number; ratioToReference?: number;
  rssBytesPerConnection?: number;
  /** uplink-nats rows: CPU of the object host and of nats-server per operation (the gateway's is serverCpuUsPerOp). */
  hostCpuUsPerOp?: number;
  natsCpuUsPerOp?: number;
}
