/**
 * The hosts' ledgers (objects.ts), read back by the drill: how often each call id ran and each stream
 * was opened, over every host that ever ran, killed ones included.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export class Ledger {
  constructor(readonly dir: string) {}

  /** `kind id` -> the hosts it ran on (one entry per run). */
  private runs(): Map<string, string[]> {
    const runs = new Map<string, string[]>();
    for (const file of readdirSync(this.dir).filter((f) => f.endsWith('.log'))) {
      const host = file.slice(0, -4);
      for (const line of readFileSync(join(this.dir, file), 'utf8').split('\n')) {
        if (!line) continue;
        const list = runs.get(line) ?? [];
        list.push(host);
        runs.set(line, list);
      }
    }
    return runs;
  }

  /** Throws unless every call id starting with `prefix` ran at most once and every such stream opened at most once. */
  assertNoneTwice(prefix: string): { calls: number; streams: number } {
    let calls = 0;
    let streams = 0;
    for (const [entry, hosts] of this.runs()) {
      const [kind, id] = entry.split(' ');
      if (!id?.startsWith(prefix)) continue;
      if (hosts.length > 1) throw new Error(`${kind} ${id} ran ${hosts.length} times (on ${hosts.join(', ')})`);
      if (kind === 'call') calls++;
      else streams++;
    }
    return { calls, streams };
  }

  /** Throws unless each of `ids` (calls that answered) ran exactly once. */
  assertRanOnce(ids: Iterable<string>): void {
    const runs = this.runs();
    for (const id of ids) {
      const n = runs.get(`call ${id}`)?.length ?? 0;
      if (n !== 1) throw new Error(`call ${id} answered but ran ${n} times`);
    }
  }
}
