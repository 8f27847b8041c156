/**
 * Which prefix lengths can cover an address: indexes that let an LPM lookup probe only the
 * per-length tables that may answer, instead of every length present (ipcache.ts).
 *
 * Mirrors: nothing in Cilium; the kernel walks its LPM trie bit by bit. These play the part of
 * the classic DIR-16 first level of a multibit trie, reduced to "which lengths", so memory stays
 * fixed (256 KiB) however many prefixes there are.
 *
 * The answers never depend on these indexes (a set bit only means "probe this length"); they
 * decide how many probes a lookup makes. A set bit that no longer has a prefix behind it would
 * only cost a probe, but both indexes clear bits exactly.
 */

import { KeyTable, ensureLength } from './key-table.js';

/**
 * For 32-bit values (an IPv4 address, or word 0 of an IPv6 one): for the top 16 bits, the set of
 * prefix lengths 1..32 (bit L-1) of which some prefix may cover values starting with them.
 * Same-length prefixes up to /16 are disjoint, so each one alone owns its range of top-16 values
 * at its length; longer ones share their top 16 bits and are counted per (length, top 16 bits).
 */
export class Dir16LengthIndex {
  readonly masks = new Uint32Array(65536);
  private readonly counts = new KeyTable(1);

  /** `value` is the prefix, already masked; `len` 1..32. */
  add(value: number, len: number): void {
    const bit = 1 << (len - 1);
    const top = value >>> 16;
    if (len <= 16) {
      const end = top + (1 << (16 - len));
      for (let i = top; i < end; i++) this.masks[i] = (this.masks[i]! | bit) >>> 0;
      return;
    }
    const key = (len << 16) | top;
    const n = this.counts.get1(key);
    this.counts.set(n < 0 ? 1 : n + 1, key);
    this.masks[top] = (this.masks[top]! | bit) >>> 0;
  }

  remove(value: number, len: number): void {
    const bit = 1 << (len - 1);
    const top = value >>> 16;
    if (len <= 16) {
      const end = top + (1 << (16 - len));
      for (let i = top; i < end; i++) this.masks[i] = (this.masks[i]! & ~bit) >>> 0;
      return;
    }
    const key = (len << 16) | top;
    const n = this.counts.get1(key);
    if (n > 1) {
      this.counts.set(n - 1, key);
      return;
    }
    this.counts.delete(key);
    this.masks[top] = (this.masks[top]! & ~bit) >>> 0;
  }
}

/**
 * For IPv6 prefixes longer than 32 bits, whose word 0 is exact: word 0 -> the set of lengths
 * 33..128 present under it, as three 32-bit masks (`masks[g*3 + k]`, bit b = length 33 + 32k + b).
 */
export class Word0LengthIndex {
  private readonly groups = new KeyTable(1);
  private readonly counts = new KeyTable(2);
  private readonly free: number[] = [];
  private used = 0;
  masks = new Uint32Array(3 * 8);
  private sizes = new Int32Array(8);

  /** The group of a word 0 value, or -1 when no prefix longer than 32 bits starts with it. */
  group(w0: number): number {
    return this.groups.get1(w0);
  }

  add(w0: number, len: number): void {
    let g = this.groups.get1(w0);
    if (g < 0) {
      g = this.free.length > 0 ? this.free.pop()! : this.used++;
      this.sizes = ensureLength(this.sizes, g + 1);
      this.masks = ensureLength(this.masks, this.sizes.length * 3);
      this.sizes[g] = 0;
      this.masks.fill(0, g * 3, g * 3 + 3);
      this.groups.set(g, w0);
    }
    this.sizes[g]!++;
    const n = this.counts.get2(g, len);
    this.counts.set(n < 0 ? 1 : n + 1, g, len);
    const b = len - 33;
    const o = g * 3 + (b >>> 5);
    this.masks[o] = (this.masks[o]! | (1 << (b & 31))) >>> 0;
  }

  remove(w0: number, len: number): void {
    const g = this.groups.get1(w0);
    if (g < 0) return;
    const n = this.counts.get2(g, len);
    if (n > 1) this.counts.set(n - 1, g, len);
    else {
      this.counts.delete(g, len);
      const b = len - 33;
      const o = g * 3 + (b >>> 5);
      this.masks[o] = (this.masks[o]! & ~(1 << (b & 31))) >>> 0;
    }
    if (--this.sizes[g]! === 0) {
      this.groups.delete(w0);
      this.free.push(g);
    }
  }
}
