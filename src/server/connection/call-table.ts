/**
 * The calls in flight on one connection, by the client's ids. A batch counts as its number of calls
 * against maxInflight (`weight`), so a batch cannot smuggle more work past the cap than single calls.
 *
 * One call in flight, the common case at a moderate rate, sits in a field of its own; the Map holds
 * the others. Measured on Node 20 (docs/performance.md): deleting the last entry of a small Map
 * cost 0.6 to 1 us, a third of the gateway's own work for a call, paid by every call made one at a time.
 */
import { ErrorCode } from '../../protocol/errors.js';
import type { InflightCall } from './inflight-call.js';

/**
 * The empty table connections share until they have two calls at once (idle connections stay small).
 * A plain Map, so every access stays monomorphic on the hot path; add() replaces it with the connection's own.
 */
const NO_CALLS = new Map<number, InflightCall>();

export class CallTable {
  /** A call in flight, kept out of the Map (see above). */
  private single: InflightCall | undefined;
  private calls: Map<number, InflightCall> = NO_CALLS;
  /** Calls in flight, a batch counting as its number of calls. */
  weight = 0;

  has(id: number): boolean {
    return this.single?.id === id || this.calls.has(id);
  }

  add(call: InflightCall): void {
    if (this.single === undefined) this.single = call;
    else {
      if (this.calls === NO_CALLS) this.calls = new Map();
      this.calls.set(call.id, call);
    }
    this.weight += call.weight;
  }

  /** The call has its outcome (InflightCall.settle calls this exactly once). */
  settled(call: InflightCall): void {
    if (this.single === call) this.single = undefined;
    else if (!this.calls.delete(call.id)) return;
    this.weight -= call.weight;
  }

  cancel(id: number): void {
    const call = this.single?.id === id ? this.single : this.calls.get(id);
    call?.abort(ErrorCode.CANCELLED, 'cancelled by the caller');
  }

  /** Answers every call still running with SHUTTING_DOWN. */
  abortAll(): void {
    for (const call of this.all()) call.abort(ErrorCode.SHUTTING_DOWN, 'the gateway shut down before the call finished');
  }

  /** The connection is gone: every call's signal aborts, nothing is sent. */
  orphanAll(): void {
    if (this.single === undefined && this.calls.size === 0) return;
    const calls = this.all();
    this.single = undefined;
    if (this.calls !== NO_CALLS) this.calls.clear();
    this.weight = 0;
    for (const call of calls) call.orphan();
  }

  /** A copy: aborting a call settles it, which changes the table. */
  private all(): InflightCall[] {
    const calls = [...this.calls.values()];
    if (this.single) calls.unshift(this.single);
    return calls;
  }
}
