/**
 * Which runtime serves the gateway (GatewayOptions.runtime, UPLINK_RUNTIME): 'uws' takes a native
 * uWebSockets.js build and refuses to start without one (the JS shim only with allowJsFallback);
 * 'node' takes node:http and ws; 'auto' takes uWS where a native build loads and otherwise node,
 * with a warning that says why. 'auto' never picks the shim: the node runtime is the better fallback.
 */
import { loadedUws, selectUws, type Uws, type UwsReport } from '../http/uws-loader.js';
import { NodeRuntime } from './node-runtime.js';
import type { ServerRuntime } from './runtime.js';
import { UwsRuntime } from './uws-runtime.js';

export type RuntimeChoice = 'uws' | 'node' | 'auto';

export interface RuntimeSelection {
  runtime: ServerRuntime;
  /** What the uWS loader found (no candidates: not tried, the node runtime was asked for). */
  uwsReport: UwsReport;
  /** Why 'auto' fell back to the node runtime (one log line), or undefined. */
  fallback: string | undefined;
}

const NOT_TRIED: UwsReport = { loaded: undefined, native: false, uwsVersion: undefined, candidates: [] };

/** `load` is the uWS loader (tests inject one that finds no native build). */
export function selectRuntime(choice: RuntimeChoice, allowJsFallback: boolean, load: () => { uws: Uws | undefined; report: UwsReport } = loadedUws): RuntimeSelection {
  if (choice === 'node') return { runtime: new NodeRuntime(), uwsReport: NOT_TRIED, fallback: undefined };
  const loaded = load();
  if (choice === 'uws') {
    const { uws, report } = selectUws(allowJsFallback, loaded); // NativeBindingError without a native build (or the allowed shim)
    return { runtime: new UwsRuntime(uws), uwsReport: report, fallback: undefined };
  }
  if (loaded.uws && loaded.report.native) return { runtime: new UwsRuntime(loaded.uws), uwsReport: loaded.report, fallback: undefined };
  const reasons = loaded.report.candidates.map((c) => `${c.module}: ${c.reason ?? c.result}`).join('; ');
  return {
    runtime: new NodeRuntime(), uwsReport: loaded.report,
    fallback: `no native uWebSockets.js build loads on ${process.platform}-${process.arch} with Node.js ${process.versions.node} (${reasons || 'no candidates'}): running on the node runtime`,
  };
}
