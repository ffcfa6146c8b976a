/**
 * The objects of the drill's host processes (`uplink host test/drill/objects.ts`). Every call and
 * every stream open is written to the ledger (UPLINK_DRILL_LEDGER/<host name>.log, one line each,
 * appended synchronously so a line survives the host's kill -9) before it runs: the drill reads the
 * ledgers of all hosts to check that no call id ran twice and no stream was opened twice.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { callContext, expose } from '../../src/index.js';

const hostName = () => process.env.UPLINK_HOST_NAME ?? 'unnamed';

/** One line per run, written before the work starts. */
function record(kind: 'call' | 'open', id: string): void {
  const dir = process.env.UPLINK_DRILL_LEDGER;
  if (dir) appendFileSync(join(dir, `${hostName()}.log`), `${kind} ${id}\n`);
}

/** Shared by every connection: calls go to whichever host the gateway picks. */
export class Drill {
  /** Runs once per id (the ledger says so), waits `ms` (cut short by a cancel) and names its host. */
  @expose async work(id: string, ms = 0): Promise<{ id: string; host: string }> {
    record('call', String(id));
    await delay(Math.min(Number(ms) || 0, 30_000), undefined, { signal: callContext().signal }).catch(() => undefined);
    return { id, host: hostName() };
  }

  /** 0, 1, 2, ... every intervalMs until cancelled; `streamId` names the stream in the ledger. */
  @expose async *ticks(streamId: string, intervalMs = 20): AsyncGenerator<{ seq: number; host: string }> {
    record('open', String(streamId));
    const signal = callContext().signal;
    for (let seq = 0; !signal.aborted; seq++) {
      yield { seq, host: hostName() };
      await delay(Math.max(5, Number(intervalMs) || 20), undefined, { signal }).catch(() => undefined);
    }
  }
}

export default (registrar: { register(target: object, id: string): string }) => {
  registrar.register(new Drill(), 'drill');
};
