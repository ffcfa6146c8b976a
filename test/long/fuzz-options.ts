/**
 * Options of `npm run fuzz:long` and `npm run fuzz:smoke`:
 *
 *   --frames N          WebSocket frames (default 1,000,000; smoke 3,000); 0 skips the WebSocket lane
 *   --nats-messages N   NATS messages forged by the three roles (default 300,000; smoke 3,000); 0 skips it
 *   --decodes N         payloads through the decoder alone (default: as many as frames)
 *   --seed S            the first seed (each chunk and round adds its number); default: the clock (smoke: 1)
 *   --smoke             the small counts (under a minute, for CI)
 *   --minimize N        faults reduced to a minimal reproduction, per lane (default 6; smoke 2)
 *   --phase TEXT        only the NATS phases whose name contains TEXT (e.g. ops, heartbeats)
 *   --skip-known        do not send inputs that hit a fault of known-faults.ts (explores past them)
 */
import { parseArgs } from 'node:util';

export interface FuzzOptions { frames: number; natsMessages: number; decodes: number; seed: number; smoke: boolean; minimize: number; phase: string; skipKnown: boolean }

export function fuzzOptions(argv: string[]): FuzzOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      frames: { type: 'string' }, 'nats-messages': { type: 'string' }, decodes: { type: 'string' },
      seed: { type: 'string' }, smoke: { type: 'boolean', default: false }, minimize: { type: 'string' }, phase: { type: 'string', default: '' }, 'skip-known': { type: 'boolean', default: false },
    },
  });
  const smoke = values.smoke ?? false;
  const count = (text: string | undefined, fallback: number): number => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a count: ${text}`);
    return n;
  };
  const frames = count(values.frames, smoke ? 3_000 : 1_000_000);
  return {
    frames,
    natsMessages: count(values['nats-messages'], smoke ? 3_000 : 300_000),
    decodes: count(values.decodes, frames),
    seed: count(values.seed, smoke ? 1 : Date.now() % 1_000_000_000),
    smoke,
    minimize: count(values.minimize, smoke ? 2 : 6),
    phase: values.phase ?? '',
    skipKnown: values['skip-known'] ?? false,
  };
}
