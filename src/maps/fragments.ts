/**
 * IP fragment tracking: later fragments of a datagram carry no transport header, so the
 * datapath gives them the ports of the datagram's first fragment.
 *
 * Mirrors: bpf/lib/ipv4.h (`struct ipv4_frag_id`, `struct ipv4_frag_l4ports`,
 * `cilium_ipv4_frag_datagrams`, `ipv4_handle_fragmentation`, `ipv4_frag_get_l4ports`) and
 * bpf/lib/ipv6.h (the IPv6 twins: `struct ipv6_frag_id`, `cilium_ipv6_frag_datagrams`,
 * `ipv6_handle_fragmentation`), with `--enable-ipv4-fragment-tracking` and
 * `--enable-ipv6-fragment-tracking` on (their defaults, Documentation/network/concepts/
 * fragmentation.rst) and `--bpf-fragments-map-max` 8192 entries per family.
 *
 * Kernel layout (BPF_MAP_TYPE_LRU_HASH per family):
 *
 *   struct ipv4_frag_id { __be32 daddr, saddr; __be16 id; __u8 proto; __u8 pad; };
 *   struct ipv6_frag_id { __be32 id; __u8 proto; __u8 pad[3]; union v6addr saddr, daddr; };
 *   value: struct ipv4_frag_l4ports / ipv6_frag_l4ports { __be16 sport, dport; };
 *
 * Semantics mirrored:
 *  - A fragment that has the transport header (offset 0) writes its ports under (source,
 *    destination, identification, protocol), replacing any earlier value (BPF_ANY); a packet
 *    that is not a fragment never touches the map.
 *  - A later fragment (offset > 0) looks its datagram up; a miss is DROP_FRAG_NOT_FOUND (175).
 *  - Only the protocols whose ports Cilium loads through this path (`ipv4_load_l4_ports` /
 *    `ipv6_load_l4_ports` from `ct_extract_ports4/6`: TCP, UDP, SCTP) use the map; later
 *    fragments of other protocols (ICMP, ...) are never dropped here.
 *  - Entries are not removed when the last fragment passes; the map only forgets by LRU
 *    eviction (lookups and updates count as use), so by default entries never expire.
 *
 * Deliberate differences:
 *  - `timeoutSec` (default Infinity: none, as in Cilium) can make entries expire in capture
 *    time, e.g. 30 s like the kernel's reassembly timeout (net.ipv4.ipfrag_time).
 *  - IPv6: the key's protocol is the decoded packet's next header. Cilium keys on the fragment
 *    header's next header; the two differ only when extension headers follow the fragment
 *    header in the first fragment.
 *
 * Layout: per family an `LRUCache<number, number>` from a 31-bit hash of the key (a Smi: a
 * heap-number key would be boxed on every probe) to the first of a chain of slots in
 * struct-of-arrays records (key words, ports, last write time, next slot), all sized by `max`.
 * Every hit compares the full key; datagrams whose keys collide share a chain and leave the LRU
 * together. Nothing is allocated per packet.
 */

import { LRUCache } from 'lru-cache';
import { murmur3Finish, murmur3Round } from '../net/hash.js';
import { copyWords } from '../net/addr.js';

/** `--bpf-fragments-map-max` default (defaults.FragmentsMapEntries), per family. */
export const DEFAULT_FRAGMENTS_MAP_MAX = 8192;

const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_SCTP = 132;

/** Words per record: source (4), destination (4), identification, protocol. */
const STRIDE = 10;

/** The packet fields fragment tracking reads and fills (structural view of DecodedPacket). */
export interface FragPacketView {
  ipVersion: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  ipProto: number;
  isFragment: boolean;
  /** Fragment offset in bytes. */
  fragOffset: number;
  fragId: number;
  hasPorts: boolean;
  sport: number;
  dport: number;
}

/** Protocols whose later fragments take their ports from the map (TCP, UDP, SCTP). */
export function fragmentsCarryPorts(proto: number): boolean {
  return proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP;
}

export interface FragmentTrackerOptions {
  /** Capture seconds after its last write that an entry is forgotten; default Infinity. */
  timeoutSec?: number;
  /** @internal Tests only: bits of the hash key (1..31, default 31), to force chaining. */
  hashBits?: number;
}

const LRU_OPTS = {};

class FragTable {
  readonly lru: LRUCache<number, number>;
  readonly keys: Uint32Array;
  readonly ports: Uint32Array;
  readonly written: Float64Array;
  /** Next slot under the same LRU key, -1 at the end. */
  readonly next: Int32Array;
  /** Free slots (a stack). */
  readonly free: Int32Array;
  freeTop: number;
  count = 0;

  constructor(readonly max: number) {
    this.lru = new LRUCache<number, number>({ max });
    this.keys = new Uint32Array(max * STRIDE);
    this.ports = new Uint32Array(max);
    this.written = new Float64Array(max);
    this.next = new Int32Array(max);
    this.free = new Int32Array(max);
    for (let i = 0; i < max; i++) this.free[i] = max - 1 - i;
    this.freeTop = max;
  }

  /** The slot of `p`'s datagram under `head`, or -1. */
  find(head: number | undefined, p: FragPacketView): number {
    for (let s = head ?? -1; s >= 0; s = this.next[s]!) if (sameKey(this.keys, s * STRIDE, p)) return s;
    return -1;
  }

  /** Evicts the least recently used key with its chain; returns the slots freed. */
  evict(): number {
    let n = 0;
    for (let s = this.lru.pop() ?? -1; s >= 0; s = this.next[s]!) {
      this.free[this.freeTop++] = s;
      n++;
    }
    this.count -= n;
    return n;
  }
}

export class FragmentTracker {
  readonly max: number;
  readonly timeoutSec: number;
  private v4: FragTable | null = null;
  private v6: FragTable | null = null;
  private evictionCount = 0;
  private readonly keyMask: number;

  constructor(max: number = DEFAULT_FRAGMENTS_MAP_MAX, options: FragmentTrackerOptions = {}) {
    if (!Number.isInteger(max) || max < 1 || max > 1 << 24) throw new RangeError(`fragments: max ${max} is outside 1..${1 << 24}`);
    const timeout = options.timeoutSec ?? Infinity;
    if (!(timeout > 0)) throw new RangeError(`fragments: timeoutSec ${timeout} is not positive`);
    const bits = options.hashBits ?? 31;
    if (!Number.isInteger(bits) || bits < 1 || bits > 31) throw new RangeError(`fragments: hashBits ${bits} is not 1..31`);
    this.max = max;
    this.timeoutSec = timeout;
    this.keyMask = 2 ** bits - 1;
  }

  /** Datagrams tracked, both families. */
  get size(): number {
    return (this.v4?.count ?? 0) + (this.v6?.count ?? 0);
  }

  /** Entries pushed out because their family's map was full. */
  get evictions(): number {
    return this.evictionCount;
  }

  clear(): void {
    this.v4 = null;
    this.v6 = null;
    this.evictionCount = 0;
  }

  /**
   * `ipv4_handle_fragmentation` for a packet with its transport header: when it is a fragment
   * (the first of its datagram), remember its ports. Anything else is ignored.
   */
  recordFirst(p: FragPacketView, nowSec: number): void {
    if (!p.isFragment || p.fragOffset !== 0 || !p.hasPorts || !fragmentsCarryPorts(p.ipProto)) return;
    const tab = p.ipVersion === 6 ? (this.v6 ??= new FragTable(this.max)) : (this.v4 ??= new FragTable(this.max));
    const key = fragKey(p) & this.keyMask;
    let head = tab.lru.get(key, LRU_OPTS);
    let slot = tab.find(head, p);
    if (slot < 0) {
      if (tab.count >= tab.max) {
        this.evictionCount += tab.evict();
        head = tab.lru.peek(key, LRU_OPTS); // gone if this key was the least recently used
      }
      slot = tab.free[--tab.freeTop]!;
      tab.count++;
      tab.next[slot] = head ?? -1;
      tab.lru.set(key, slot, LRU_OPTS);
      writeKey(tab.keys, slot * STRIDE, p);
    }
    tab.ports[slot] = ((p.sport << 16) | p.dport) >>> 0;
    tab.written[slot] = nowSec;
  }

  /**
   * `ipv4_frag_get_l4ports` for a later fragment: fills `sport`, `dport` and `hasPorts` from
   * its first fragment. Returns false exactly when Cilium drops the packet with
   * DROP_FRAG_NOT_FOUND: a later TCP/UDP/SCTP fragment whose datagram is unknown (never seen,
   * evicted, or expired). True for everything else, which needs no ports from the map.
   */
  lookup(p: FragPacketView, nowSec: number): boolean {
    if (!p.isFragment || p.fragOffset === 0 || !fragmentsCarryPorts(p.ipProto)) return true;
    const tab = p.ipVersion === 6 ? this.v6 : this.v4;
    if (tab === null) return false;
    const slot = tab.find(tab.lru.get(fragKey(p) & this.keyMask, LRU_OPTS), p);
    if (slot < 0 || nowSec - tab.written[slot]! > this.timeoutSec) return false;
    const ports = tab.ports[slot]!;
    p.sport = ports >>> 16;
    p.dport = ports & 0xffff;
    p.hasPorts = true;
    return true;
  }
}

function writeKey(k: Uint32Array, o: number, p: FragPacketView): void {
  copyWords(k, p.src, o);
  copyWords(k, p.dst, o + 4);
  k[o + 8] = p.fragId;
  k[o + 9] = p.ipProto;
}

function sameKey(k: Uint32Array, o: number, p: FragPacketView): boolean {
  const s = p.src;
  const d = p.dst;
  return (
    k[o + 8] === p.fragId >>> 0 &&
    k[o + 3] === s[3] &&
    k[o + 7] === d[3] &&
    k[o + 9] === p.ipProto &&
    k[o] === s[0] &&
    k[o + 1] === s[1] &&
    k[o + 2] === s[2] &&
    k[o + 4] === d[0] &&
    k[o + 5] === d[1] &&
    k[o + 6] === d[2]
  );
}

/** 31-bit hash of (source, destination, identification, protocol); words read as int32. */
function fragKey(p: FragPacketView): number {
  const s = p.src;
  const d = p.dst;
  let h = murmur3Round(0x3c6ef372 ^ p.ipProto ^ (p.ipVersion << 8), p.fragId | 0);
  h = murmur3Round(murmur3Round(h, s[3]! | 0), d[3]! | 0);
  if (p.ipVersion === 6) {
    h = murmur3Round(murmur3Round(murmur3Round(h, s[0]! | 0), s[1]! | 0), s[2]! | 0);
    h = murmur3Round(murmur3Round(murmur3Round(h, d[0]! | 0), d[1]! | 0), d[2]! | 0);
  }
  return murmur3Finish(h) & 0x7fffffff;
}

