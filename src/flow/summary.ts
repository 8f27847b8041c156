/**
 * The replay summary (`-o summary`, `--summary`): what happened per verdict, per drop reason, per
 * endpoint pair and per policy rule, and the connections that lost the most packets.
 *
 * Counting (design.md §5): packets are counted by their final event (one per packet: its drop, or
 * its trace where it was delivered); a trace to the proxy counts as REDIRECTED and an audited
 * final event as AUDIT (Hubble prints it FORWARDED, the policy verdict says AUDIT). Connections
 * are `FlowEvent.connection`, each counted once per verdict it had; a packet without a conntrack
 * entry (`connection` 0: per-packet mode, fragments without their first) is keyed by its 5-tuple
 * instead. Policy rules count the connections they decided, from policy-verdict events, once per
 * connection, direction and outcome.
 *
 * Memory is bounded by connections, not packets: one 16-bit mask per connection number (a typed
 * array indexed by it), endpoint pairs up to `maxPairs` (the rest are summed as one row), and the
 * top dropped connections kept with the Space-Saving algorithm (Metwally et al., 2005) in
 * `trackedDropped` slots: exact while fewer connections were dropped, an over-estimate bounded by
 * the `error` column after that. Adding an event allocates nothing unless it opens a new endpoint
 * pair or dropped-connection slot.
 *
 * Hot path (design.md §6; a replay adds one final event per packet): per packet only typed
 * arrays are read and written. Each connection number has one record (its mask, its
 * Space-Saving slot, and its endpoint pair with the two sides it was found for) in a typed array
 * indexed by the number, so the packets of a connection touch one line for all three; endpoint
 * pairs are an open-addressing table of the two sides (not a Map of Maps), read again only when
 * a packet's sides differ from its connection's record (an ICMP error, an identity change).
 */
import {
  EventKind as EventKindBinding,
  ObservationPoint as ObservationPointBinding,
  TrafficDirection as TrafficDirectionBinding,
  Verdict as VerdictBinding,
  VERDICT_NAMES,
  type FlowEvent,
} from '../datapath/events.js';
import { copyWords as copyWordsBinding } from '../net/addr.js';
import { formatAddress } from '../decode/format.js';
import { dropReasonName, dropReasonText } from '../maps/codes.js';
import { grownInt32, tableInt32 } from '../maps/table-memory.js';
import type { FlowContext } from './context.js';
import { tabwriterLines } from './compact.js';
import { joinHostPort } from './flow.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const EventKind = EventKindBinding;
const ObservationPoint = ObservationPointBinding;
const TrafficDirection = TrafficDirectionBinding;
const Verdict = VerdictBinding;
const copyWords = copyWordsBinding;

/** Frame-level counts the datapath keeps (its DatapathCounters has these fields). */
export interface SummaryCounters {
  /** Frames read from the capture. */
  frames: number;
  /** IP packets decided (after duplicates were removed). */
  ipPackets: number;
  /** Frames without an IP header (ARP, LLDP, ...). */
  nonIp: number;
  /** Copies of a packet seen again within the dedup window (`--dedup-window`). */
  duplicates: number;
  /** Frames too damaged to decide (an ERROR event each). */
  decodeErrors: number;
  /** Later IP fragments whose first fragment was never seen (FRAG_NOT_FOUND). */
  fragmentsNotFound: number;
}

export function newSummaryCounters(): SummaryCounters {
  return { frames: 0, ipPackets: 0, nonIp: 0, duplicates: 0, decodeErrors: 0, fragmentsNotFound: 0 };
}

export interface SummaryOptions {
  /** The counters to report; pass the datapath's so it increments them directly. */
  counters?: SummaryCounters;
  /** Rows in the top-dropped list and in the text's endpoint-pair list. @default 10 */
  top?: number;
  /** Dropped connections tracked for the top list (Space-Saving slots). @default 10000 */
  trackedDropped?: number;
  /** Endpoint pairs kept apart; later pairs are summed in one row. @default 10000 */
  maxPairs?: number;
}

// Per-connection mask bits.
const BIT_RULE_BASE = 8; // 8..13: (direction, outcome) already counted for a rule
const BIT_TRANSLATED = 14;

const OUTCOME_ALLOW = 0;
const OUTCOME_DENY = 1;
const OUTCOME_AUDIT = 2;
const OUTCOME_NAMES = ['allowed', 'denied', 'audited'] as const;

/** Connection numbers above this go to a Map instead of the typed array (records of 32 bytes). */
const DENSE_LIMIT = 1 << 24;
/** The dense array's first growth (see ConnectionRecords.growDense): 2^17 records, 4 MiB. */
const DENSE_JUMP_TO = 1 << 17;
/** Distinct 5-tuples remembered for events without a connection number. */
const SYNTHETIC_LIMIT = 1 << 20;

/** Words of a connection record (six used, two spare: 32 bytes, two records to a cache line). */
const REC = 8;
/** The connection's bits (verdicts counted, rule outcomes counted, translated). */
const R_MASK = 0;
/** Its Space-Saving slot + 1 (0: not tracked). */
const R_DROP_SLOT = 1;
/** The endpoint pair of its last final event + 1 (0: none yet) and that event's two sides. */
const R_PAIR = 2;
const R_SRC_SIDE = 3;
const R_DST_SIDE = 4;
/**
 * Packets counted for the connection's pair (R_PAIR) but not yet added to the pair table:
 * (n << 3) | verdict, 0 for none. A connection's packets mostly share one pair and verdict, so
 * they are counted here, in the record the event reads anyway, and added to the pair's row
 * (a cache miss of its own) when the pair or verdict changes, or the summary is read.
 */
const R_PENDING = 5;
/** Pending counts flush before n reaches 2^27 (the word stays a positive int32). */
const PENDING_LIMIT = (1 << 27) << 3;

/**
 * @internal The record layout, for the native fast path's summary port
 * (native/fastpath/summary.h kSum* constants mirror these).
 */
export const SUMMARY_LAYOUT = { DENSE_LIMIT, REC, R_MASK, R_DROP_SLOT, R_PAIR, R_SRC_SIDE, R_DST_SIDE, R_PENDING, PENDING_LIMIT } as const;

/**
 * @internal Doubles FlowSummary.saveScalars writes (native/fastpath/summary.h SummaryScalar):
 * inheritedPackets, TopDropped's size, TopDropped's evictions, translatedConnections,
 * PairTable's count, pairsTruncated (0 or 1).
 */
export const SUMMARY_SCALAR_WORDS = 6;

/**
 * @internal FlowSummary's typed arrays the native fast path works on (native/fastpath/summary.h
 * SummaryTables). `records`, `pairPackets` and `pairConnections` are replaced when they grow:
 * bind again when one of them is not the object bound before (nativeRecords, nativePairPackets,
 * nativePairConnections). `pairSrc` / `pairDst` are replaced with the pair rows; `pairBuckets`
 * on its own when PairTable rehashes (nativePairBuckets): a binder of summaryNewArrayArgs
 * watches it too.
 */
export interface SummaryNativeArrays {
  /** ConnectionRecords' dense array: REC int32 words per connection number below DENSE_LIMIT. */
  records: Int32Array;
  packets: Float64Array;
  connections: Float64Array;
  dropPackets: Float64Array;
  dropConnections: Float64Array;
  pairPackets: Float64Array;
  pairConnections: Float64Array;
  /** TopDropped's slots (`capacity` elements each; words: 8 per slot). */
  capacity: number;
  key: Float64Array;
  count: Float64Array;
  error: Float64Array;
  reason: Uint16Array;
  srcSide: Float64Array;
  dstSide: Float64Array;
  family: Uint8Array;
  proto: Uint8Array;
  sport: Uint16Array;
  dport: Uint16Array;
  words: Uint32Array;
  heap: Int32Array;
  heapKey: Float64Array;
  pos: Int32Array;
  /**
   * For a new connection's events (summaryNewArrayArgs): ruleConnections (6 per rule slot),
   * PairTable's sides per pair number (replaced with pairPackets when it grows) and its buckets
   * (replaced on their own when the table rehashes), and the maxPairs option.
   */
  ruleConnections: Float64Array;
  pairSrc: Float64Array;
  pairDst: Float64Array;
  pairBuckets: Int32Array;
  maxPairs: number;
}

/**
 * @internal The arrays in the order the native side reads them as arguments
 * (native/fastpath/summary_args.h ReadSummaryTables): the fast path's bindSummary and the
 * summary test binding.
 */
export function summaryArrayArgs(a: SummaryNativeArrays): Array<ArrayBufferView | number> {
  return [
    a.records,
    a.packets,
    a.connections,
    a.dropPackets,
    a.dropConnections,
    a.pairPackets,
    a.pairConnections,
    a.key,
    a.count,
    a.error,
    a.reason,
    a.srcSide,
    a.dstSide,
    a.family,
    a.proto,
    a.sport,
    a.dport,
    a.words,
    a.heap,
    a.heapKey,
    a.pos,
    a.capacity,
  ];
}

/**
 * @internal The arrays a new connection's events also need, in the order the native side reads
 * them after summaryArrayArgs' (native/fastpath/summary_args.h ReadSummaryNewTables):
 * ruleConnections, pairSrc, pairDst, pairBuckets, maxPairs.
 */
export function summaryNewArrayArgs(a: SummaryNativeArrays): Array<ArrayBufferView | number> {
  return [a.ruleConnections, a.pairSrc, a.pairDst, a.pairBuckets, a.maxPairs];
}

/**
 * One record of REC int32 words per connection number, zero until first used: in a typed array
 * indexed by the number for ordinary numbers (grown by doubling; the connections alive at one
 * time have neighbouring numbers, so their records share lines), in a second array through a
 * Map for synthetic (negative), zero and very large numbers. `at` returns the record's offset in
 * `data`, which it points at the array holding it.
 */
class ConnectionRecords {
  data: Int32Array;
  private dense = tableInt32(1024 * REC);
  private sparse = new Int32Array(16 * REC);
  private sparseCount = 0;
  private readonly sparseIndex = new Map<number, number>();

  constructor() {
    this.data = this.dense;
  }

  /** @internal The dense array as it is now (replaced when it grows). */
  get denseArray(): Int32Array {
    return this.dense;
  }

  /** Calls `fn` with the array and offset of every record (dense, then sparse). */
  forEach(fn: (data: Int32Array, rec: number) => void): void {
    for (let o = 0; o < this.dense.length; o += REC) fn(this.dense, o);
    for (let o = 0; o < this.sparseCount * REC; o += REC) fn(this.sparse, o);
  }

  at(conn: number): number {
    if (conn > 0 && conn < DENSE_LIMIT) {
      if (conn * REC >= this.dense.length) this.growDense(conn);
      this.data = this.dense;
      return conn * REC;
    }
    let o = this.sparseIndex.get(conn);
    if (o === undefined) {
      o = this.sparseCount++ * REC;
      if (o >= this.sparse.length) {
        const grown = new Int32Array(this.sparse.length * 2);
        grown.set(this.sparse);
        this.sparse = grown;
      }
      this.sparseIndex.set(conn, o);
    }
    this.data = this.sparse;
    return o;
  }

  /**
   * Doubles, but the first growth goes to DENSE_JUMP_TO records at once: a replay's connection
   * numbers climb past the first 1,024 quickly, and doubling copied the records seven times on
   * the way to the replay benchmark's 100k (the untouched part is table memory: address space).
   */
  private growDense(conn: number): void {
    let n = Math.max(this.dense.length / REC, DENSE_JUMP_TO);
    while (n <= conn) n *= 2;
    this.dense = grownInt32(this.dense, Math.min(n, DENSE_LIMIT) * REC);
  }
}

/**
 * Synthetic connection numbers for events without one, keyed by a 64-bit 5-tuple hash: open
 * addressing over typed arrays (a Map keyed by a double would box the key on every lookup).
 */
class TupleIds {
  private hashes = new Uint32Array(2 * 1024);
  private ids = new Int32Array(1024);
  private count = 0;
  private next = -1;

  /**
   * The number of the event's 5-tuple, oriented client -> server: a new negative one the first
   * time it is seen. The hash is computed here, in one function, so its 32-bit halves are never
   * boxed into heap numbers by a call.
   */
  idOf(ev: FlowEvent): number {
    const p = ev.packet;
    const reply = ev.isReply === true;
    const a = reply ? p.dst : p.src;
    const b = reply ? p.src : p.dst;
    const ap = reply ? p.dport : p.sport;
    const bp = reply ? p.sport : p.dport;
    let h1 = 0x811c9dc5 ^ p.ipProto;
    let h2 = 0x9e3779b9 ^ p.ipVersion;
    for (let k = 0; k < 4; k++) {
      h1 = Math.imul(h1 ^ a[k]!, 0x01000193);
      h1 = Math.imul(h1 ^ b[k]!, 0x01000193);
      h2 = Math.imul(h2 ^ b[k]!, 0x01000193);
      h2 = Math.imul(h2 ^ a[k]!, 0x01000193);
    }
    h1 = Math.imul(h1 ^ ((ap << 16) | bp), 0x01000193);
    h2 = Math.imul(h2 ^ ((bp << 16) | ap), 0x01000193);
    h1 ^= h1 >>> 15;
    h2 ^= h2 >>> 13;
    const mask = this.ids.length - 1;
    let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & mask;
    for (;;) {
      const id = this.ids[i]!;
      if (id === 0) break;
      if (this.hashes[2 * i] === h1 >>> 0 && this.hashes[2 * i + 1] === h2 >>> 0) return id;
      i = (i + 1) & mask;
    }
    if (this.count >= SYNTHETIC_LIMIT) return this.next--; // full: no more deduplication
    const id = this.next--;
    this.hashes[2 * i] = h1;
    this.hashes[2 * i + 1] = h2;
    this.ids[i] = id;
    if (++this.count * 2 > this.ids.length) this.grow();
    return id;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const oldIds = this.ids;
    this.hashes = new Uint32Array(oldHashes.length * 2);
    this.ids = new Int32Array(oldIds.length * 2);
    const mask = this.ids.length - 1;
    for (let j = 0; j < oldIds.length; j++) {
      if (oldIds[j] === 0) continue;
      const h1 = oldHashes[2 * j]! | 0;
      const h2 = oldHashes[2 * j + 1]! | 0;
      let i = (h1 ^ Math.imul(h2, 0x9e3779b1)) & mask;
      while (this.ids[i] !== 0) i = (i + 1) & mask;
      this.hashes[2 * i] = h1;
      this.hashes[2 * i + 1] = h2;
      this.ids[i] = oldIds[j]!;
    }
  }
}

/** Pair number of the "(other pairs)" row: the pairs beyond `maxPairs`. */
const OTHER_PAIRS = 0;

/**
 * Endpoint pairs (source side, destination side) -> pair number, and the counts per pair and
 * verdict in flat arrays (8 verdicts per pair). Sides are endpoint indexes (>= 0) or
 * -1 - identity. Open addressing with linear probing over an Int32Array of pair numbers + 1;
 * pair 0 is the "(other pairs)" row and is never in the table. Pairs are numbered in the order
 * they were first seen.
 */
class PairTable {
  /** Real pairs (numbers 1..count). */
  count = 0;
  src = new Float64Array(16);
  dst = new Float64Array(16);
  connections = new Float64Array(16 * 8);
  packets = new Float64Array(16 * 8);
  private buckets = new Int32Array(32);

  /** @internal The buckets as they are now (replaced when the table rehashes). */
  get nativeBuckets(): Int32Array {
    return this.buckets;
  }

  /** The pair's number, or -1 when it was never added. */
  find(srcSide: number, dstSide: number): number {
    const b = this.buckets;
    const mask = b.length - 1;
    for (let i = pairHash(srcSide, dstSide) & mask; ; i = (i + 1) & mask) {
      const n = b[i]! - 1;
      if (n < 0) return -1;
      if (this.src[n] === srcSide && this.dst[n] === dstSide) return n;
    }
  }

  /** Adds a pair that `find` did not find; returns its number. */
  add(srcSide: number, dstSide: number): number {
    const n = ++this.count;
    if (n >= this.src.length) this.growPairs();
    this.src[n] = srcSide;
    this.dst[n] = dstSide;
    if (n * 2 > this.buckets.length) this.rehash();
    else this.place(n);
    return n;
  }

  private place(n: number): void {
    const b = this.buckets;
    const mask = b.length - 1;
    let i = pairHash(this.src[n]!, this.dst[n]!) & mask;
    while (b[i] !== 0) i = (i + 1) & mask;
    b[i] = n + 1;
  }

  private rehash(): void {
    this.buckets = new Int32Array(this.buckets.length * 2);
    for (let n = 1; n <= this.count; n++) this.place(n);
  }

  private growPairs(): void {
    const len = this.src.length * 2;
    const grow = (a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> => {
      const g = new Float64Array(n);
      g.set(a);
      return g;
    };
    this.src = grow(this.src, len);
    this.dst = grow(this.dst, len);
    this.connections = grow(this.connections, len * 8);
    this.packets = grow(this.packets, len * 8);
  }
}

/** Bucket hash of a pair of sides (integers; `| 0` only folds them, equality is exact). */
function pairHash(a: number, b: number): number {
  let h = Math.imul(a | 0, 0x9e3779b1) ^ (b | 0);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * Space-Saving top-k over dropped connections: a min-heap of slots by packet count; a new
 * connection takes the smallest slot when all are used, inheriting its count as `error`. The
 * heap is 4-ary: an eviction re-places a few stale tops (below), and a 4-ary sift-down over
 * 10,000 slots is 7 levels of one cache line of keys each instead of 14 levels.
 *
 * The heap is lazy: a dropped packet only increments its slot's count (the slot number is in
 * the connection's record, a line the event has read already), and each heap position keeps
 * the count its slot had when last placed. Counts only grow, so a position's key never exceeds
 * its slot's count, and when the top's key equals its count it is a true minimum: an eviction
 * re-places stale tops until that holds, then takes the top. The counts are a per-slot array
 * (80 KB for the default 10,000 slots, so it stays in cache): an eviction re-places several
 * tops and reads a count for each, which from the connections' records (a cache miss each)
 * cost more than the whole rest of the summary.
 */
class TopDropped {
  private readonly key: Float64Array;
  /** The packets of each slot's connection (with the error it inherited). */
  private readonly count: Float64Array;
  private readonly error: Float64Array;
  private readonly reason: Uint16Array;
  private readonly srcSide: Float64Array;
  private readonly dstSide: Float64Array;
  private readonly family: Uint8Array;
  private readonly proto: Uint8Array;
  private readonly sport: Uint16Array;
  private readonly dport: Uint16Array;
  private readonly words: Uint32Array;
  private readonly heap: Int32Array;
  /** The heap order's key per heap position: its slot's count when last placed (<= count). */
  private readonly heapKey: Float64Array;
  private readonly pos: Int32Array;
  private size = 0;
  /** Connections that lost their slot to a newer one (the list is then approximate). */
  evictions = 0;

  /** `records`: where a connection's slot is kept (R_DROP_SLOT). */
  constructor(
    readonly capacity: number,
    private readonly records: ConnectionRecords,
  ) {
    this.key = new Float64Array(capacity);
    this.count = new Float64Array(capacity);
    this.error = new Float64Array(capacity);
    this.reason = new Uint16Array(capacity);
    this.srcSide = new Float64Array(capacity);
    this.dstSide = new Float64Array(capacity);
    this.family = new Uint8Array(capacity);
    this.proto = new Uint8Array(capacity);
    this.sport = new Uint16Array(capacity);
    this.dport = new Uint16Array(capacity);
    this.words = new Uint32Array(capacity * 8);
    this.heap = new Int32Array(capacity);
    this.heapKey = new Float64Array(capacity);
    this.pos = new Int32Array(capacity);
  }

  /** @internal The slot arrays (SummaryNativeArrays' TopDropped part). */
  nativeArrays(): Pick<
    SummaryNativeArrays,
    'capacity' | 'key' | 'count' | 'error' | 'reason' | 'srcSide' | 'dstSide' | 'family' | 'proto' | 'sport' | 'dport' | 'words' | 'heap' | 'heapKey' | 'pos'
  > {
    return {
      capacity: this.capacity,
      key: this.key,
      count: this.count,
      error: this.error,
      reason: this.reason,
      srcSide: this.srcSide,
      dstSide: this.dstSide,
      family: this.family,
      proto: this.proto,
      sport: this.sport,
      dport: this.dport,
      words: this.words,
      heap: this.heap,
      heapKey: this.heapKey,
      pos: this.pos,
    };
  }

  /** @internal size and evictions at block[at], block[at + 1]. */
  saveScalars(block: Float64Array, at: number): void {
    block[at] = this.size;
    block[at + 1] = this.evictions;
  }

  /** @internal */
  loadScalars(block: Float64Array, at: number): void {
    this.size = block[at]!;
    this.evictions = block[at + 1]!;
  }

  /** One dropped packet of `conn`, whose record is at `rec` in `this.records.data`. */
  add(conn: number, rec: number, ev: FlowEvent, srcSide: number, dstSide: number): void {
    if (this.capacity === 0) return;
    const records = this.records;
    const tracked = records.data[rec + R_DROP_SLOT]!;
    if (tracked !== 0) {
      this.count[tracked - 1]!++;
      return;
    }
    let slot: number;
    let count = 1;
    const fresh = this.size < this.capacity;
    if (fresh) {
      slot = this.size++;
      this.heap[slot] = slot;
      this.pos[slot] = slot;
      this.heapKey[slot] = 1;
      this.error[slot] = 0;
    } else {
      // Space-Saving: the least counted connection gives its slot, and its count, to this one.
      slot = this.minimum();
      const old = records.at(this.key[slot]!);
      records.data[old + R_DROP_SLOT] = 0;
      this.error[slot] = this.count[slot]!;
      count = this.error[slot]! + 1;
      this.heapKey[0] = count;
      this.evictions++;
    }
    this.key[slot] = conn;
    const at = records.at(conn);
    records.data[at + R_DROP_SLOT] = slot + 1;
    this.count[slot] = count;
    this.reason[slot] = ev.dropReason;
    this.srcSide[slot] = srcSide;
    this.dstSide[slot] = dstSide;
    const p = ev.packet;
    const reply = ev.isReply === true;
    this.family[slot] = p.ipVersion;
    this.proto[slot] = p.ipProto;
    this.sport[slot] = reply ? p.dport : p.sport;
    this.dport[slot] = reply ? p.sport : p.dport;
    copyWords(this.words, reply ? p.dst : p.src, slot * 8);
    copyWords(this.words, reply ? p.src : p.dst, slot * 8 + 4);
    if (fresh) this.siftUp(this.pos[slot]!);
    else this.siftDown(0);
  }

  /** The slot of a least counted connection, at the top of the heap (stale tops re-placed first). */
  private minimum(): number {
    for (;;) {
      const top = this.heap[0]!;
      const c = this.count[top]!;
      if (this.heapKey[0] === c) return top;
      this.heapKey[0] = c;
      this.siftDown(0);
    }
  }

  private less(a: number, b: number): boolean {
    return this.heapKey[a]! < this.heapKey[b]!;
  }

  private swap(a: number, b: number): void {
    const sa = this.heap[a]!;
    const sb = this.heap[b]!;
    this.heap[a] = sb;
    this.heap[b] = sa;
    this.pos[sb] = a;
    this.pos[sa] = b;
    const ka = this.heapKey[a]!;
    this.heapKey[a] = this.heapKey[b]!;
    this.heapKey[b] = ka;
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 2;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /**
   * Moves position `i` down to its place. The sinking slot is held aside and each smaller child
   * moves up into the hole, then the slot is written once where it stops: the same arrays as
   * swapping level by level (as native/fastpath/summary.cc still does), with half the writes. An
   * eviction sifts ~18 levels (stale tops re-placed, then the new slot), and each level's
   * `pos` write is a random line of its own.
   */
  private siftDown(i: number): void {
    const heap = this.heap;
    const key = this.heapKey;
    const pos = this.pos;
    const size = this.size;
    const slot = heap[i]!;
    const slotKey = key[i]!;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= size) break;
      const last = first + 4 < size ? first + 4 : size;
      let m = i;
      let k = slotKey;
      for (let c = first; c < last; c++) {
        if (key[c]! < k) {
          m = c;
          k = key[c]!;
        }
      }
      if (m === i) break;
      const child = heap[m]!;
      heap[i] = child;
      pos[child] = i;
      key[i] = k;
      i = m;
    }
    heap[i] = slot;
    pos[slot] = i;
    key[i] = slotKey;
  }

  /** The tracked connections, most packets first. */
  entries(): DroppedEntry[] {
    const out: DroppedEntry[] = [];
    for (let s = 0; s < this.size; s++) {
      const family = this.family[s]!;
      out.push({
        slot: s,
        connection: this.key[s]!,
        packets: this.count[s]!,
        error: this.error[s]!,
        reason: this.reason[s]!,
        srcSide: this.srcSide[s]!,
        dstSide: this.dstSide[s]!,
        family,
        proto: this.proto[s]!,
        sport: this.sport[s]!,
        dport: this.dport[s]!,
        src: family === 0 ? '' : formatAddress(this.words.subarray(s * 8, s * 8 + 4), family),
        dst: family === 0 ? '' : formatAddress(this.words.subarray(s * 8 + 4, s * 8 + 8), family),
      });
    }
    // Ties keep the order connections were first dropped in (slots fill in that order).
    return out.sort((a, b) => b.packets - a.packets || a.slot - b.slot);
  }
}

interface DroppedEntry {
  slot: number;
  connection: number;
  packets: number;
  error: number;
  reason: number;
  srcSide: number;
  dstSide: number;
  family: number;
  proto: number;
  sport: number;
  dport: number;
  src: string;
  dst: string;
}

// ---------------------------------------------------------------------------------------------
// JSON shape

export interface VerdictCounts {
  [verdict: string]: number;
}

export interface SummaryJson {
  packets: VerdictCounts & { total: number };
  connections: VerdictCounts;
  drop_reasons: Array<{ reason: number; desc: string; text: string; packets: number; connections: number }>;
  pairs: Array<{ source: string; destination: string; connections: VerdictCounts; packets: VerdictCounts }>;
  pairs_truncated: boolean;
  rules: Array<{
    rule: string;
    source?: string;
    direction: 'ingress' | 'egress';
    allowed: number;
    denied: number;
    audited: number;
  }>;
  top_dropped: Array<{
    source: string;
    destination: string;
    protocol: string;
    src: string;
    dst: string;
    sport?: number;
    dport?: number;
    reason: string;
    packets: number;
    /** Space-Saving bound: the true count is between packets - error and packets. */
    error?: number;
  }>;
  top_dropped_approximate: boolean;
  inherited_packets: number;
  translated_connections: number;
  l7: { requests: VerdictCounts; responses: number };
  counters: {
    frames: number;
    ip_packets: number;
    non_ip: number;
    duplicates: number;
    decode_errors: number;
    fragments_not_found: number;
  };
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'ICMPv4', 6: 'TCP', 17: 'UDP', 47: 'GRE', 50: 'ESP', 51: 'AH', 58: 'ICMPv6', 132: 'SCTP' };

function verdictCounts(values: Float64Array): VerdictCounts {
  const out: VerdictCounts = {};
  for (let v = 0; v < values.length; v++) if (values[v]! > 0) out[VERDICT_NAMES[v] ?? String(v)] = values[v]!;
  return out;
}

// ---------------------------------------------------------------------------------------------

export class FlowSummary {
  readonly counters: SummaryCounters;
  private readonly top: number;
  private readonly maxPairs: number;

  private readonly packets = new Float64Array(8);
  private readonly connections = new Float64Array(8);
  private readonly dropPackets = new Float64Array(256);
  private readonly dropConnections = new Float64Array(256);
  private readonly l7Requests = new Float64Array(8);
  private l7Responses = 0;
  private inheritedPackets = 0;
  private translatedConnections = 0;

  private readonly records = new ConnectionRecords();
  private readonly synthetic = new TupleIds();

  /** Per rule slot (rule index + 1, 0 = no rule) x direction (ingress 0, egress 1) x outcome. */
  private readonly ruleConnections: Float64Array;

  private readonly pairs = new PairTable();
  private pairsTruncated = false;

  private readonly dropped: TopDropped;

  constructor(
    private readonly ctx: FlowContext,
    options: SummaryOptions = {},
  ) {
    this.counters = options.counters ?? newSummaryCounters();
    this.top = options.top ?? 10;
    this.maxPairs = options.maxPairs ?? 10_000;
    this.dropped = new TopDropped(options.trackedDropped ?? 10_000, this.records);
    this.ruleConnections = new Float64Array((ctx.doc.rules.length + 1) * 6);
  }

  /**
   * @internal The typed arrays the native fast path binds (see SummaryNativeArrays: `records`
   * and the two pair arrays are replaced when they grow).
   */
  nativeArrays(): SummaryNativeArrays {
    return {
      records: this.records.denseArray,
      packets: this.packets,
      connections: this.connections,
      dropPackets: this.dropPackets,
      dropConnections: this.dropConnections,
      pairPackets: this.pairs.packets,
      pairConnections: this.pairs.connections,
      ...this.dropped.nativeArrays(),
      ruleConnections: this.ruleConnections,
      pairSrc: this.pairs.src,
      pairDst: this.pairs.dst,
      pairBuckets: this.pairs.nativeBuckets,
      maxPairs: this.maxPairs,
    };
  }

  /** @internal The arrays that are replaced when they grow, for a cheap "bind again?" test. */
  get nativeRecords(): Int32Array {
    return this.records.denseArray;
  }

  /** @internal */
  get nativePairPackets(): Float64Array {
    return this.pairs.packets;
  }

  /** @internal */
  get nativePairConnections(): Float64Array {
    return this.pairs.connections;
  }

  /** @internal PairTable's buckets (replaced when it rehashes, apart from the pair rows). */
  get nativePairBuckets(): Int32Array {
    return this.pairs.nativeBuckets;
  }

  /**
   * @internal The mutable scalars the native commit touches, as SUMMARY_SCALAR_WORDS doubles
   * at block[at]: inheritedPackets, TopDropped's size, TopDropped's evictions,
   * translatedConnections, PairTable's count, pairsTruncated as 0 or 1
   * (native/fastpath/summary.h SummaryScalar). Written before the fast path runs.
   */
  saveScalars(block: Float64Array, at: number): void {
    block[at] = this.inheritedPackets;
    this.dropped.saveScalars(block, at + 1);
    block[at + 3] = this.translatedConnections;
    block[at + 4] = this.pairs.count;
    block[at + 5] = this.pairsTruncated ? 1 : 0;
  }

  /** @internal Reads them back (before TypeScript counts an event again). */
  loadScalars(block: Float64Array, at: number): void {
    this.inheritedPackets = block[at]!;
    this.dropped.loadScalars(block, at + 1);
    this.translatedConnections = block[at + 3]!;
    this.pairs.count = block[at + 4]!;
    this.pairsTruncated = block[at + 5] !== 0;
  }

  /** Counts one event (any kind; only what matters to the summary is kept). */
  add(ev: FlowEvent): void {
    switch (ev.kind) {
      case EventKind.POLICY_VERDICT:
        this.addPolicyVerdict(ev);
        return;
      case EventKind.L7:
        if (ev.l7 !== null && ev.l7.type === 'RESPONSE') this.l7Responses++;
        else this.l7Requests[ev.verdict & 7]!++;
        return;
      default:
        break;
    }
    if (ev.verdict === Verdict.TRANSLATED) {
      const rec = this.records.at(this.connectionOf(ev));
      const r = this.records.data;
      if ((r[rec + R_MASK]! & (1 << BIT_TRANSLATED)) === 0) {
        r[rec + R_MASK]! |= 1 << BIT_TRANSLATED;
        this.translatedConnections++;
      }
      return;
    }
    if (ev.isFinal !== true) return;
    this.addFinal(ev);
  }

  /** The verdict a final event counts under. */
  private outcome(ev: FlowEvent): number {
    if (ev.kind === EventKind.DROP) return Verdict.DROPPED;
    if (ev.audited === true) return Verdict.AUDIT;
    if (ev.verdict === Verdict.FORWARDED && ev.observationPoint === ObservationPoint.TO_PROXY) return Verdict.REDIRECTED;
    return ev.verdict & 7;
  }

  private addFinal(ev: FlowEvent): void {
    const v = this.outcome(ev);
    this.packets[v]!++;
    if (ev.inherited === true) this.inheritedPackets++;
    const conn = this.connectionOf(ev);
    const rec = this.records.at(conn);
    const r = this.records.data;
    const mask = r[rec + R_MASK]!;
    const bit = 1 << v;
    const firstOfVerdict = (mask & bit) === 0;
    if (firstOfVerdict) {
      r[rec + R_MASK] = mask | bit;
      this.connections[v]!++;
    }
    const reason = ev.dropReason & 0xff;
    if (v === Verdict.DROPPED) {
      this.dropPackets[reason]!++;
      if (firstOfVerdict) this.dropConnections[reason]!++;
    }

    // Endpoint pair, oriented client -> server.
    let srcSide = ev.srcEndpoint >= 0 ? ev.srcEndpoint : -1 - ev.srcIdentity;
    let dstSide = ev.dstEndpoint >= 0 ? ev.dstEndpoint : -1 - ev.dstIdentity;
    if (ev.isReply === true) {
      const t = srcSide;
      srcSide = dstSide;
      dstSide = t;
    }
    // The connection's pair, unless this event's sides differ from the ones it was found for.
    let pair: number;
    let cached = true;
    if (r[rec + R_PAIR] !== 0 && r[rec + R_SRC_SIDE] === srcSide && r[rec + R_DST_SIDE] === dstSide) {
      pair = r[rec + R_PAIR]! - 1;
    } else {
      // The pending packets belong to the pair the record held until now.
      if (r[rec + R_PENDING] !== 0) this.flushPending(r, rec);
      pair = this.pairOf(srcSide, dstSide);
      // Sides are int32 but for identities above 2^31 - 1 (never cached, always looked up).
      cached = (srcSide | 0) === srcSide && (dstSide | 0) === dstSide;
      if (cached) {
        r[rec + R_PAIR] = pair + 1;
        r[rec + R_SRC_SIDE] = srcSide;
        r[rec + R_DST_SIDE] = dstSide;
      }
    }
    if (cached) {
      const pending = r[rec + R_PENDING]!;
      if (pending !== 0 && (pending & 7) === v && pending < PENDING_LIMIT) r[rec + R_PENDING] = pending + 8;
      else {
        if (pending !== 0) this.flushPending(r, rec);
        r[rec + R_PENDING] = 8 | v;
      }
    } else {
      this.pairs.packets[pair * 8 + v]!++;
    }
    if (firstOfVerdict) this.pairs.connections[pair * 8 + v]!++;

    if (v === Verdict.DROPPED && ev.packet !== undefined) this.dropped.add(conn, rec, ev, srcSide, dstSide);
  }

  /** Adds record `rec`'s pending packets (R_PENDING) to its pair's row. */
  private flushPending(r: Int32Array, rec: number): void {
    const pending = r[rec + R_PENDING]!;
    this.pairs.packets[(r[rec + R_PAIR]! - 1) * 8 + (pending & 7)]! += pending >>> 3;
    r[rec + R_PENDING] = 0;
  }

  private addPolicyVerdict(ev: FlowEvent): void {
    let outcome: number;
    switch (ev.verdict) {
      case Verdict.FORWARDED:
      case Verdict.REDIRECTED:
        outcome = OUTCOME_ALLOW;
        break;
      case Verdict.DROPPED:
        outcome = OUTCOME_DENY;
        break;
      case Verdict.AUDIT:
        outcome = OUTCOME_AUDIT;
        break;
      default:
        return;
    }
    const direction = ev.trafficDirection === TrafficDirection.EGRESS ? 1 : 0;
    const rec = this.records.at(this.connectionOf(ev));
    const r = this.records.data;
    const bit = 1 << (BIT_RULE_BASE + direction * 3 + outcome);
    if ((r[rec + R_MASK]! & bit) !== 0) return;
    r[rec + R_MASK]! |= bit;
    const slot = ev.rule >= 0 && ev.rule < this.ctx.doc.rules.length ? ev.rule + 1 : 0;
    this.ruleConnections[slot * 6 + direction * 3 + outcome]!++;
  }

  /**
   * The event's connection number, or for an event without one a stable negative number for its
   * 5-tuple (oriented client -> server), so repeated packets count once.
   */
  private connectionOf(ev: FlowEvent): number {
    if (ev.connection > 0) return ev.connection;
    if (ev.packet === undefined) return 0;
    return this.synthetic.idOf(ev);
  }

  /** The pair number of (srcSide, dstSide), a new one while fewer than maxPairs, else OTHER_PAIRS. */
  private pairOf(srcSide: number, dstSide: number): number {
    const pairs = this.pairs;
    const n = pairs.find(srcSide, dstSide);
    if (n >= 0) return n;
    if (pairs.count >= this.maxPairs) {
      this.pairsTruncated = true;
      return OTHER_PAIRS;
    }
    return pairs.add(srcSide, dstSide);
  }

  private sideName(side: number): string {
    return side >= 0 ? this.ctx.sideName(side, 0) : this.ctx.sideName(-1, -1 - side);
  }

  // -------------------------------------------------------------------------------------------
  // Output

  toJSON(): SummaryJson {
    this.records.forEach((r, rec) => {
      if (r[rec + R_PENDING] !== 0) this.flushPending(r, rec);
    });
    const packets = verdictCounts(this.packets) as VerdictCounts & { total: number };
    let total = 0;
    for (const n of this.packets) total += n;
    packets.total = total;

    const drop_reasons: SummaryJson['drop_reasons'] = [];
    for (let r = 0; r < 256; r++) {
      if (this.dropPackets[r]! === 0) continue;
      drop_reasons.push({
        reason: r,
        desc: dropReasonName(r) ?? String(r),
        text: dropReasonText(r),
        packets: this.dropPackets[r]!,
        connections: this.dropConnections[r]!,
      });
    }
    drop_reasons.sort((a, b) => b.packets - a.packets || a.reason - b.reason);

    const pairs: SummaryJson['pairs'] = [];
    const pt = this.pairs;
    const row = (n: number): { connections: VerdictCounts; packets: VerdictCounts } => ({
      connections: verdictCounts(pt.connections.subarray(n * 8, n * 8 + 8)),
      packets: verdictCounts(pt.packets.subarray(n * 8, n * 8 + 8)),
    });
    // Grouped by source side in the order sources were first seen, then by first sight: the
    // order the sort below starts from (its ties keep it).
    const bySource = new Map<number, number[]>();
    for (let n = 1; n <= pt.count; n++) {
      const group = bySource.get(pt.src[n]!);
      if (group) group.push(n);
      else bySource.set(pt.src[n]!, [n]);
    }
    for (const [srcSide, group] of bySource) {
      for (const n of group) pairs.push({ source: this.sideName(srcSide), destination: this.sideName(pt.dst[n]!), ...row(n) });
    }
    if (this.pairsTruncated) pairs.push({ source: '(other pairs)', destination: '(other pairs)', ...row(OTHER_PAIRS) });
    const pairTotal = (x: SummaryJson['pairs'][number]): number => Object.values(x.connections).reduce((s, n) => s + n, 0);
    pairs.sort((a, b) => pairTotal(b) - pairTotal(a) || (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) || (a.destination < b.destination ? -1 : 1));

    const rules: SummaryJson['rules'] = [];
    const docRules = this.ctx.doc.rules;
    for (let slot = 0; slot <= docRules.length; slot++) {
      for (let direction = 0; direction < 2; direction++) {
        const base = slot * 6 + direction * 3;
        const allowed = this.ruleConnections[base + OUTCOME_ALLOW]!;
        const denied = this.ruleConnections[base + OUTCOME_DENY]!;
        const audited = this.ruleConnections[base + OUTCOME_AUDIT]!;
        if (allowed + denied + audited === 0) continue;
        const rec = slot > 0 ? docRules[slot - 1]! : undefined;
        const row: SummaryJson['rules'][number] = {
          rule: rec !== undefined ? rec.ref : '(no rule: default deny)',
          direction: direction === 0 ? 'ingress' : 'egress',
          allowed,
          denied,
          audited,
        };
        if (rec?.source !== undefined) row.source = rec.source;
        rules.push(row);
      }
    }
    rules.sort((a, b) => b.allowed + b.denied + b.audited - (a.allowed + a.denied + a.audited) || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));

    const top_dropped: SummaryJson['top_dropped'] = this.dropped
      .entries()
      .slice(0, this.top)
      .map((e) => {
        const row: SummaryJson['top_dropped'][number] = {
          source: this.sideName(e.srcSide),
          destination: this.sideName(e.dstSide),
          protocol: PROTO_NAMES[e.proto] ?? String(e.proto),
          src: e.src,
          dst: e.dst,
          reason: dropReasonName(e.reason) ?? String(e.reason),
          packets: e.packets,
        };
        if (e.proto === 6 || e.proto === 17 || e.proto === 132) {
          row.sport = e.sport;
          row.dport = e.dport;
        }
        if (e.error > 0) row.error = e.error;
        return row;
      });

    const c = this.counters;
    return {
      packets,
      connections: verdictCounts(this.connections),
      drop_reasons,
      pairs,
      pairs_truncated: this.pairsTruncated,
      rules,
      top_dropped,
      top_dropped_approximate: this.dropped.evictions > 0,
      inherited_packets: this.inheritedPackets,
      translated_connections: this.translatedConnections,
      l7: { requests: verdictCounts(this.l7Requests), responses: this.l7Responses },
      counters: {
        frames: c.frames,
        ip_packets: c.ipPackets,
        non_ip: c.nonIp,
        duplicates: c.duplicates,
        decode_errors: c.decodeErrors,
        fragments_not_found: c.fragmentsNotFound,
      },
    };
  }

  /** The summary as text: titled, aligned tables (the `hubble observe -o table` layout). */
  lines(): string[] {
    const j = this.toJSON();
    const out: string[] = [];
    const section = (title: string, rows: string[][]): void => {
      if (out.length > 0) out.push('');
      out.push(title);
      for (const l of tabwriterLines(rows)) out.push(l.trimEnd());
    };

    const verdictRows: string[][] = [['VERDICT', 'PACKETS', 'CONNECTIONS']];
    for (let v = 0; v < VERDICT_NAMES.length; v++) {
      const name = VERDICT_NAMES[v]!;
      const pk = j.packets[name] ?? 0;
      const cn = j.connections[name] ?? 0;
      if (pk === 0 && cn === 0) continue;
      verdictRows.push([name, String(pk), String(cn)]);
    }
    verdictRows.push(['TOTAL', String(j.packets.total), '']);
    section('Verdicts (one final event per packet)', verdictRows);

    if (j.drop_reasons.length > 0) {
      section('Drop reasons', [
        ['REASON', 'PACKETS', 'CONNECTIONS'],
        ...j.drop_reasons.map((d) => [`${d.text} (${d.desc})`, String(d.packets), String(d.connections)]),
      ]);
    }

    if (j.pairs.length > 0) {
      const rows: string[][] = [['SOURCE', 'DESTINATION', 'VERDICT', 'CONNECTIONS', 'PACKETS']];
      for (const p of j.pairs.slice(0, Math.max(this.top, 1) * 2)) {
        for (const name of VERDICT_NAMES) {
          const pk = p.packets[name] ?? 0;
          if (pk === 0) continue;
          rows.push([p.source, p.destination, name, String(p.connections[name] ?? 0), String(pk)]);
        }
      }
      const shown = Math.min(j.pairs.length, Math.max(this.top, 1) * 2);
      section(shown < j.pairs.length ? `Endpoint pairs (${shown} of ${j.pairs.length})` : 'Endpoint pairs', rows);
    }

    if (j.rules.length > 0) {
      section('Policy rules (connections decided)', [
        ['RULE', 'SOURCE', 'DIRECTION', ...OUTCOME_NAMES.map((n) => n.toUpperCase())],
        ...j.rules.map((r) => [r.rule, r.source ?? '', r.direction, String(r.allowed), String(r.denied), String(r.audited)]),
      ]);
    }

    if (j.top_dropped.length > 0) {
      const title = j.top_dropped_approximate ? 'Top dropped connections (approximate: more connections than tracked)' : 'Top dropped connections';
      section(title, [
        ['SOURCE', 'DESTINATION', 'PROTOCOL', 'TUPLE', 'REASON', 'PACKETS'],
        ...j.top_dropped.map((d) => {
          const tuple =
            d.sport !== undefined ? `${joinHostPort(d.src, d.sport)} -> ${joinHostPort(d.dst, d.dport ?? 0)}` : `${d.src} -> ${d.dst}`;
          return [d.source, d.destination, d.protocol, tuple, d.reason, d.error !== undefined ? `${d.packets} (±${d.error})` : String(d.packets)];
        }),
      ]);
    }

    const c = j.counters;
    const notes = [
      `frames ${c.frames}`,
      `IP packets ${c.ip_packets}`,
      `duplicates ${c.duplicates}`,
      `non-IP frames ${c.non_ip}`,
      `decode errors ${c.decode_errors}`,
      `fragments without their first ${c.fragments_not_found}`,
      `inherited drops ${j.inherited_packets}`,
      `translated connections ${j.translated_connections}`,
    ];
    const l7Total = Object.values(j.l7.requests).reduce((s, n) => s + n, 0);
    if (l7Total > 0 || j.l7.responses > 0) {
      const parts = Object.entries(j.l7.requests).map(([k, n]) => `${k} ${n}`);
      notes.push(`L7 requests ${l7Total}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}, responses ${j.l7.responses}`);
    }
    if (out.length > 0) out.push('');
    out.push('Capture');
    out.push(notes.join(', '));
    return out;
  }
}
