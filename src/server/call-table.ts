/**
 * The calls in flight on one connection, by the client's ids. A batch counts as its number of calls
 * against maxInflight (`weight`), so a batch cannot smuggle more work past the cap than single calls.
 */
import { ErrorCode } from '../errors.js';
import type { InflightCall } from './inflight-call.js';

/**
 * The empty table connections share until their first call (idle connections stay small). A plain
 * Map, so every access stays monomorphic on the hot path; add() replaces it with the connection's own.
 */
const NO_CALLS = new Map<number, InflightCall>();

export class CallTable {
  private calls: Map<number, InflightCall> = NO_CALLS;
  /** Calls in flight, a batch counting as its number of calls. */
  weight = 0;

  has(id: number): boolean {
    return this.calls.has(id);
  }

  add(call: InflightCall): void {
    if (this.calls === NO_CALLS) this.calls = new Map();
    this.calls.set(call.id, call);
    this.weight += call.weight;
  }

  /** The call has its outcome (InflightCall.settle calls this exactly once). */
  settled(call: InflightCall): void {
    if (this.calls.delete(call.id)) this.weight -= call.weight;
  }

  cancel(id: number): void {
    this.calls.get(id)?.abort(ErrorCode.CANCELLED, 'cancelled by the caller');
  }

  /** Answers every call still running with SHUTTING_DOWN. */
  abortAll(): void {
    for (const call of [...this.calls.values()]) call.abort(ErrorCode.SHUTTING_DOWN, 'the gateway shut down before the call finished');
  }

  /** The connection is gone: every call's signal aborts, nothing is sent. */
  orphanAll(): void {
    for (const call of this.calls.values()) call.orphan();
    this.calls.clear();
    this.weight = 0;
  }
}
