/**
 * The gateway's write pass: frames produced outside a uWS handler (async results, stream items) wait
 * in their connection's outbox, and one pass per loop turn writes every outbox that has some, each
 * in one corked write. Work that produces frames soon (a stream batching the items its generator
 * yielded this turn) runs at the start of the same pass, so its frames leave in that pass's writes:
 * one loop turn from a generator's item to the socket, not two.
 *
 * Invariants: an outbox or task added during a pass is served by the next pass (armed again), never
 * dropped; a pass does not loop on work that re-adds itself; a task or write that throws is reported
 * and the pass goes on (one fault must not stop every connection's writes).
 */

/** An outbox as the pass sees it. */
export interface QueuedWrites {
  /** Writes what is queued, corked. */
  writeQueued(): void;
}

export class FlushQueue {
  private waiting = new Set<QueuedWrites>();
  /** The set a pass iterates while new arrivals go to `waiting` (swapped: no set per pass). */
  private writing = new Set<QueuedWrites>();
  private tasks: Array<() => void> = [];
  private spareTasks: Array<() => void> = [];
  private armed = false;
  private readonly pass = () => this.run();

  /**
   * `schedule` runs the pass once the current macrotask's work is done (setImmediate; a fake in unit
   * tests); `failed` hears what a task or a write threw (the gateway logs it).
   */
  constructor(private readonly schedule: (pass: () => void) => void, private readonly failed: (error: unknown) => void = () => {}) {}

  add(outbox: QueuedWrites): void {
    this.waiting.add(outbox);
    this.arm();
  }

  /** Runs `task` at the start of the next pass, before its writes. */
  beforeWrites(task: () => void): void {
    this.tasks.push(task);
    this.arm();
  }

  /** The connection closed: its outbox is not written. */
  forget(outbox: QueuedWrites): void {
    this.waiting.delete(outbox);
  }

  /** One pass now: tasks, then every waiting outbox (also called when the gateway closes). */
  run(): void {
    // Still armed while tasks run: the outboxes they fill join this pass; tasks they add, the next.
    const tasks = this.tasks;
    this.tasks = this.spareTasks;
    for (const task of tasks) this.guarded(task);
    tasks.length = 0;
    this.spareTasks = tasks;
    this.armed = false;
    const batch = this.waiting;
    this.waiting = this.writing;
    for (const outbox of batch) this.guarded(() => outbox.writeQueued());
    batch.clear();
    this.writing = batch;
    if (this.tasks.length > 0 || this.waiting.size > 0) this.arm();
  }

  private guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.failed(error);
    }
  }

  private arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.schedule(this.pass);
  }
}
