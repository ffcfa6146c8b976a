/**
 * What the fuzzed frames got back, and how many reached dispatch.
 *
 * The measure, per frame sent: a frame "reached dispatch" when the first answer carrying its id is
 * anything but a parse-level or admission refusal (REFUSED below): a result, batch-result,
 * stream-open or refreshed, or an error the dispatcher, the object host or the method produced
 * (UNKNOWN_OBJECT, BAD_ARGUMENTS, TYPE_NOT_ALLOWED, DEADLINE_EXCEEDED, STREAM_LOST, ...). Frames that
 * are never answered by design (credit, cancel, release, oneway, callback answers) count as not
 * reaching it, and so do text-mutated and random frames (their ids are not tracked) and frames whose
 * answer never came: the percentage is a lower bound. "Answered
 * with a value" is the stricter subset: result, batch-result, stream-open, refreshed.
 */
export const REFUSED: ReadonlySet<string> = new Set(['BAD_FRAME', 'PAYLOAD_TOO_LARGE', 'BUSY', 'RATE_LIMITED']);
const VALUES: ReadonlySet<string> = new Set(['result', 'batch-result', 'stream-open', 'refreshed']);

/** Per kind: sent; with a header the gateway's shape check refuses (by construction: names one past a limit...); answered (first answer to its id); dispatched; answered with a value. */
export interface KindCounts { sent: number; headerRefused: number; answered: number; dispatched: number; values: number }

export class AnswerTally {
  /** Frames sent, by FrameSpec kind. */
  readonly kinds = new Map<string, KindCounts>();
  /** Every frame the gateways sent back, by type (errors by code). */
  readonly answers = new Map<string, number>();
  /** Close codes of fuzzed connections the gateway closed. */
  readonly closes = new Map<string, number>();
  /** Frames whose id was tracked but the connection closed before an answer. */
  lostToClose = 0;
  /** Frames whose answer had not come 5 s after the lane waited for room (given up on). */
  unanswered = 0;

  sent(kind: string): void {
    this.counts(kind).sent++;
  }

  refusedHeader(kind: string): void {
    this.counts(kind).headerRefused++;
  }

  /** Any frame from a gateway: `t` and, for errors, `code`. */
  answer(head: { t: string; code?: string }): void {
    const key = head.t === 'error' ? `error ${head.code}` : head.t;
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  /** The first answer to a tracked frame of `kind`. */
  firstAnswer(kind: string, head: { t: string; code?: string }): void {
    const c = this.counts(kind);
    c.answered++;
    if (head.t === 'error' ? !REFUSED.has(head.code ?? '') : head.t !== 'pong') c.dispatched++;
    if (VALUES.has(head.t)) c.values++;
  }

  closed(code: number): void {
    this.closes.set(String(code), (this.closes.get(String(code)) ?? 0) + 1);
  }

  totals(): KindCounts {
    const t = { sent: 0, headerRefused: 0, answered: 0, dispatched: 0, values: 0 };
    for (const c of this.kinds.values()) {
      t.sent += c.sent;
      t.headerRefused += c.headerRefused;
      t.answered += c.answered;
      t.dispatched += c.dispatched;
      t.values += c.values;
    }
    return t;
  }

  /** The report: totals, percentages, per kind, answers and closes. */
  summary(): Record<string, unknown> {
    const t = this.totals();
    const pct = (n: number) => +((100 * n) / Math.max(1, t.sent)).toFixed(1);
    return {
      framesSent: t.sent, headerRefusedByConstruction: t.headerRefused, reachedDispatch: t.dispatched, reachedDispatchPct: pct(t.dispatched), answeredWithValue: t.values, answeredWithValuePct: pct(t.values),
      badFrameAnswers: this.answers.get('error BAD_FRAME') ?? 0, lostToClose: this.lostToClose, unanswered: this.unanswered,
      byKind: Object.fromEntries([...this.kinds].sort((a, b) => b[1].sent - a[1].sent)),
      answers: Object.fromEntries([...this.answers].sort((a, b) => b[1] - a[1])),
      closes: Object.fromEntries(this.closes),
    };
  }

  merge(other: AnswerTally): void {
    for (const [k, c] of other.kinds) {
      const mine = this.counts(k);
      mine.sent += c.sent;
      mine.headerRefused += c.headerRefused;
      mine.answered += c.answered;
      mine.dispatched += c.dispatched;
      mine.values += c.values;
    }
    for (const [k, n] of other.answers) this.answers.set(k, (this.answers.get(k) ?? 0) + n);
    for (const [k, n] of other.closes) this.closes.set(k, (this.closes.get(k) ?? 0) + n);
    this.lostToClose += other.lostToClose;
    this.unanswered += other.unanswered;
  }

  private counts(kind: string): KindCounts {
    let c = this.kinds.get(kind);
    if (!c) this.kinds.set(kind, (c = { sent: 0, headerRefused: 0, answered: 0, dispatched: 0, values: 0 }));
    return c;
  }
}
