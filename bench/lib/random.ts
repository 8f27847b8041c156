/**
 * Deterministic randomness for generated inputs (benchmarks and test fixtures): mulberry32, a
 * small 32-bit generator, so that the same seed gives the same capture, cluster or map on
 * every run and machine.
 */

/** mulberry32: a u32 per call. */
export function mulberry32U32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** mulberry32 as a float in [0, 1). */
export function mulberry32(seed: number): () => number {
  const next = mulberry32U32(seed);
  return () => next() / 4294967296;
}
