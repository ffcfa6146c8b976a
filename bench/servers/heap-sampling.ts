/**
 * BENCH_HEAP_SAMPLE=<prefix>: a bench server samples its allocations from start to SIGINT, counting
 * objects that survived scavenges and died in a major GC (what is promoted only to be dropped: the
 * cost that shows as slow scavenges), and writes <prefix>.<pid>.heapprofile (Chrome DevTools opens it).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export function sampleHeapUntilExit(file: string | undefined): void {
  if (!file) return;
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false } as never);
  process.on('SIGINT', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(`${file}.${process.pid}.heapprofile`, JSON.stringify((result as { profile: unknown }).profile));
      process.exit(0);
    });
  });
}

/** BENCH_HEAP_SNAPSHOT_AT_MS=<ms>: writes a heap snapshot that long after start (objects reachable under load). */
export async function snapshotHeapAt(ms: string | undefined): Promise<void> {
  if (!ms) return;
  const { writeHeapSnapshot } = await import('node:v8');
  setTimeout(() => process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`), Number(ms)).unref();
}
