/** The demo objects `npm start` serves: each shows one feature of Uplink. */
import { z } from 'zod';
import { callContext, expose, oneway, validate } from '../index.js';

/** A user error class; registered with the codec, it crosses the wire with its name and data. */
export class DemoError extends Error {
  data: { hint: string };
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'DemoError';
    this.data = { hint };
  }
}

export class Calculator {
  @expose add(a: number, b: number): number {
    return a + b;
  }

  /** Arguments checked by a schema (any Standard Schema library): a string gets BAD_ARGUMENTS with the issues. */
  @expose @validate(z.tuple([z.number(), z.number()]))
  divide(a: number, b: number): number {
    if (b === 0) throw new DemoError('division by zero', 'pass a non-zero divisor');
    return a / b;
  }

  @expose @validate(z.tuple([z.array(z.number().finite()).max(10_000)]))
  sum(values: number[]): number {
    return values.reduce((s, v) => s + v, 0);
  }
}

export class Echo {
  @expose echo<T>(value: T): T {
    return value;
  }

  /** Fails with a registered error: the client sees DemoError with its message and data. */
  @expose fail(message: string): never {
    throw new DemoError(message, 'this method always fails');
  }

  /** Fails with an unregistered error: the client sees INTERNAL and nothing of the message. */
  @expose crash(): never {
    throw new Error('secret internal detail /srv/app/db.ts:42');
  }

  /** Answers after `ms` milliseconds, or fails as soon as the caller cancels or the deadline passes. */
  @expose async slow(ms: number): Promise<string> {
    const signal = callContext().signal;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, Math.min(Math.max(0, ms), 60_000));
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
    return `slept ${ms} ms`;
  }

  /** Who is calling: identity and correlation data from the call context. */
  @expose whoami(): { subject: string | null; connection: string; correlationId: string } {
    const ctx = callContext();
    ctx.annotate('served-by', 'echo');
    return { subject: ctx.identity?.subject ?? null, connection: ctx.connection.id, correlationId: ctx.correlationId };
  }
}

export class Counter {
  private value = 0;
  private readonly log: string[] = [];

  @expose get count(): number {
    return this.value;
  }

  @expose set count(v: number) {
    if (!Number.isFinite(v)) throw new DemoError('count must be a finite number', 'send a number');
    this.value = v;
  }

  @expose increment(by = 1): number {
    this.value += by;
    return this.value;
  }

  /** Oneway: the caller does not wait; the note is kept for `notes()`. */
  @oneway note(text: string): void {
    this.log.push(String(text).slice(0, 200));
    if (this.log.length > 100) this.log.shift();
  }

  @expose notes(): string[] {
    return [...this.log];
  }
}

/** Only callers whose token has the `admin` scope see or call this object. */
export class AdminPanel {
  @expose stats(): { rssBytes: number; heapUsedBytes: number; uptimeSec: number } {
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, uptimeSec: Math.round(process.uptime()) };
  }
}

export interface Tick { symbol: string; price: number; seq: number; at: Date }

/** A price feed: an async generator streamed to the caller, paced by the caller's credit. */
export class Ticker {
  @expose async *watch(symbol: string, intervalMs = 100): AsyncGenerator<Tick> {
    const signal = callContext().signal;
    const every = Math.min(Math.max(10, Number(intervalMs) || 100), 10_000);
    let price = 100;
    for (let seq = 0; !signal.aborted; seq++) {
      price = Math.max(1, price + (Math.random() - 0.5) * 2);
      yield { symbol: String(symbol).slice(0, 16), price: Math.round(price * 100) / 100, seq, at: new Date() };
      await new Promise<void>((resolve) => {
        const onAbort = (): void => { clearTimeout(timer); resolve(); };
        const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, every);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
