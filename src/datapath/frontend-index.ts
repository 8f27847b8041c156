/**
 * The service frontends by (family, address, port, protocol), for the datapath's translation
 * step, which asks twice for every packet with ports (its destination as a frontend, then its
 * source as one, for replies captured after reverse NAT).
 *
 * Mirrors: bpf/lib/lb.h `lb4_lookup_service` / `lb6_lookup_service`, whose key is the frontend's
 * address, port and protocol (`struct lb4_key`); the first frontend loaded wins a duplicate key,
 * as the first matching entry of a list did before.
 *
 * Layout: open addressing with linear probing over typed arrays, at most half full: per slot two
 * key words (the IPv4 address, or a fold of the four IPv6 words; port | protocol << 16 |
 * family << 24) and the frontend's index + 1 (0: empty). An IPv6 hit is confirmed against the
 * frontend's own words. A Map keyed by address * 65536 + port, which this replaces, boxed its
 * key above 2^31 and hashed a heap number on every packet to or from a service: about 560
 * instructions a packet on the replay benchmark, against a few integer compares here.
 */
import type { Frontend } from './state.js';

export class FrontendIndex {
  private readonly keys: Int32Array;
  private readonly values: Int32Array;
  private readonly mask: number;

  constructor(private readonly frontends: readonly Frontend[]) {
    let slots = 8;
    while (slots < 2 * frontends.length) slots *= 2;
    this.keys = new Int32Array(2 * slots);
    this.values = new Int32Array(slots);
    this.mask = slots - 1;
    frontends.forEach((fe, i) => {
      if (this.find(fe.family, fe.words, fe.record.port, fe.protocol) === undefined) this.insert(fe, i);
    });
  }

  /** The frontend at `words`:`port` for `protocol`, or undefined. */
  find(family: number, words: ArrayLike<number>, port: number, protocol: number): Frontend | undefined {
    const a = family === 4 ? words[3]! | 0 : foldWords(words);
    const b = port | (protocol << 16) | (family << 24);
    const keys = this.keys;
    const values = this.values;
    for (let i = slotOf(a, b) & this.mask; ; i = (i + 1) & this.mask) {
      const v = values[i]!;
      if (v === 0) return undefined;
      if (keys[2 * i] === a && keys[2 * i + 1] === b) {
        const fe = this.frontends[v - 1]!;
        if (family === 4 || sameWords(fe.words, words)) return fe;
      }
    }
  }

  private insert(fe: Frontend, index: number): void {
    const a = fe.family === 4 ? fe.words[3]! | 0 : foldWords(fe.words);
    const b = fe.record.port | (fe.protocol << 16) | (fe.family << 24);
    let i = slotOf(a, b) & this.mask;
    while (this.values[i] !== 0) i = (i + 1) & this.mask;
    this.keys[2 * i] = a;
    this.keys[2 * i + 1] = b;
    this.values[i] = index + 1;
  }
}

/** An IPv6 address's four words as one int32 (collisions are confirmed against the words). */
function foldWords(w: ArrayLike<number>): number {
  return (w[0]! ^ Math.imul(w[1]!, 0x85ebca6b) ^ Math.imul(w[2]!, 0xc2b2ae35) ^ Math.imul(w[3]!, 0x27d4eb2f)) | 0;
}

function slotOf(a: number, b: number): number {
  const h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  return h ^ (h >>> 15);
}

function sameWords(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
