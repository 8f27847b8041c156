/**
 * Counts the garbage collections `run` causes: the allocation tests' measure of "allocates
 * nothing per packet" (design.md §6 hot path). GC entries reach a PerformanceObserver
 * asynchronously, so the count is taken a turn of the event loop after `run` returns.
 */
import { PerformanceObserver } from 'node:perf_hooks';

export function countGcs(run: () => void): Promise<number> {
  return new Promise((resolve) => {
    let gcs = 0;
    const obs = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    obs.observe({ entryTypes: ['gc'] });
    run();
    setTimeout(() => {
      obs.disconnect();
      resolve(gcs);
    }, 50);
  });
}
