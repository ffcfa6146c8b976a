/**
 * The faults a run found: what broke (a dead process, stray output, a wrong honest answer, an
 * uncaught exception), where, and the smallest input found that still reproduces it. Faults of one
 * target (a gateway, a phase of the NATS lane) with the same signature (the description with ids and
 * numbers blanked) are counted, not listed again: the same symptom from another phase has its own cause.
 */
export interface Fault {
  lane: 'ws' | 'nats' | 'end';
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
    const known = this.faults.find((f) => f.lane === lane && f.target === target && signature(f.what) === sign);
    if (known) {
      known.seen++;
      return undefined;
    }
    const fault: Fault = { lane, target, what, seen: 1 };
    this.faults.push(fault);
    return fault;
  }
}

/** One description's first two lines (who, then what it printed first), ids and numbers blanked. */
const normalized = (w: string): string => w.split('\n').slice(0, 2).join(' ').replace(/[A-Za-z0-9_-]{22}/g, 'ID').replace(/\d+/g, 'N');

function signature(what: string[]): string {
  return what.map(normalized).sort().join('|');
}

/**
 * Whether a replay showed the same fault: a process fault of the original shows again, or (for a
 * fault the honest client alone saw) the honest client fails again. Anything else is another fault.
 */
export function sameFault(original: readonly string[], replay: readonly string[]): boolean {
  const seen = new Set(replay.map(normalized));
  const processFaults = original.filter((w) => !w.startsWith('honest client'));
  return (processFaults.length > 0 ? processFaults : original).some((w) => seen.has(normalized(w)));
}

/** A frame or message for a report: short ones whole, long ones cut with their size. */
export function describe(text: string): string {
  return text.length <= 600 ? text : `${text.slice(0, 400)}… (${text.length} characters; ends …${text.slice(-80)})`;
}
