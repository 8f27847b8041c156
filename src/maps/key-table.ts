/**
 * An open-addressing hash table from fixed-width keys of 32-bit words to slot numbers, in one
 * typed array: the building block of the TS backend's maps (policy-map.ts, ipcache.ts).
 *
 * Mirrors: nothing in Cilium directly; it plays the part of the kernel's BPF hash/LPM buckets.
 * The kernel maps are fixed-size C structs compared byte by byte; here a key is 1, 2 or 4 words
 * (`width`), so a lookup compares integers and never builds a string or boxes a number.
 *
 * Layout (linear probing, power-of-two bucket count, load factor <= 1/2), one Int32Array with
 * the fields of a bucket side by side so that a probe touches one cache line:
 *
 *   width 1, stride 2:  [slot, k0]
 *   width 2, stride 4:  [slot, hash, k0, k1]
 *   width 4, stride 8:  [slot, hash, k0, k1, k2, k3, -, -]
 *
 * slot is the caller's slot number (>= 0) or EMPTY (-1); the entry data itself lives in the
 * caller's struct-of-arrays. Words are stored as int32 (`x | 0`).
 *
 * A miss filter sits in front: a bit array of 8 bits per bucket (16 per entry at most) where
 * every stored key sets one bit chosen by its hash. A lookup whose bit is clear returns without
 * touching the buckets, which makes the many misses of an LPM walk (one probe per prefix length
 * present) cheap. Deleted keys leave their bit set (a false positive only costs a probe) until
 * the filter is rebuilt, on growth or after as many deletes as entries.
 *
 * Deletion shifts later members of the probe run back (no tombstones), so a long-lived table
 * with many deletes keeps short probe runs. `get1`, `get2`, `get4` allocate nothing.
 */
import { mix32 } from '../net/hash.js';

const EMPTY = -1;
const MIN_BUCKETS = 8;
/** Filter bits per bucket, as a shift. */
const FILTER_BITS_PER_BUCKET_LOG2 = 3;

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

const STRIDE_LOG2: Record<KeyWidth, number> = { 1: 1, 2: 2, 4: 3 };

export class KeyTable {
  readonly width: KeyWidth;
  private readonly shift: number;
  /** Bucket mask (buckets - 1). */
  private mask: number;
  private data: Int32Array;
  /** Miss filter: bit i of word i >>> 5. */
  private filter: Int32Array;
  /** 32 - log2(filter bits): the filter bit index is the top bits of hash * golden ratio. */
  private filterShift: number;
  private count = 0;
  private deletesSinceRebuild = 0;

  constructor(width: KeyWidth, initialBuckets = MIN_BUCKETS) {
    this.width = width;
    this.shift = STRIDE_LOG2[width];
    let n = MIN_BUCKETS;
    while (n < initialBuckets) n *= 2;
    this.mask = n - 1;
    this.data = new Int32Array(n << this.shift);
    this.markAllEmpty();
    const filterBits = n << FILTER_BITS_PER_BUCKET_LOG2;
    this.filter = new Int32Array(filterBits >>> 5);
    this.filterShift = 32 - Math.log2(filterBits);
  }

  get size(): number {
    return this.count;
  }

  /** Bucket count (for tests and memory accounting). */
  get buckets(): number {
    return this.mask + 1;
  }

  clear(): void {
    this.markAllEmpty();
    this.filter.fill(0);
    this.count = 0;
    this.deletesSinceRebuild = 0;
  }

  private markAllEmpty(): void {
    const d = this.data;
    const stride = 1 << this.shift;
    for (let i = 0; i < d.length; i += stride) d[i] = EMPTY;
  }

  private hashOf(k0: number, k1: number, k2: number, k3: number): number {
    const w = this.width;
    return w === 1 ? hash1(k0) : w === 2 ? hash2(k0, k1) : hash4(k0, k1, k2, k3);
  }

  get1(k0: number): number {
    k0 |= 0;
    const h = hash1(k0);
    const f = Math.imul(h, 0x9e3779b1) >>> this.filterShift;
    if ((this.filter[f >>> 5]! & (1 << (f & 31))) === 0) return EMPTY;
    const mask = this.mask;
    const d = this.data;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const o = b << 1;
      const v = d[o]!;
      if (v === EMPTY) return EMPTY;
      if (d[o + 1] === k0) return v;
    }
  }

  get2(k0: number, k1: number): number {
    k0 |= 0;
    k1 |= 0;
    const h = hash2(k0, k1);
    const f = Math.imul(h, 0x9e3779b1) >>> this.filterShift;
    if ((this.filter[f >>> 5]! & (1 << (f & 31))) === 0) return EMPTY;
    const mask = this.mask;
    const d = this.data;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const o = b << 2;
      const v = d[o]!;
      if (v === EMPTY) return EMPTY;
      if (d[o + 1] === h && d[o + 2] === k0 && d[o + 3] === k1) return v;
    }
  }

  get4(k0: number, k1: number, k2: number, k3: number): number {
    k0 |= 0;
    k1 |= 0;
    k2 |= 0;
    k3 |= 0;
    const h = hash4(k0, k1, k2, k3);
    const f = Math.imul(h, 0x9e3779b1) >>> this.filterShift;
    if ((this.filter[f >>> 5]! & (1 << (f & 31))) === 0) return EMPTY;
    const mask = this.mask;
    const d = this.data;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const o = b << 3;
      const v = d[o]!;
      if (v === EMPTY) return EMPTY;
      if (d[o + 1] === h && d[o + 2] === k0 && d[o + 3] === k1 && d[o + 4] === k2 && d[o + 5] === k3) return v;
    }
  }

  /** Bucket holding the key, or -1. Words beyond `width` are ignored. Keys are int32 here. */
  private find(k0: number, k1: number, k2: number, k3: number, h: number): number {
    const mask = this.mask;
    const w = this.width;
    const s = this.shift;
    const d = this.data;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const o = b << s;
      if (d[o] === EMPTY) return -1;
      if (w === 1) {
        if (d[o + 1] === k0) return b;
        continue;
      }
      if (d[o + 1] !== h || d[o + 2] !== k0 || d[o + 3] !== k1) continue;
      if (w === 4 && (d[o + 4] !== k2 || d[o + 5] !== k3)) continue;
      return b;
    }
  }

  /** Generic lookup (any width); words beyond `width` are ignored. */
  get(k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 |= 0;
    k1 |= 0;
    k2 |= 0;
    k3 |= 0;
    const b = this.find(k0, k1, k2, k3, this.hashOf(k0, k1, k2, k3));
    return b < 0 ? EMPTY : this.data[b << this.shift]!;
  }

  /**
   * Inserts or replaces; returns the previous slot, or -1 when the key is new.
   * `slot` must be >= 0.
   */
  set(slot: number, k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 |= 0;
    k1 |= 0;
    k2 |= 0;
    k3 |= 0;
    const h = this.hashOf(k0, k1, k2, k3);
    const found = this.find(k0, k1, k2, k3, h);
    if (found >= 0) {
      const o = found << this.shift;
      const prev = this.data[o]!;
      this.data[o] = slot;
      return prev;
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    this.place(slot, h, k0, k1, k2, k3);
    this.count++;
    return EMPTY;
  }

  private setFilterBit(h: number): void {
    const f = Math.imul(h, 0x9e3779b1) >>> this.filterShift;
    this.filter[f >>> 5]! |= 1 << (f & 31);
  }

  private place(slot: number, h: number, k0: number, k1: number, k2: number, k3: number): void {
    const mask = this.mask;
    const s = this.shift;
    const d = this.data;
    let b = h & mask;
    while (d[b << s] !== EMPTY) b = (b + 1) & mask;
    const o = b << s;
    d[o] = slot;
    if (this.width === 1) {
      d[o + 1] = k0;
    } else {
      d[o + 1] = h;
      d[o + 2] = k0;
      d[o + 3] = k1;
      if (this.width === 4) {
        d[o + 4] = k2;
        d[o + 5] = k3;
      }
    }
    this.setFilterBit(h);
  }

  /** Hash of the key stored at bucket offset `o`. */
  private storedHash(o: number): number {
    return this.width === 1 ? hash1(this.data[o + 1]!) : this.data[o + 1]!;
  }

  private grow(): void {
    const old = this.data;
    const s = this.shift;
    const n = (this.mask + 1) * 2;
    this.mask = n - 1;
    this.data = new Int32Array(n << s);
    this.markAllEmpty();
    const filterBits = n << FILTER_BITS_PER_BUCKET_LOG2;
    this.filter = new Int32Array(filterBits >>> 5);
    this.filterShift = 32 - Math.log2(filterBits);
    this.deletesSinceRebuild = 0;
    const stride = 1 << s;
    for (let o = 0; o < old.length; o += stride) {
      const v = old[o]!;
      if (v === EMPTY) continue;
      if (this.width === 1) this.place(v, hash1(old[o + 1]!), old[o + 1]!, 0, 0, 0);
      else this.place(v, old[o + 1]!, old[o + 2]!, old[o + 3]!, old[o + 4] ?? 0, old[o + 5] ?? 0);
    }
  }

  private rebuildFilter(): void {
    this.filter.fill(0);
    const stride = 1 << this.shift;
    const d = this.data;
    for (let o = 0; o < d.length; o += stride) if (d[o] !== EMPTY) this.setFilterBit(this.storedHash(o));
    this.deletesSinceRebuild = 0;
  }

  /** Removes the key; returns its slot, or -1 when absent. */
  delete(k0: number, k1 = 0, k2 = 0, k3 = 0): number {
    k0 |= 0;
    k1 |= 0;
    k2 |= 0;
    k3 |= 0;
    let i = this.find(k0, k1, k2, k3, this.hashOf(k0, k1, k2, k3));
    if (i < 0) return EMPTY;
    const s = this.shift;
    const stride = 1 << s;
    const d = this.data;
    const removed = d[i << s]!;
    const mask = this.mask;
    // Backward-shift deletion: pull later members of the probe run into the hole when their
    // home bucket does not lie cyclically in (hole, j].
    for (let j = (i + 1) & mask; d[j << s] !== EMPTY; j = (j + 1) & mask) {
      const home = this.storedHash(j << s) & mask;
      const movable = i <= j ? home <= i || home > j : home <= i && home > j;
      if (!movable) continue;
      d.copyWithin(i << s, j << s, (j << s) + stride);
      i = j;
    }
    d[i << s] = EMPTY;
    this.count--;
    if (++this.deletesSinceRebuild > Math.max(64, this.count)) this.rebuildFilter();
    return removed;
  }

  /** Calls `fn(slot)` for every stored value, in bucket order (not sorted). */
  forEachSlot(fn: (slot: number) => void): void {
    const d = this.data;
    const stride = 1 << this.shift;
    for (let o = 0; o < d.length; o += stride) {
      const v = d[o]!;
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
