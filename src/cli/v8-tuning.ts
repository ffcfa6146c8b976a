/**
 * V8 settings for Uplink's own server processes (`uplink serve`, `uplink host`).
 *
 * Allocation-site pretenuring off. V8 allocates objects from an allocation site straight into the old
 * generation once it sees most of them survive a scavenge. A gateway routing calls through NATS met
 * that at random in about half of the runs (a warm-up burst: one per-call literal, the call's route,
 * found alive at a scavenge): from then on every route was born old, everything young it pointed to
 * (payload, headers, closures) survived each scavenge through the old-to-new remembered set and was
 * promoted, and scavenges took 4 to 10 times longer. Measured (docs/performance.md, #27): 60-97 us of
 * gateway CPU per call with it, 41-45 without; the one-process gateway is unaffected either way.
 * The flag is process-wide, so a library never sets it: an application embedding the gateway passes
 * `--no-allocation-site-pretenuring` to node itself. UPLINK_V8_PRETENURING=1 keeps V8's default.
 */
import { setFlagsFromString } from 'node:v8';

export function tuneV8ForServing(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.UPLINK_V8_PRETENURING === '1') return false;
  setFlagsFromString('--no-allocation-site-pretenuring');
  return true;
}
