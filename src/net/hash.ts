/**
 * The integer hash rounds hubcap's typed-array tables share (conntrack keys, the fragments map,
 * duplicate suppression): murmur3's 32-bit block round and finalizer (Austin Appleby's
 * MurmurHash3_x86_32), and one xxhash32 lane round for a second, independent hash. Small enough
 * that V8 inlines them into the per-packet callers; nothing is allocated.
 */

/** One murmur3 32-bit block round of `k` into `h`. */
export function murmur3Round(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finalizer (fmix32): every input bit reaches every output bit. */
export function murmur3Finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** fmix32 with the "lowbias32" constants (Chris Wellons' hash prospector), as an int32: the key tables' bucket hash. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  return h ^ (h >>> 16);
}

/** One xxhash32 lane round of `k` into `h`. */
export function xxhashRound(h: number, k: number): number {
  h = (h + Math.imul(k, 0x85ebca77)) | 0;
  h = (h << 13) | (h >>> 19);
  return Math.imul(h, 0x9e3779b1);
}
