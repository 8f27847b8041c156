/**
 * An open-addressing hash table from fixed-width keys of 32-bit words to slot numbers, in typed
 * arrays: the building block of the TS backend's maps (policy-map.ts, ipcache.ts).
 *
 * Mirrors: nothing in Cilium directly; it plays the part of the kernel's BPF hash/LPM buckets.
 * The kernel maps are fixed-size C structs compared byte by byte; here a key is 1, 2 or 4 words
 * (`width`), so a lookup compares integers and never builds a string or boxes a number.
 *
 * Layout (linear probing, power-of-two size, load factor <= 1/2):
 *
 *   bucket b:  vals[b]  = slot (>= 0) or EMPTY (-1)
 *              hashes[b] = full 32-bit hash of the key (compared before the key words)
 *              keys[b*width .. b*width+width-1] = the key words
 *
 * Deletion uses backward shifting (no tombstones), so a long-lived table with many deletes
 * keeps short probe sequences. Values are the caller's slot numbers (>= 0): the entry data
 * itself lives in the caller's struct-of-arrays.
 *
 * The hot methods (`get1`, `get2`, `get4`) are specialised per width and allocate nothing.
 */

const EMPTY = -1;
const MIN_BUCKETS = 8;

/** Murmur3-style finaliser (fmix32 with the "lowbias32" constants): avalanches all 32 bits. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash1(a: number): number {
  return mix32(a);
}
function hash2(a: number, b: number): number {
  return mix32(mix32(a) ^ b);
}
function hash4(a: number, b: number, c: number, d: number): number {
  return mix32(mix32(mix32(mix32(a) ^ b) ^ c) ^ d);
}

export type KeyWidth = 1 | 2 | 4;

export class KeyTable {
  readonly width: KeyWidth;
  private mask: number;
  private vals: Int32Array;
  private hashes: Uint32Array;
  private keys: Uint32Array;
  private count = 0;

  constructor(width: KeyWidth, initialBuckets = MIN_BUCKETS) {
    this.width = width;
    let n = MIN_BUCKETS;
    while (n < initialBuckets) n *= 2;
    this.mask = n - 1;
    this.vals = new Int32Array(n).fill(EMPTY);
    this.hashes = new Uint32Array(n);
    this.keys = new Uint32Array(n * width);
  }

  get size(): number {
    return this.count;
  }

  /** Bucket count (for tests and memory accounting). */
  get buckets(): number {
    return this.mask + 1;
  }

  clear(): void {
    this.vals.fill(EMPTY);
    this.count = 0;
  }

  private hashOf(k0: number, k1: number, k2: number, k3: number): number {
    const w = this.width;
    return w === 1 ? hash1(k0) : w === 2 ? hash2(k0, k1) : hash4(k0, k1, k2, k3);
  }

  get1(k0: number): number {
    const h = hash1(k0);
    const mask = this.mask;
    const vals = this.vals;
    const keys = this.keys;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const v = vals[b]!;
      if (v === EMPTY) return EMPTY;
      if (keys[b] === k0) return v;
    }
  }

  get2(k0: number, k1: number): number {
    const h = hash2(k0, k1);
    const mask = this.mask;
    const vals = this.vals;
    const hashes = this.hashes;
    const keys = this.keys;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const v = vals[b]!;
      if (v === EMPTY) return EMPTY;
      if (hashes[b] === h) {
        const o = b << 1;
        if (keys[o] === k0 && keys[o + 1] === k1) return v;
      }
    }
  }

  get4(k0: number, k1: number, k2: number, k3: number): number {
    const h = hash4(k0, k1, k2, k3);
    const mask = this.mask;
    const vals = this.vals;
    const hashes = this.hashes;
    const keys = this.keys;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const v = vals[b]!;
      if (v === EMPTY) return EMPTY;
      if (hashes[b] === h) {
        const o = b << 2;
        if (keys[o] === k0 && keys[o + 1] === k1 && keys[o + 2] === k2 && keys[o + 3] === k3) return v;
      }
    }
  }

  /** Bucket holding the key, or -1. Words beyond `width` are ignored. */
  private find(k0: number, k1: number, k2: number, k3: number, h: number): number {
    const mask = this.mask;
    const w = this.width;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      if (this.vals[b] === EMPTY) return -1;
      if (this.hashes[b] !== h) continue;
      const o = b * w;
      const keys = this.keys;
      if (keys[o] !== k0) continue;
      if (w >= 2 && keys[o + 1] !== k1) continue;
      if (w === 4 && (keys[o + 2] !== k2 || keys[o + 3] !== k3)) continue;
      return b;
    }
  }

  /** Generic lookup (any width); words beyond `width` are ignored. */
  get(k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 >>>= 0;
    k1 >>>= 0;
    k2 >>>= 0;
    k3 >>>= 0;
    const b = this.find(k0, k1, k2, k3, this.hashOf(k0, k1, k2, k3));
    return b < 0 ? EMPTY : this.vals[b]!;
  }

  /**
   * Inserts or replaces; returns the previous slot, or -1 when the key is new.
   * `slot` must be >= 0.
   */
  set(slot: number, k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 >>>= 0;
    k1 >>>= 0;
    k2 >>>= 0;
    k3 >>>= 0;
    const h = this.hashOf(k0, k1, k2, k3);
    const found = this.find(k0, k1, k2, k3, h);
    if (found >= 0) {
      const prev = this.vals[found]!;
      this.vals[found] = slot;
      return prev;
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    this.place(slot, h, k0, k1, k2, k3);
    this.count++;
    return EMPTY;
  }

  private place(slot: number, h: number, k0: number, k1: number, k2: number, k3: number): void {
    const mask = this.mask;
    const w = this.width;
    let b = h & mask;
    while (this.vals[b] !== EMPTY) b = (b + 1) & mask;
    this.vals[b] = slot;
    this.hashes[b] = h;
    const o = b * w;
    this.keys[o] = k0;
    if (w >= 2) this.keys[o + 1] = k1;
    if (w === 4) {
      this.keys[o + 2] = k2;
      this.keys[o + 3] = k3;
    }
  }

  private grow(): void {
    const oldVals = this.vals;
    const oldHashes = this.hashes;
    const oldKeys = this.keys;
    const w = this.width;
    const n = (this.mask + 1) * 2;
    this.mask = n - 1;
    this.vals = new Int32Array(n).fill(EMPTY);
    this.hashes = new Uint32Array(n);
    this.keys = new Uint32Array(n * w);
    for (let b = 0; b < oldVals.length; b++) {
      const v = oldVals[b]!;
      if (v === EMPTY) continue;
      const o = b * w;
      this.place(v, oldHashes[b]!, oldKeys[o]!, oldKeys[o + 1] ?? 0, oldKeys[o + 2] ?? 0, oldKeys[o + 3] ?? 0);
    }
  }

  /** Removes the key; returns its slot, or -1 when absent. */
  delete(k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 >>>= 0;
    k1 >>>= 0;
    k2 >>>= 0;
    k3 >>>= 0;
    let i = this.find(k0, k1, k2, k3, this.hashOf(k0, k1, k2, k3));
    if (i < 0) return EMPTY;
    const removed = this.vals[i]!;
    const mask = this.mask;
    const w = this.width;
    // Backward-shift deletion: pull later members of the probe run into the hole when their
    // home bucket does not lie cyclically in (hole, j].
    for (let j = (i + 1) & mask; this.vals[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.hashes[j]! & mask;
      const movable = i <= j ? home <= i || home > j : home <= i && home > j;
      if (!movable) continue;
      this.vals[i] = this.vals[j]!;
      this.hashes[i] = this.hashes[j]!;
      this.keys.copyWithin(i * w, j * w, j * w + w);
      i = j;
    }
    this.vals[i] = EMPTY;
    this.count--;
    return removed;
  }

  /** Calls `fn(slot)` for every stored value, in bucket order (not sorted). */
  forEachSlot(fn: (slot: number) => void): void {
    const vals = this.vals;
    for (let b = 0; b < vals.length; b++) {
      const v = vals[b]!;
      if (v !== EMPTY) fn(v);
    }
  }
}

/** A stack of free slot numbers over a growable struct-of-arrays (slots are never moved). */
export class SlotAllocator {
  private free: Int32Array = new Int32Array(16);
  private freeCount = 0;
  /** Slots handed out so far (the high-water mark); arrays must hold at least this many. */
  used = 0;

  alloc(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    return this.used++;
  }

  release(slot: number): void {
    if (this.freeCount === this.free.length) {
      const bigger = new Int32Array(this.free.length * 2);
      bigger.set(this.free);
      this.free = bigger;
    }
    this.free[this.freeCount++] = slot;
  }

  clear(): void {
    this.freeCount = 0;
    this.used = 0;
  }
}

/** Returns `arr` or a copy grown (doubled) to hold at least `n` elements. */
export function ensureLength<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(arr: T, n: number): T {
  if (n <= arr.length) return arr;
  let len = Math.max(arr.length, 8);
  while (len < n) len *= 2;
  const Ctor = arr.constructor as new (len: number) => T;
  const bigger = new Ctor(len);
  bigger.set(arr);
  return bigger;
}
