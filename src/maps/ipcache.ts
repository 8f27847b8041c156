/**
 * The ipcache: longest-prefix match from an address to the security identity behind it.
 *
 * Mirrors: bpf/lib/eps.h (`struct ipcache_key`, `struct remote_endpoint_info`, `ipcache_lookup4`,
 * `ipcache_lookup6`, `lookup_ip4_remote_endpoint`) and pkg/maps/ipcache (the userspace writer).
 *
 * Kernel layout (BPF_MAP_TYPE_LPM_TRIE `cilium_ipcache_v2`, 512,000 entries by default):
 *
 *   struct ipcache_key {
 *     bpf_lpm_trie_key lpm_key;  // prefixlen = IPCACHE_STATIC_PREFIX (32) + address prefix
 *     __u16 cluster_id;          // } the 32 static bits, always matched exactly, so an IPv4
 *     __u8  pad1;                // } entry can never answer an IPv6 lookup and /0 is per
 *     __u8  family;              // } family: ENDPOINT_KEY_IPV4 = 1, ENDPOINT_KEY_IPV6 = 2
 *     union { __be32 ip4; pad x3 } | union v6addr ip6;   // network byte order
 *   };                           // so 10.0.0.1/32 has prefixlen 64, fd00::1/128 has 160
 *   struct remote_endpoint_info {
 *     __u32 sec_identity;
 *     tunnel_endpoint (IPv4, or IPv6 in newer releases); __u16 pad; __u8 key;
 *     __u8 flag_skip_tunnel:1, flag_has_tunnel_ep:1, flag_ipv6_tunnel_ep:1, flag_remote_cluster:1;
 *   };
 *
 * Lookups (`lookup_ip4_remote_endpoint`) use the full address; the trie answers with the longest
 * stored prefix that covers it. hubcap has one cluster, so cluster_id is always 0 and not stored.
 *
 * Semantics the native backend must reproduce exactly:
 *  - Address bits beyond the prefix are ignored (masked) on upsert, delete and lookup, as the
 *    kernel's LPM trie ignores them.
 *  - `upsert` of an existing (family, prefix) replaces its value; a new prefix when
 *    `size === capacity` fails, returns false and counts one overflow: nothing is replaced.
 *  - A lookup that matches nothing returns -1; the datapath then uses the world identity, as
 *    Cilium does (bpf_lxc.c / bpf_host.c start from `WORLD_IPV4_ID`, which is `WORLD_ID` in
 *    single stack, and bpf_lxc.c's egress path also treats a stored identity 0 as a miss).
 *  - IPv4 words are IPv4-mapped (src/net/addr.ts): only word 3 counts for family 4.
 *
 * TS layout: entries in a growable struct-of-arrays by slot; per prefix length present, a
 * KeyTable from the masked address (1 word for IPv4, 4 for IPv6) to the slot. A lookup probes
 * lengths longest first: in a small map every length present, in a large one only the lengths a
 * length index (length-index.ts) says may cover the address. It allocates nothing.
 */

import { KeyTable, SlotAllocator, ensureLength } from './key-table.js';
import { Dir16LengthIndex, Word0LengthIndex } from './length-index.js';

/** Cilium's bpf ipcache `max_entries` default (`--ipcache-max` in hubcap). */
export const DEFAULT_IPCACHE_CAPACITY = 512_000;

/** Bits of `struct ipcache_key` before the address: cluster_id, pad1, family. */
export const IPCACHE_STATIC_PREFIX = 32;

/** eps.h ENDPOINT_KEY_IPV4 / ENDPOINT_KEY_IPV6: the key's family byte. */
export const ENDPOINT_KEY_IPV4 = 1;
export const ENDPOINT_KEY_IPV6 = 2;

/** remote_endpoint_info flag bits, in declaration order. */
export const IpcacheFlags = {
  SKIP_TUNNEL: 1,
  HAS_TUNNEL_EP: 2,
  IPV6_TUNNEL_EP: 4,
  REMOTE_CLUSTER: 8,
} as const;

/** The prefixlen the kernel key stores for a family-relative prefix length (/32 -> 64). */
export function kernelIpcachePrefixLen(prefixLen: number): number {
  return IPCACHE_STATIC_PREFIX + prefixLen;
}

export interface IpcacheEntry {
  family: 4 | 6;
  /** Four words, network order; IPv4 as IPv4-mapped (0, 0, 0xffff, addr); masked to the prefix. */
  words: Uint32Array;
  /** Family-relative: 0..32 or 0..128. */
  prefixLen: number;
  identity: number;
  /** IPv4 tunnel endpoint as a u32 (0 = none). */
  tunnelEndpoint?: number;
  /** IpcacheFlags bits. */
  flags?: number;
}

/** Prefixes of a family from which its length index pays for its 256 KiB. */
const INDEX_MIN_ENTRIES = 64;

const V4_MASK = new Uint32Array(33);
for (let p = 1; p <= 32; p++) V4_MASK[p] = (0xffffffff << (32 - p)) >>> 0;

/** V6_MASK[p * 4 + w]: the mask of word w for prefix length p. */
const V6_MASK = new Uint32Array(129 * 4);
for (let p = 0; p <= 128; p++) {
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, p - 32 * w));
    V6_MASK[p * 4 + w] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
}

/** @internal Argument checks shared with the native backend (same RangeErrors). */
export function checkEntryArgs(family: number, words: ArrayLike<number>, prefixLen: number): void {
  if (family !== 4 && family !== 6) throw new RangeError(`ipcache: family ${family} is not 4 or 6`);
  if (words.length !== 4) throw new RangeError(`ipcache: an address is 4 words, got ${words.length}`);
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    throw new RangeError(`ipcache: prefix length ${prefixLen} is outside 0..${max} for IPv${family}`);
  }
}

/** @internal The arguments of `upsert`, checked alike by both backends. */
export function checkUpsertArgs(family: number, words: ArrayLike<number>, prefixLen: number, identity: number, tunnelEndpoint: number, flags: number): void {
  checkEntryArgs(family, words, prefixLen);
  checkU32('identity', identity);
  checkU32('tunnel endpoint', tunnelEndpoint);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xff) throw new RangeError(`ipcache: flags ${flags} is not a u8`);
}

/** @internal */
export function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`ipcache: ${name} ${v} is not a u32`);
}

export class Ipcache {
  readonly capacity: number;
  /**
   * Called after every change of the entries (upsert, delete, clear): the datapath caches
   * identities per connection and must hear of changes (datapath/state.ts `generation`). Null:
   * nobody listens.
   */
  onChange: (() => void) | null = null;
  private overflowCount = 0;
  private count = 0;
  private readonly slots = new SlotAllocator();

  // Entries, by slot.
  private eFamily = new Uint8Array(8);
  private ePrefix = new Uint8Array(8);
  private eWords = new Uint32Array(32);
  private eIdentity = new Uint32Array(8);
  private eTunnel = new Uint32Array(8);
  private eFlags = new Uint8Array(8);

  /** Per prefix length, the table of masked addresses (created on first use). */
  private readonly v4Tables: Array<KeyTable | undefined> = new Array<KeyTable | undefined>(33).fill(undefined);
  private readonly v6Tables: Array<KeyTable | undefined> = new Array<KeyTable | undefined>(129).fill(undefined);
  /** Prefix lengths with at least one entry, longest first. */
  private readonly v4Lens = new Int32Array(33);
  private v4LenCount = 0;
  private readonly v6Lens = new Int32Array(129);
  private v6LenCount = 0;

  /**
   * Length indexes (length-index.ts), built once a family holds INDEX_MIN_ENTRIES prefixes;
   * smaller maps probe every length present, from the lists above.
   * IPv4: lengths 1..32 by the top 16 address bits. IPv6: lengths 1..32 by the top 16 bits of
   * word 0, and lengths 33..128 by word 0 (such prefixes keep all of word 0).
   */
  private v4Dir: Dir16LengthIndex | undefined;
  private v6Dir: Dir16LengthIndex | undefined;
  private v6Long: Word0LengthIndex | undefined;
  private v4Count = 0;
  private v6Count = 0;

  constructor(capacity: number = DEFAULT_IPCACHE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 28) {
      throw new RangeError(`ipcache: capacity ${capacity} is outside 1..${1 << 28}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  /** New prefixes refused because the map was full, since construction or `clear()`. */
  get overflow(): number {
    return this.overflowCount;
  }

  clear(): void {
    this.v4Tables.fill(undefined);
    this.v6Tables.fill(undefined);
    this.v4LenCount = 0;
    this.v6LenCount = 0;
    this.v4Dir = undefined;
    this.v6Dir = undefined;
    this.v6Long = undefined;
    this.v4Count = 0;
    this.v6Count = 0;
    this.count = 0;
    this.overflowCount = 0;
    this.slots.clear();
    this.onChange?.();
  }

  /** Inserts or replaces a prefix; false (overflow counter++) when full and the prefix is new. */
  upsert(family: 4 | 6, words: ArrayLike<number>, prefixLen: number, identity: number, tunnelEndpoint = 0, flags = 0): boolean {
    checkUpsertArgs(family, words, prefixLen, identity, tunnelEndpoint, flags);
    let table: KeyTable;
    let m0 = 0;
    let m1 = 0;
    let m2 = 0xffff;
    let m3: number;
    if (family === 4) {
      table = this.v4Tables[prefixLen] ?? (this.v4Tables[prefixLen] = new KeyTable(1));
      m3 = (words[3]! & V4_MASK[prefixLen]!) >>> 0;
    } else {
      table = this.v6Tables[prefixLen] ?? (this.v6Tables[prefixLen] = new KeyTable(4));
      const o = prefixLen * 4;
      m0 = (words[0]! & V6_MASK[o]!) >>> 0;
      m1 = (words[1]! & V6_MASK[o + 1]!) >>> 0;
      m2 = (words[2]! & V6_MASK[o + 2]!) >>> 0;
      m3 = (words[3]! & V6_MASK[o + 3]!) >>> 0;
    }
    let slot = family === 4 ? table.get(m3) : table.get(m0, m1, m2, m3);
    if (slot < 0) {
      if (this.count >= this.capacity) {
        this.overflowCount++;
        return false;
      }
      slot = this.slots.alloc();
      this.growEntries(this.slots.used);
      if (family === 4) table.set(slot, m3);
      else table.set(slot, m0, m1, m2, m3);
      this.count++;
      this.eFamily[slot] = family;
      this.ePrefix[slot] = prefixLen;
      const w = slot * 4;
      this.eWords[w] = m0;
      this.eWords[w + 1] = m1;
      this.eWords[w + 2] = m2;
      this.eWords[w + 3] = m3;
      if (table.size === 1) this.rebuildLens(family);
      this.indexAdd(family, family === 4 ? m3 : m0, prefixLen);
    }
    this.eIdentity[slot] = identity;
    this.eTunnel[slot] = tunnelEndpoint;
    this.eFlags[slot] = flags;
    this.onChange?.();
    return true;
  }

  /** Removes exactly this prefix (not a covering one); false when absent. */
  delete(family: 4 | 6, words: ArrayLike<number>, prefixLen: number): boolean {
    checkEntryArgs(family, words, prefixLen);
    let slot: number;
    let table: KeyTable | undefined;
    if (family === 4) {
      table = this.v4Tables[prefixLen];
      if (!table) return false;
      slot = table.delete((words[3]! & V4_MASK[prefixLen]!) >>> 0);
    } else {
      table = this.v6Tables[prefixLen];
      if (!table) return false;
      const o = prefixLen * 4;
      slot = table.delete(words[0]! & V6_MASK[o]!, words[1]! & V6_MASK[o + 1]!, words[2]! & V6_MASK[o + 2]!, words[3]! & V6_MASK[o + 3]!);
    }
    if (slot < 0) return false;
    this.slots.release(slot);
    this.count--;
    if (table.size === 0) this.rebuildLens(family);
    this.indexRemove(family, this.eWords[slot * 4 + (family === 4 ? 3 : 0)]!, prefixLen);
    this.onChange?.();
    return true;
  }

  /** Slot of the longest IPv4 prefix covering `addr` (host-order u32), or -1. */
  slot4(addr: number): number {
    // Two functions, so that each keeps its own type feedback (a view mixes small and large maps).
    return this.v4Dir !== undefined ? this.slot4Indexed(this.v4Dir, addr) : this.slot4Listed(addr);
  }

  private slot4Indexed(index: Dir16LengthIndex, addr: number): number {
    const tables = this.v4Tables;
    // Only the lengths that may cover this address's top 16 bits; /0 last.
    let m = index.masks[addr >>> 16]!;
    while (m !== 0) {
      const b = 31 - Math.clz32(m);
      m ^= 1 << b;
      const p = b + 1;
      const slot = tables[p]!.get1((addr & V4_MASK[p]!) >>> 0);
      if (slot >= 0) return slot;
    }
    const t0 = tables[0];
    return t0 !== undefined && t0.size > 0 ? t0.get1(0) : -1;
  }

  private slot4Listed(addr: number): number {
    const tables = this.v4Tables;
    const lens = this.v4Lens;
    for (let i = 0, n = this.v4LenCount; i < n; i++) {
      const p = lens[i]!;
      const slot = tables[p]!.get1((addr & V4_MASK[p]!) >>> 0);
      if (slot >= 0) return slot;
    }
    return -1;
  }

  /** Slot of the longest IPv6 prefix covering the address, or -1. */
  slot6(w0: number, w1: number, w2: number, w3: number): number {
    return this.v6Long !== undefined ? this.slot6Indexed(this.v6Long, w0, w1, w2, w3) : this.slot6Listed(w0, w1, w2, w3);
  }

  private slot6Indexed(long: Word0LengthIndex, w0: number, w1: number, w2: number, w3: number): number {
    const tables = this.v6Tables;
    // Lengths 33..128 present under this word 0, longest first.
    const g = long.group(w0);
    if (g >= 0) {
      const masks = long.masks;
      for (let k = 2; k >= 0; k--) {
        let m = masks[g * 3 + k]!;
        while (m !== 0) {
          const b = 31 - Math.clz32(m);
          m ^= 1 << b;
          const p = 33 + 32 * k + b;
          const o = p * 4;
          const slot = tables[p]!.get4(w0, (w1 & V6_MASK[o + 1]!) >>> 0, (w2 & V6_MASK[o + 2]!) >>> 0, (w3 & V6_MASK[o + 3]!) >>> 0);
          if (slot >= 0) return slot;
        }
      }
    }
    // Lengths 1..32 by the top of word 0, then ::/0.
    let m = this.v6Dir!.masks[w0 >>> 16]!;
    while (m !== 0) {
      const b = 31 - Math.clz32(m);
      m ^= 1 << b;
      const p = b + 1;
      const slot = tables[p]!.get4((w0 & V4_MASK[p]!) >>> 0, 0, 0, 0);
      if (slot >= 0) return slot;
    }
    const t0 = tables[0];
    return t0 !== undefined && t0.size > 0 ? t0.get4(0, 0, 0, 0) : -1;
  }

  private slot6Listed(w0: number, w1: number, w2: number, w3: number): number {
    const tables = this.v6Tables;
    const lens = this.v6Lens;
    for (let i = 0, n = this.v6LenCount; i < n; i++) {
      const p = lens[i]!;
      const o = p * 4;
      const slot = tables[p]!.get4(
        (w0 & V6_MASK[o]!) >>> 0,
        (w1 & V6_MASK[o + 1]!) >>> 0,
        (w2 & V6_MASK[o + 2]!) >>> 0,
        (w3 & V6_MASK[o + 3]!) >>> 0,
      );
      if (slot >= 0) return slot;
    }
    return -1;
  }

  /** Slot of the longest prefix covering the address, either family, or -1. */
  slot(family: 4 | 6, words: ArrayLike<number>): number {
    return family === 4 ? this.slot4(words[3]!) : this.slot6(words[0]!, words[1]!, words[2]!, words[3]!);
  }

  identityAt(slot: number): number {
    return this.eIdentity[slot]!;
  }

  prefixLenAt(slot: number): number {
    return this.ePrefix[slot]!;
  }

  /** Identity of the longest IPv4 prefix covering `addr`, or -1 when nothing matches. */
  lookup4(addr: number): number {
    const slot = this.slot4(addr);
    return slot < 0 ? -1 : this.eIdentity[slot]!;
  }

  /** Identity of the longest prefix covering the address (IPv4 as mapped words), or -1. */
  lookup(family: 4 | 6, words: ArrayLike<number>): number {
    const slot = family === 4 ? this.slot4(words[3]!) : this.slot6(words[0]!, words[1]!, words[2]!, words[3]!);
    return slot < 0 ? -1 : this.eIdentity[slot]!;
  }

  /** The matching entry, for display (allocates). */
  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined {
    const slot = this.slot(family, words);
    return slot < 0 ? undefined : this.entryAt(slot);
  }

  entryAt(slot: number): IpcacheEntry {
    const w = slot * 4;
    return {
      family: this.eFamily[slot] as 4 | 6,
      words: this.eWords.slice(w, w + 4),
      prefixLen: this.ePrefix[slot]!,
      identity: this.eIdentity[slot]!,
      tunnelEndpoint: this.eTunnel[slot]!,
      flags: this.eFlags[slot]!,
    };
  }

  /** Every entry, sorted by family, address, prefix length. */
  *entries(): IterableIterator<IpcacheEntry> {
    const slots: number[] = [];
    for (const t of this.v4Tables) t?.forEachSlot((s) => slots.push(s));
    for (const t of this.v6Tables) t?.forEachSlot((s) => slots.push(s));
    slots.sort((a, b) => compareSlots(this.eFamily, this.eWords, this.ePrefix, a, b));
    for (const s of slots) yield this.entryAt(s);
  }

  private growEntries(n: number): void {
    if (n <= this.eFamily.length) return;
    this.eFamily = ensureLength(this.eFamily, n);
    this.ePrefix = ensureLength(this.ePrefix, n);
    this.eIdentity = ensureLength(this.eIdentity, n);
    this.eTunnel = ensureLength(this.eTunnel, n);
    this.eFlags = ensureLength(this.eFlags, n);
    this.eWords = ensureLength(this.eWords, this.eFamily.length * 4);
  }

  /** Keeps the length indexes in step with a new prefix (`top` = IPv4 address or IPv6 word 0). */
  private indexAdd(family: 4 | 6, top: number, prefixLen: number): void {
    if (family === 4) {
      this.v4Count++;
      if (this.v4Dir !== undefined) {
        if (prefixLen > 0) this.v4Dir.add(top, prefixLen);
      } else if (this.v4Count >= INDEX_MIN_ENTRIES) this.buildIndex(4);
      return;
    }
    this.v6Count++;
    if (this.v6Dir !== undefined) {
      if (prefixLen > 32) this.v6Long!.add(top, prefixLen);
      else if (prefixLen > 0) this.v6Dir.add(top, prefixLen);
    } else if (this.v6Count >= INDEX_MIN_ENTRIES) this.buildIndex(6);
  }

  private indexRemove(family: 4 | 6, top: number, prefixLen: number): void {
    if (family === 4) {
      this.v4Count--;
      if (this.v4Dir !== undefined && prefixLen > 0) this.v4Dir.remove(top, prefixLen);
      return;
    }
    this.v6Count--;
    if (this.v6Dir === undefined || prefixLen === 0) return;
    if (prefixLen > 32) this.v6Long!.remove(top, prefixLen);
    else this.v6Dir.remove(top, prefixLen);
  }

  private buildIndex(family: 4 | 6): void {
    if (family === 4) this.v4Dir = new Dir16LengthIndex();
    else {
      this.v6Dir = new Dir16LengthIndex();
      this.v6Long = new Word0LengthIndex();
    }
    const tables = family === 4 ? this.v4Tables : this.v6Tables;
    const word = family === 4 ? 3 : 0;
    for (let p = 1; p < tables.length; p++) {
      tables[p]?.forEachSlot((slot) => {
        const top = this.eWords[slot * 4 + word]!;
        if (family === 4) this.v4Dir!.add(top, p);
        else if (p > 32) this.v6Long!.add(top, p);
        else this.v6Dir!.add(top, p);
      });
    }
  }

  private rebuildLens(family: 4 | 6): void {
    const tables = family === 4 ? this.v4Tables : this.v6Tables;
    const lens = family === 4 ? this.v4Lens : this.v6Lens;
    let n = 0;
    for (let p = tables.length - 1; p >= 0; p--) {
      const t = tables[p];
      if (t && t.size > 0) lens[n++] = p;
    }
    if (family === 4) this.v4LenCount = n;
    else this.v6LenCount = n;
  }
}

function compareSlots(fam: Uint8Array, words: Uint32Array, prefix: Uint8Array, a: number, b: number): number {
  const d = fam[a]! - fam[b]!;
  if (d !== 0) return d;
  for (let i = 0; i < 4; i++) {
    const x = words[a * 4 + i]!;
    const y = words[b * 4 + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return prefix[a]! - prefix[b]!;
}

/** @internal The order `entries()` yields: family, then address words, then prefix length (both backends). */
export function compareEntries(a: IpcacheEntry, b: IpcacheEntry): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let i = 0; i < 4; i++) {
    const x = a.words[i]!;
    const y = b.words[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.prefixLen - b.prefixLen;
}

/**
 * A node's view: node-specific entries (its own addresses are `host` there and `remote-node`
 * elsewhere) layered over a shared ipcache. The answer is the one a single merged LPM map would
 * give: the longest prefix over both maps, and on a tie (the same prefix in both) the local
 * entry, as if the node's writes replaced the shared value.
 */
export class IpcacheView {
  readonly shared: Ipcache;
  readonly local: Ipcache;

  constructor(shared: Ipcache, local: Ipcache) {
    this.shared = shared;
    this.local = local;
  }

  /** Chooses between a local and a shared slot: longer prefix, local on a tie. */
  private pick(ls: number, ss: number): number {
    if (ls < 0) return ss < 0 ? -1 : this.shared.identityAt(ss);
    if (ss < 0 || this.local.prefixLenAt(ls) >= this.shared.prefixLenAt(ss)) return this.local.identityAt(ls);
    return this.shared.identityAt(ss);
  }

  lookup4(addr: number): number {
    const ls = this.local.slot4(addr);
    // A local host entry cannot be beaten.
    if (ls >= 0 && this.local.prefixLenAt(ls) === 32) return this.local.identityAt(ls);
    return this.pick(ls, this.shared.slot4(addr));
  }

  lookup(family: 4 | 6, words: ArrayLike<number>): number {
    if (family === 4) return this.lookup4(words[3]!);
    const ls = this.local.slot6(words[0]!, words[1]!, words[2]!, words[3]!);
    if (ls >= 0 && this.local.prefixLenAt(ls) === 128) return this.local.identityAt(ls);
    return this.pick(ls, this.shared.slot6(words[0]!, words[1]!, words[2]!, words[3]!));
  }

  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined {
    const ls = this.local.slot(family, words);
    const ss = this.shared.slot(family, words);
    if (ls < 0 && ss < 0) return undefined;
    if (ls >= 0 && (ss < 0 || this.local.prefixLenAt(ls) >= this.shared.prefixLenAt(ss))) return this.local.entryAt(ls);
    return this.shared.entryAt(ss);
  }

  /** The merged map: shared entries with local ones replacing equal prefixes, sorted. */
  entries(): IterableIterator<IpcacheEntry> {
    return mergeViewEntries(this.shared.entries(), this.local.entries());
  }
}

/**
 * @internal A node view's entries on either backend: the shared map's, with the local map's
 * replacing equal prefixes, in `compareEntries` order (both inputs are in that order).
 */
export function* mergeViewEntries(shared: Iterable<IpcacheEntry>, localEntries: Iterable<IpcacheEntry>): IterableIterator<IpcacheEntry> {
  const local = [...localEntries];
  let i = 0;
  for (const s of shared) {
    while (i < local.length && compareEntries(local[i]!, s) < 0) yield local[i++]!;
    if (i < local.length && compareEntries(local[i]!, s) === 0) yield local[i++]!;
    else yield s;
  }
  while (i < local.length) yield local[i++]!;
}
