/**
 * The floor under async-generator streams: CPU per item of consuming `async *count(n)` with `for
 * await`, alone and with an AsyncLocalStorage in use (the gateway runs user code in one, so that
 * `callContext()` works after an await). On Node 20 an AsyncLocalStorage installs promise hooks
 * that run JavaScript for every promise; on Node 24 it rides on V8's continuation data instead.
 *
 *   npm run bench:async-context                                  # this Node
 *   .platforms/node-24.21.0/bin/node .bench-build/bench/experiments/async-context.js   # another (test:platforms fetches it)
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const ITEMS = 2_000_000;

async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function consume(): Promise<number> {
  let sum = 0;
  for await (const i of count(ITEMS)) sum += i;
  return sum;
}

async function usPerItem(): Promise<number> {
  const best: number[] = [];
  for (let round = 0; round < 3; round++) {
    const t0 = process.cpuUsage();
    await consume();
    const d = process.cpuUsage(t0);
    best.push((d.user + d.system) / ITEMS);
  }
  return Math.min(...best);
}

const plain = await usPerItem();
// From here on the process has an AsyncLocalStorage in use, as a gateway does after its first call.
const storage = new AsyncLocalStorage<{ call: number }>();
const withStorage = await storage.run({ call: 1 }, usPerItem);
console.log(`node ${process.version}: for await over an async generator ${plain.toFixed(3)} us/item; with an AsyncLocalStorage in use ${withStorage.toFixed(3)} us/item (${(withStorage / plain).toFixed(2)}x)`);
