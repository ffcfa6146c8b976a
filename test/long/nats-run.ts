/** The NATS lane (placeholder while the WebSocket lane is tried). */
import type { FaultLog } from './faults.js';
import type { FuzzCluster } from './fuzz-cluster.js';
import type { WsTarget } from './ws-run.js';

export interface NatsRunOptions { cluster: FuzzCluster; messages: number; seed: number; target: WsTarget; faults: FaultLog; minimizeBudget: number; round: number }

export async function runNatsLane(_o: NatsRunOptions): Promise<Record<string, unknown>> {
  return {};
}
