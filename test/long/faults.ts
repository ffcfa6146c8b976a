/**
 * The faults a run found: what broke (a dead process, stray output, a wrong honest answer, an
 * uncaught exception), where, and the smallest input found that still reproduces it. Faults with the
 * same signature (the description with ids and numbers blanked) are counted, not listed again.
 */
export interface Fault {
  lane: 'ws' | 'nats';
  target: string;
  what: string[];
  /** How many times a fault with this signature was seen. */
  seen: number;
  /** The frames or messages that reproduce it, described (big ones cut), when minimization confirmed it. */
  repro?: unknown[];
  reproConfirmed?: boolean;
  /** The frames or messages of the round it appeared in, when it was not (or not yet) minimized. */
  round?: number;
}

export class FaultLog {
  readonly faults: Fault[] = [];

  get count(): number {
    return this.faults.reduce((n, f) => n + f.seen, 0);
  }

  /** Records a fault; returns it when its signature is new (worth minimizing), else undefined. */
  add(lane: Fault['lane'], target: string, what: string[]): Fault | undefined {
    const sign = signature(what);
    const known = this.faults.find((f) => f.lane === lane && signature(f.what) === sign);
    if (known) {
      known.seen++;
      return undefined;
    }
    const fault: Fault = { lane, target, what, seen: 1 };
    this.faults.push(fault);
    return fault;
  }
}

/** The first two lines of each description (who, then what it printed first), ids and numbers blanked. */
function signature(what: string[]): string {
  return what.map((w) => w.split('\n').slice(0, 2).join(' ').replace(/[A-Za-z0-9_-]{22}/g, 'ID').replace(/\d+/g, 'N')).sort().join('|');
}

/** A frame or message for a report: short ones whole, long ones cut with their size. */
export function describe(text: string): string {
  return text.length <= 600 ? text : `${text.slice(0, 400)}… (${text.length} characters; ends …${text.slice(-80)})`;
}
