/**
 * The agent's guard against running out of JavaScript heap while it computes policy maps.
 *
 * Policy maps are the one part of a compile whose size is a product of the inputs (endpoints with
 * distinct identities x the peers and ports their policies select): 5,000 pods with their own
 * identities under 100 cluster-wide policies came to ~17 million entries and 4.3 GB, and 20,000
 * pods made V8 abort ("Reached heap limit", a crash with a native stack) after minutes. Cilium
 * itself bounds each endpoint's map (`--bpf-policy-map-max`) but not their sum, which lives in
 * kernel memory; hubcap holds every map in its own heap, so it checks, after each distinct
 * policy it computes, how full the heap is, and stops with one line that says what to change
 * before V8 gives up.
 *
 * The check reads V8's heap statistics (a few hundred nanoseconds, once per distinct policy, not
 * per entry). Used heap counts garbage not yet collected, so the bound sits where V8 is already
 * collecting continuously: past it a compile would spend most of its time in the collector even
 * if it finished.
 */
import { getHeapStatistics } from 'node:v8';
import { CapacityError } from '../errors.js';

/** Heap in use, and V8's limit for it (`--max-old-space-size` and the young generation), in bytes. */
export interface HeapUse {
  used: number;
  limit: number;
}

/** Fraction of the old generation's limit past which the agent stops. */
export const HEAP_GUARD_FRACTION = 0.9;

/**
 * The young generation's share of V8's heap limit: three semi-spaces of 16 MiB on 64-bit Node
 * whatever `--max-old-space-size` is (heap_size_limit is that size + 48 MiB, 4,144 MiB by default
 * here). V8 aborts when the OLD generation is full, which with a small heap comes well before
 * 90 % of heap_size_limit, so the bound is taken on the old generation's limit.
 */
export const YOUNG_GENERATION_BYTES = 48 * 1024 * 1024;

export function v8HeapUse(): HeapUse {
  const s = getHeapStatistics();
  return { used: s.used_heap_size, limit: s.heap_size_limit };
}

const MIB = 1024 * 1024;

/**
 * Throws a CapacityError when the heap is fuller than HEAP_GUARD_FRACTION of the old
 * generation's limit.
 * `done` of `endpoints` endpoints have their policy, holding `entries` distinct entries so far.
 */
export function checkPolicyHeap(heap: HeapUse, done: number, endpoints: number, entries: number): void {
  const oldLimit = heap.limit > 2 * YOUNG_GENERATION_BYTES ? heap.limit - YOUNG_GENERATION_BYTES : heap.limit;
  if (heap.used <= HEAP_GUARD_FRACTION * oldLimit) return;
  const limitMiB = Math.round(oldLimit / MIB);
  throw new CapacityError(
    `policy maps: after ${done} of ${endpoints} endpoints (${entries} distinct policy-map entries) the JavaScript heap is ` +
      `${Math.round(heap.used / MIB)} of ${limitMiB} MiB full; give node more heap ` +
      `(NODE_OPTIONS=--max-old-space-size=${2 * limitMiB}) or replay with fewer endpoints or policies`,
  );
}
