/**
 * Counts the garbage collections `run` causes: the allocation tests' measure of "allocates
 * nothing per packet" (design.md §6 hot path). A full collection first finishes any marking the
 * setup's allocations started (it would otherwise end inside `run`); GC entries reach a
 * PerformanceObserver asynchronously, so they are read a turn of the event loop later and only
 * those that started while `run` ran are counted.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

// --expose-gc for a fresh context of this isolate only.
v8.setFlagsFromString('--expose-gc');
/** A full, synchronous garbage collection. */
export const fullGc = runInNewContext('gc') as () => void;

export function countGcs(run: () => void): Promise<number> {
  return new Promise((resolve) => {
    const starts: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) starts.push(e.startTime);
    });
    obs.observe({ entryTypes: ['gc'] });
    fullGc();
    const t0 = performance.now();
    run();
    const t1 = performance.now();
    setTimeout(() => {
      obs.disconnect();
      resolve(starts.filter((t) => t >= t0 && t <= t1).length);
    }, 50);
  });
}

/**
 * The control every allocation test runs beside its loop: a million iterations allocating one
 * 64-byte array each must be seen (so a zero from `countGcs` means something).
 */
export async function controlGcs(): Promise<number> {
  let keep: Uint8Array = new Uint8Array(0);
  const gcs = await countGcs(() => {
    for (let i = 0; i < 1_000_000; i++) keep = new Uint8Array(64);
  });
  return keep.length === 64 ? gcs : -1;
}
