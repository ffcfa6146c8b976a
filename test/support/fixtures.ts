/**
 * The objects the wire tests and the conformance vectors call. The tests' own, so that the demo can
 * change without changing what the tests prove: deterministic where the demo is lively (the ticker's
 * prices count up, the admin object reports a fixed shape), and each member there for a test.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { callContext, ErrorCode, expose, oneway, remote, UplinkError, validate, type ClientCallback, type ClientObject, type Gateway } from '../../src/index.js';

/** A registered error class: it crosses the wire with its name, message and data. */
export class TestError extends Error {
  override name = 'TestError';
  constructor(message: string, readonly data: { hint: string }) {
    super(message);
  }
}

/** Arithmetic, with argument schemas on divide and sum. */
export class Calculator {
  @expose add(a: number, b: number): number {
    return a + b;
  }

  @expose @validate(z.tuple([z.number(), z.number()]))
  divide(a: number, b: number): number {
    if (b !== 0) return a / b;
    throw new TestError('division by zero', { hint: 'pass a non-zero divisor' });
  }

  @expose @validate(z.tuple([z.array(z.number().finite()).max(10_000)]))
  sum(values: number[]): number {
    let total = 0;
    for (const v of values) total += v;
    return total;
  }
}

/** Values back as they came, failures of both kinds, a slow answer that honours cancellation, and the call context. */
export class Echo {
  @expose echo<T>(value: T): T {
    return value;
  }

  @expose fail(message: string): never {
    throw new TestError(message, { hint: 'this method always fails' });
  }

  /** An unregistered error: the client must see INTERNAL and none of this text. */
  @expose crash(): never {
    throw new Error('secret internal detail /srv/app/db.ts:42');
  }

  /** Calls of `slow` running now, in this process: tests wait for a call to reach the method with it. */
  static slowRunning = 0;

  @expose async slow(ms: number): Promise<string> {
    Echo.slowRunning++;
    try {
      await delay(Math.min(Math.max(0, ms), 60_000), undefined, { signal: callContext().signal });
    } finally {
      Echo.slowRunning--;
    }
    return `slept ${ms} ms`;
  }

  @expose whoami(): { subject: string | null; connection: string; correlationId: string } {
    const context = callContext();
    context.annotate('served-by', 'echo');
    return { subject: context.identity?.subject ?? null, connection: context.connection.id, correlationId: context.correlationId };
  }
}

/** Registered per connection (session mode): a property, a method, and a oneway log. */
export class Counter {
  #count = 0;
  readonly #notes: string[] = [];

  @expose get count(): number {
    return this.#count;
  }

  @expose set count(value: number) {
    if (!Number.isFinite(value)) throw new TestError('count must be a finite number', { hint: 'send a number' });
    this.#count = value;
  }

  @expose increment(by = 1): number {
    return (this.#count += by);
  }

  @oneway note(text: string): void {
    this.#notes.push(String(text).slice(0, 200));
    this.#notes.splice(0, this.#notes.length - 100);
  }

  @expose notes(): string[] {
    return this.#notes.slice();
  }
}

export interface Tick { symbol: string; price: number; seq: number; at: Date }

/** An endless async stream, one tick per interval, until the caller cancels. */
export class Ticker {
  @expose async *watch(symbol: string, intervalMs = 100): AsyncGenerator<Tick> {
    const signal = callContext().signal;
    const every = Math.min(Math.max(10, Number(intervalMs) || 100), 10_000);
    for (let seq = 0; !signal.aborted; seq++) {
      yield { symbol: String(symbol).slice(0, 16), price: 100 + seq, seq, at: new Date(seq * every) };
      await delay(every, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Only callers with the `admin` scope may see it. */
export class AdminPanel {
  @expose stats(): { rssBytes: number } {
    return { rssBytes: process.memoryUsage.rss() };
  }
}

/** Deterministic streams: the items and their framing depend only on the credit (conformance vectors). */
export class Numbers {
  /** 0, 1, ..., n-1, produced synchronously. */
  @expose *range(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i;
  }
}

/** A running total handed out by reference (Relay.openTally). */
export class Tally {
  total = 0;
  @expose add(n: number): number {
    return (this.total += n);
  }
}

/** Callbacks and references (one instance per connection, so a kept callback is that connection's). */
export class Relay {
  private kept: ClientCallback<(x: number) => number> | undefined;

  /** Calls the client's function with x and adds one to its answer. */
  @expose async callMe(fn: ClientCallback<(x: number) => number>, x: number): Promise<number> {
    return (await fn(x)) + 1;
  }

  /** Calls the member `twice` of a client object. */
  @expose async callMember(target: ClientObject<{ twice(x: number): number }>, x: number): Promise<number> {
    return target.twice(x);
  }

  /** Keeps a callback for later calls (a subscription). */
  @expose keep(fn: ClientCallback<(x: number) => number>): boolean {
    this.kept = fn;
    return true;
  }

  @expose async callKept(x: number): Promise<number> {
    if (!this.kept) throw new UplinkError(ErrorCode.BAD_ARGUMENTS, 'nothing kept');
    return this.kept(x);
  }

  @expose openTally(): Tally {
    return remote(new Tally());
  }
}

/** Registers the fixtures under the ids the tests call. */
export function registerFixtures(gateway: Gateway): void {
  gateway.codec.registerError(TestError, 'TestError');
  for (const [id, target] of Object.entries({ calc: new Calculator(), echo: new Echo(), ticker: new Ticker(), numbers: new Numbers() })) gateway.register(target, id);
  gateway.register(Counter, { id: 'counter', mode: 'session' });
  gateway.register(Relay, { id: 'relay', mode: 'session' });
  gateway.register(new AdminPanel(), 'admin', { access: { scopes: ['admin'] } });
}
