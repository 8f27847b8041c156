/**
 * Duplicate suppression for node captures (design.md §5): `tcpdump -i any` on a node records a
 * packet once per device it crosses (the pod's lxc/veth, the tunnel device, the uplink, maybe
 * encapsulated in VXLAN/Geneve), but it is one packet for the datapath.
 *
 * Rule: a packet is a duplicate when an identical packet was seen less than `windowNs` (the
 * `--dedup-window`, 1 ms by default) before it AT ANOTHER OBSERVATION POINT. Identical means
 * equal in what forwarding leaves alone:
 *  - IP: version, addresses, protocol, identification, total length, fragment offset and MF;
 *  - transport: ports, TCP sequence and acknowledgement numbers, flags and window, ICMP type,
 *    code, echo id and sequence, the quoted tuple of ICMP errors;
 *  - content (not for TCP, whose sequence numbers tell segments apart): a hash of the transport
 *    header and payload bytes (the first 64 and the last 32 captured), skipping the transport
 *    checksum, when the caller passes the frame's bytes.
 * Never compared: TTL / hop limit and the IPv4 header checksum (a routed copy has both changed,
 * see pcaps/README.md on starwars-node-sll2.pcap), transport checksums (offload may finish them
 * between devices), DSCP/ECN, VLAN tags and the encapsulation.
 * An observation point is (pcapng interface, SLL2 interface index, SLL packet type,
 * encapsulation, outer VLAN): copies of one packet appear at different points, while the same
 * bytes again at the same point are a new packet (a retransmission, a duplicate ACK), which is
 * never merged however close in time. Up to four points are remembered per packet.
 *
 * Memory is bounded: a set-associative table of `capacity` recent packets (4 ways per bucket,
 * the oldest way replaced), in typed arrays laid out so that a probe reads one cache line of
 * headers and writes the packet's record sequentially (below), nothing allocated per packet, no
 * strings. Packets evicted early only weaken suppression (a copy may be kept); two packets that
 * differ in a compared field are never merged, since every hit compares the whole record.
 */
import { PacketKind as PacketKindBinding, type DecodedPacket } from '../decode/packet.js';
import { murmur3Finish as murmur3FinishBinding, murmur3Round as murmur3RoundBinding } from '../net/hash.js';
import { tableInt32 } from '../maps/table-memory.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const PacketKind = PacketKindBinding;
const murmur3Finish = murmur3FinishBinding;
const murmur3Round = murmur3RoundBinding;

/** The frame a packet was decoded from (a capture Frame or CopiedFrame fits). */
export interface DedupFrameView {
  readonly data: Uint8Array;
  /** Offset of the frame in `data` (0 when absent). */
  readonly offset?: number;
  readonly caplen: number;
  /** pcapng interface the frame was captured on (0 when absent). */
  readonly interfaceId?: number;
}

/** `--dedup-window` default: 1 ms. */
export const DEFAULT_DEDUP_WINDOW_NS = 1_000_000;
export const DEFAULT_DEDUP_CAPACITY = 65_536;

/** Words of a packet record. */
const K = 21;
const WAYS = 4;
const POINTS = 4;
/** Content bytes hashed: from the start of the transport header, and before the captured end. */
const HEAD_BYTES = 64;
const TAIL_BYTES = 32;

/*
 * Layout: the bucket headers in one Int32Array, one 64-byte line per bucket; the packets' rows
 * in another, two lines per row; one link per ring row in a third:
 *
 *   header (16 words): hash[4] (0 = empty way), sec[4] (seconds from the epoch), nsec[4],
 *                      ref[4]: the way's row (bits 0-24), points seen - 1 (bits 29-30); way 0's
 *                      also holds the way likely replaced next (bits 25-26, see probe)
 *   row (32 words):    record (K = 21), sec, nsec (pending rows only), point hi/lo x 4 (8),
 *                      one unused word
 *   link (1 word):     1 + bucket * WAYS + way of the way referring to the ring row, or 0
 *
 * The rows array is a ring of `ringRows` rows followed by one spill row per way. Every packet's
 * record is written once, by fillRow, into the ring row under the cursor: sequential writes,
 * the cheap kind (a table of whole records costs two random lines per packet). A packet that is
 * remembered (not a copy) keeps that row and the cursor moves on; a copy leaves it to the next
 * packet. The header alone decides a miss (no way's hash matches) and the way to replace (the
 * oldest), so the common probe reads and writes one line of a compact array (the replay's
 * 8,192 ways: 2,048 headers, 128 KiB) besides the ring and the links (sequential too, but for
 * clearing the link of the replaced way's row, a few thousand rows back); a row is read on a
 * hash match only.
 *
 * Before the cursor overwrites a ring row that a way still refers to (its link), the row is
 * copied to that way's spill row. The table therefore holds exactly what a table of whole
 * records would: the way chosen, the one replaced and every decision are the same as if each
 * way carried its record, whatever the ring's size or the clock does. The ring's size, 4 rows
 * per way, only makes spills rare: a way outlives four times its share of stores only when its
 * bucket got fewer than four of them, about 1 row in 10,000. Memory: 5 rows of 128 bytes per
 * way, 5 MiB for the replay's table (pages of spill rows never written cost nothing).
 *
 * Fast path while one observation point is all there is: no packet can be a copy then (a copy
 * is seen at ANOTHER point), so the table is left alone and each packet's row only goes into
 * the ring, with its time; the rows of the last two windows are pending (at most
 * `PENDING_ROWS`). The moment a second point appears (or the pending rows would exceed that,
 * or the clock steps back by more than a window), the pending rows are stored in the table in
 * arrival order through the ordinary probe (they stay in place: the ways refer to them), and
 * the ordinary algorithm runs from then on. This is exact: a row of the table can only match a
 * packet within a window of it, and the clock never going back by more than a window, every row
 * that can still match is pending; the rows the table would hold besides (older ones) are the
 * first any store replaces, so the rows the flush stores, and the ones the table drops later,
 * are exactly those of the ordinary algorithm. For that the replaced way must not depend on
 * where a row sits: among ways of equal age the one with the lower hash goes (a flush places
 * rows in other ways than the ordinary algorithm).
 */
const HDR = 16;
const H_SEC = 4;
const H_NSEC = 8;
const H_REF = 12;
/** ref fields (see the layout): the row (ring rows + spill rows < 2^25), points, next way. */
const REF_ROW = (1 << 25) - 1;
const REF_POINTS = 29;
const REF_NEXT = 25;
const ROW = 32;
const R_SEC = K;
const R_NSEC = K + 1;
const R_POINTS = K + 2;
const TWO32 = 4294967296;
/** Fast path (see above): at most this many pending rows, those of the last two windows. */
const PENDING_ROWS = 4096;
/** Ring rows per way (see above), and the ring's bounds. */
const RING_PER_WAY = 4;
const MIN_RING = 2 * PENDING_ROWS;
const MAX_RING = 1 << 22;

/**
 * @internal The native fast path's view of a Deduplicator (native/fastpath/dedup.h DedupBind):
 * its arrays and constants.
 */
export interface DedupNativeView {
  readonly headers: Int32Array;
  readonly rows: Int32Array;
  readonly links: Int32Array;
  readonly bucketMask: number;
  readonly ringRows: number;
  readonly pendingLimit: number;
  readonly windowNs: number;
}

/**
 * @internal Words of the scalar block (saveScalars / loadScalars; native/fastpath/dedup.h
 * DedupScalar): cursor, single, firstHi, firstLo, pendingSeen, pendingCount, maxSec, maxNsec,
 * epoch, dupCount, in that order, booleans as 0 / 1.
 */
export const DEDUP_SCALAR_WORDS = 10;

/** A number read back from the scalar block, as an int32 when it is one (its field stays small-integer). */
function scalarOf(x: number): number {
  return (x | 0) === x ? x | 0 : x;
}

export class Deduplicator {
  readonly windowNs: number;
  readonly capacity: number;
  private dupCount = 0;
  private readonly bucketMask: number;
  private readonly headers: Int32Array;
  /** The ring's `ringRows` rows, then one spill row per way (see the module comment). */
  private readonly rows: Int32Array;
  /** Per ring row: 1 + the slot (bucket * WAYS + way) referring to it, or 0. */
  private readonly links: Int32Array;
  private readonly ringRows: number;
  /** The ring row the next packet's record goes to. */
  private cursor = 0;
  /** Fast path: only one observation point seen so far (see the module comment). */
  private single = true;
  /** That point (valid once `pendingSeen`). */
  private firstHi = 0;
  private firstLo = 0;
  private pendingSeen = false;
  /** Pending rows: the `pendingCount` ring rows before the cursor. */
  private pendingCount = 0;
  private readonly pendingLimit: number;
  /** Latest time seen in the fast path (seconds from the epoch, nanoseconds). */
  private maxSec = 0;
  private maxNsec = 0;
  /** Capture second the stored seconds count from (int32 fields), set by the first packet. */
  private epoch = -1;

  /**
   * `fastPath`: @internal tests only; false stores every packet in the table from the start
   * (the fast path must decide exactly alike). `ringRows`: @internal tests only; the ring's
   * size, a power of two from 2 (small ones spill often, which must not change a decision; under
   * 4,097 rows the fast path holds fewer pending rows, which is exact while the clock never
   * steps back by more than a window).
   */
  constructor(windowNs = DEFAULT_DEDUP_WINDOW_NS, capacity = DEFAULT_DEDUP_CAPACITY, private readonly fastPath = true, ringRows?: number) {
    if (!(windowNs >= 0) || !Number.isFinite(windowNs)) throw new RangeError(`dedup: window ${windowNs} ns is not a finite non-negative number`);
    if (!Number.isInteger(capacity) || capacity < WAYS || capacity > 1 << 24) throw new RangeError(`dedup: capacity ${capacity} is outside ${WAYS}..${1 << 24}`);
    let slots = WAYS;
    while (slots < capacity) slots *= 2;
    const ring = ringRows ?? Math.min(MAX_RING, Math.max(MIN_RING, RING_PER_WAY * slots));
    if (!Number.isInteger(ring) || ring < 2 || ring > MAX_RING || (ring & (ring - 1)) !== 0) throw new RangeError(`dedup: ring of ${ring} rows is not a power of two in 2..${MAX_RING}`);
    this.windowNs = windowNs;
    this.capacity = slots;
    this.bucketMask = slots / WAYS - 1;
    this.headers = tableInt32((slots / WAYS) * HDR);
    this.ringRows = ring;
    this.rows = tableInt32((ring + slots) * ROW);
    this.links = tableInt32(ring);
    this.pendingLimit = Math.min(PENDING_ROWS, ring - 1);
    this.single = fastPath;
  }

  /** Packets found to be duplicates so far. */
  get duplicates(): number {
    return this.dupCount;
  }

  /**
   * True when `p` is a copy of a packet seen within the window at another observation point;
   * otherwise it is remembered as an original. Pass the frame for content hashing and the
   * pcapng interface (recommended: without it, packets equal in every header field but not in
   * content, e.g. two DNS queries of one length over IPv6, count as copies of each other).
   * Non-IP packets are never duplicates.
   */
  isDuplicate(p: DecodedPacket, tsSec: number, tsNsec: number, frame?: DedupFrameView): boolean {
    if (p.ipVersion === 0) return false;
    if (this.single === true && this.keepPending(p, tsSec, tsNsec, frame) === true) return false;
    const point = pointOf(p, frame === undefined ? 0 : (frame.interfaceId ?? 0));
    if (this.epoch < 0) this.epoch = tsSec;
    const row = this.cursor;
    if (this.links[row] !== 0) this.spill(row);
    const h = fillRow(this.rows, row * ROW, p, contentOf(p, frame));
    if (this.probe(row, h, tsSec - this.epoch, tsNsec, (point / TWO32) | 0, point | 0) === true) return true;
    this.cursor = (row + 1) & (this.ringRows - 1);
    return false;
  }

  /** @internal The arrays and constants the native fast path works on (native/fastpath/dedup.h). */
  nativeView(): DedupNativeView {
    return {
      headers: this.headers,
      rows: this.rows,
      links: this.links,
      bucketMask: this.bucketMask,
      ringRows: this.ringRows,
      pendingLimit: this.pendingLimit,
      windowNs: this.windowNs,
    };
  }

  /** @internal Writes the mutable fields into block[at, at + DEDUP_SCALAR_WORDS) for the native fast path. */
  saveScalars(block: Float64Array, at: number): void {
    block[at] = this.cursor;
    block[at + 1] = this.single ? 1 : 0;
    block[at + 2] = this.firstHi;
    block[at + 3] = this.firstLo;
    block[at + 4] = this.pendingSeen ? 1 : 0;
    block[at + 5] = this.pendingCount;
    block[at + 6] = this.maxSec;
    block[at + 7] = this.maxNsec;
    block[at + 8] = this.epoch;
    block[at + 9] = this.dupCount;
  }

  /** @internal Reads the mutable fields back from block[at, at + DEDUP_SCALAR_WORDS) after the native fast path ran. */
  loadScalars(block: Float64Array, at: number): void {
    this.cursor = block[at]! | 0;
    this.single = block[at + 1] !== 0;
    this.firstHi = block[at + 2]! | 0;
    this.firstLo = block[at + 3]! | 0;
    this.pendingSeen = block[at + 4] !== 0;
    this.pendingCount = block[at + 5]! | 0;
    this.maxSec = scalarOf(block[at + 6]!);
    this.maxNsec = scalarOf(block[at + 7]!);
    this.epoch = scalarOf(block[at + 8]!);
    this.dupCount = scalarOf(block[at + 9]!);
  }

  /** Forgets every packet and resets the counter. */
  clear(): void {
    this.headers.fill(0);
    this.links.fill(0);
    this.cursor = 0;
    this.epoch = -1;
    this.dupCount = 0;
    this.single = this.fastPath;
    this.pendingSeen = false;
    this.pendingCount = 0;
  }

  /**
   * Fast path: true when `p`, seen at the first point, went into the ring as a pending row;
   * otherwise the fast path ends (flush) and `p` takes the ordinary path.
   */
  private keepPending(p: DecodedPacket, tsSec: number, tsNsec: number, frame: DedupFrameView | undefined): boolean {
    const point = pointOf(p, frame === undefined ? 0 : (frame.interfaceId ?? 0));
    const pointHi = (point / TWO32) | 0;
    const pointLo = point | 0;
    if (this.epoch < 0) this.epoch = tsSec;
    const sec = tsSec - this.epoch;
    if (!this.pendingSeen) {
      this.pendingSeen = true;
      this.firstHi = pointHi;
      this.firstLo = pointLo;
      this.maxSec = sec;
      this.maxNsec = tsNsec;
    }
    if (pointHi === this.firstHi && pointLo === this.firstLo && this.keep(sec, tsNsec)) {
      // No way refers to a ring row before the first flush: nothing to spill.
      const rows = this.rows;
      const o = this.cursor * ROW;
      fillRow(rows, o, p, contentOf(p, frame));
      rows[o + R_SEC] = sec;
      rows[o + R_NSEC] = tsNsec;
      this.pendingCount++;
      this.cursor = (this.cursor + 1) & (this.ringRows - 1);
      return true;
    }
    this.flush();
    return false;
  }

  /**
   * Fast path: drops the pending rows more than two windows older than the latest time; false
   * (the packet is not kept) when the pending rows are at their limit or the clock stepped back
   * by more than a window, which end the fast path.
   */
  private keep(sec: number, nsec: number): boolean {
    const back = (this.maxSec - sec) * 1e9 + (this.maxNsec - nsec);
    if (back > this.windowNs) return false;
    if (back < 0) {
      this.maxSec = sec;
      this.maxNsec = nsec;
    }
    const q = this.rows;
    const limit = 2 * this.windowNs;
    const mask = this.ringRows - 1;
    while (this.pendingCount > 0) {
      const o = ((this.cursor - this.pendingCount) & mask) * ROW;
      if ((this.maxSec - q[o + R_SEC]!) * 1e9 + (this.maxNsec - q[o + R_NSEC]!) <= limit) break;
      this.pendingCount--;
    }
    return this.pendingCount < this.pendingLimit;
  }

  /** Ends the fast path: the pending rows go into the table in arrival order (none can be a copy). */
  private flush(): void {
    this.single = false;
    const q = this.rows;
    const mask = this.ringRows - 1;
    for (let i = this.pendingCount; i > 0; i--) {
      const row = (this.cursor - i) & mask;
      this.probe(row, recordHash(q, row * ROW), q[row * ROW + R_SEC]!, q[row * ROW + R_NSEC]!, this.firstHi, this.firstLo);
    }
    this.pendingCount = 0;
  }

  /** Ring row `row`, about to be overwritten, moves to the spill row of the way referring to it. */
  private spill(row: number): void {
    const slot = this.links[row]! - 1;
    this.links[row] = 0;
    const to = this.ringRows + slot;
    this.rows.copyWithin(to * ROW, row * ROW, (row + 1) * ROW);
    const h = (slot >>> 2) * HDR + H_REF + (slot & (WAYS - 1));
    this.headers[h] = (this.headers[h]! & ~REF_ROW) | to;
  }

  /**
   * The table lookup of the record in `row`, whose recordHash is `h`, remembering it (the way
   * refers to that row) when it is not a copy.
   */
  private probe(row: number, h: number, sec: number, tsNsec: number, pointHi: number, pointLo: number): boolean {
    const t = this.headers;
    const bucket = (h >>> 1) & this.bucketMask;
    const b = bucket * HDR;
    const h0 = t[b]!;
    const h1 = t[b + 1]!;
    const h2 = t[b + 2]!;
    const h3 = t[b + 3]!;
    if (h0 === h || h1 === h || h2 === h || h3 === h) return this.probeHit(bucket, h, row, sec, tsNsec, pointHi, pointLo);
    // No way holds this hash, so not this record: a new packet, in the first empty way or else
    // in the oldest one.
    let victim = 0;
    if (h0 === 0) victim = 0;
    else if (h1 === 0) victim = 1;
    else if (h2 === 0) victim = 2;
    else if (h3 === 0) victim = 3;
    else {
      // While the clock goes forward, the ways of a full bucket are replaced in turn, so the way
      // after the last one replaced is likely the oldest: taken when every other way is
      // strictly younger (no tie to break), found by the rule of probeHit otherwise. Comparisons
      // summed, not branched on: which way is oldest is a coin toss for the branch predictor.
      const next = (t[b + H_REF]! >>> REF_NEXT) & (WAYS - 1);
      const an = (sec - t[b + H_SEC + next]!) * 1e9 + (tsNsec - t[b + H_NSEC + next]!);
      const a0 = (sec - t[b + H_SEC]!) * 1e9 + (tsNsec - t[b + H_NSEC]!);
      const a1 = (sec - t[b + H_SEC + 1]!) * 1e9 + (tsNsec - t[b + H_NSEC + 1]!);
      const a2 = (sec - t[b + H_SEC + 2]!) * 1e9 + (tsNsec - t[b + H_NSEC + 2]!);
      const a3 = (sec - t[b + H_SEC + 3]!) * 1e9 + (tsNsec - t[b + H_NSEC + 3]!);
      victim = an > 0 && +(a0 < an) + +(a1 < an) + +(a2 < an) + +(a3 < an) === WAYS - 1 ? next : oldestWay(t, b, sec, tsNsec);
    }
    this.store(bucket, victim, h, sec, tsNsec, pointHi, pointLo, row);
    t[b + H_REF] = (t[b + H_REF]! & ~(3 << REF_NEXT)) | (((victim + 1) & (WAYS - 1)) << REF_NEXT);
    return false;
  }

  /** probe when a way of the bucket holds hash `h`: compares the records. */
  private probeHit(bucket: number, h: number, row: number, sec: number, tsNsec: number, pointHi: number, pointLo: number): boolean {
    const rows = this.rows;
    const r = row * ROW;
    const t = this.headers;
    const b = bucket * HDR;
    let victim = 0;
    let victimAge = -1;
    let victimHash = 0;
    for (let w = 0; w < WAYS; w++) {
      const hw = t[b + w]!;
      if (hw === 0) {
        if (victimAge !== Infinity) {
          victim = w;
          victimAge = Infinity; // an empty way beats any occupied one
        }
        continue;
      }
      const dt = (sec - t[b + H_SEC + w]!) * 1e9 + (tsNsec - t[b + H_NSEC + w]!);
      if (hw === h) {
        const ref = t[b + H_REF + w]!;
        const o = (ref & REF_ROW) * ROW;
        if (sameRecord(rows, o, r)) {
          const n = (ref >>> REF_POINTS) + 1;
          if (dt <= this.windowNs && dt >= -this.windowNs && !seenAt(rows, o + R_POINTS, n, pointHi, pointLo)) {
            if (n < POINTS) {
              rows[o + R_POINTS + 2 * n] = pointHi;
              rows[o + R_POINTS + 1 + 2 * n] = pointLo;
              t[b + H_REF + w] = ref + (1 << REF_POINTS);
            }
            this.dupCount++;
            return true;
          }
          // Outside the window, or again at a point it was seen at: a new packet.
          this.store(bucket, w, h, sec, tsNsec, pointHi, pointLo, row);
          return false;
        }
      }
      // The oldest way goes; among equally old ones the lower hash (not the first way: see the
      // fast path in the module comment).
      const age = dt < 0 ? 0 : dt;
      if (victimAge !== Infinity && (age > victimAge || (age === victimAge && hw < victimHash))) {
        victim = w;
        victimAge = age;
        victimHash = hw;
      }
    }
    this.store(bucket, victim, h, sec, tsNsec, pointHi, pointLo, row);
    return false;
  }

  /** Way `w` of `bucket` now refers to `row`, seen at one point; the row it referred to is unlinked. */
  private store(bucket: number, w: number, h: number, sec: number, nsec: number, pointHi: number, pointLo: number, row: number): void {
    const t = this.headers;
    const b = bucket * HDR;
    const links = this.links;
    if (t[b + w] !== 0) {
      const old = t[b + H_REF + w]! & REF_ROW;
      if (old < this.ringRows) links[old] = 0;
    }
    t[b + w] = h;
    t[b + H_SEC + w] = sec;
    t[b + H_NSEC + w] = nsec;
    t[b + H_REF + w] = (t[b + H_REF + w]! & (3 << REF_NEXT)) | row;
    links[row] = 1 + bucket * WAYS + w;
    const o = row * ROW + R_POINTS;
    const rows = this.rows;
    rows[o] = pointHi;
    rows[o + 1] = pointLo;
  }
}

/**
 * The way of a full bucket that goes (probeHit's rule): the oldest, among equally old ones (a
 * time in the future counts as now) the lower hash, then the first.
 */
function oldestWay(t: Int32Array, b: number, sec: number, nsec: number): number {
  let victim = 0;
  let victimAge = -1;
  let victimHash = 0;
  for (let w = 0; w < WAYS; w++) {
    const dt = (sec - t[b + H_SEC + w]!) * 1e9 + (nsec - t[b + H_NSEC + w]!);
    const age = dt < 0 ? 0 : dt;
    const hw = t[b + w]!;
    if (age > victimAge || (age === victimAge && hw < victimHash)) {
      victim = w;
      victimAge = age;
      victimHash = hw;
    }
  }
  return victim;
}

/** The records at rows[o] and rows[r] are equal. */
function sameRecord(rows: Int32Array, o: number, r: number): boolean {
  for (let i = 0; i < K; i++) if (rows[o + i] !== rows[r + i]) return false;
  return true;
}

/** Point (hi, lo) is among the first `n` points at rows[o]. */
function seenAt(rows: Int32Array, o: number, n: number, hi: number, lo: number): boolean {
  for (let i = 0; i < n; i++) if (rows[o + 2 * i] === hi && rows[o + 1 + 2 * i] === lo) return true;
  return false;
}

/**
 * The compared fields of `p` (see the module comment) at r[o], and the content hash in the last
 * word. Returns the record's recordHash, computed from the words on their way in (reading them
 * back costs a bounds-checked load each).
 */
function fillRow(r: Int32Array, o: number, p: DecodedPacket, content: number): number {
  const w0 =
    p.ipVersion |
    (p.ipProto << 8) |
    (p.kind << 16) |
    (p.isFragment === true ? 1 << 24 : 0) |
    (p.fragMore === true ? 1 << 25 : 0) |
    (p.hasPorts === true ? 1 << 26 : 0) |
    (p.hasIcmpInner === true ? 1 << 27 : 0);
  r[o] = w0;
  const s = p.src;
  const d = p.dst;
  const w4 = s[3]! | 0;
  const w8 = d[3]! | 0;
  const w9 = (p.sport << 16) | p.dport;
  const w10 = p.ipId;
  const w11 = p.tcpSeq | 0;
  const w12 = p.tcpAck | 0;
  const w14 = p.ipLength;
  r[o + 1] = s[0]!;
  r[o + 2] = s[1]!;
  r[o + 3] = s[2]!;
  r[o + 4] = w4;
  r[o + 5] = d[0]!;
  r[o + 6] = d[1]!;
  r[o + 7] = d[2]!;
  r[o + 8] = w8;
  r[o + 9] = w9;
  r[o + 10] = w10;
  r[o + 11] = w11;
  r[o + 12] = w12;
  r[o + 13] = p.tcpFlags | (p.tcpWindow << 16);
  r[o + 14] = w14;
  r[o + 15] = p.fragOffset | ((p.l4Length & 0xffff) << 16);
  r[o + 16] = (p.icmpType & 0xff) | ((p.icmpCode & 0xff) << 8) | ((p.icmpId & 0xffff) << 16);
  r[o + 17] = (p.icmpSeq & 0xffff) | (p.icmpInnerProto << 16);
  r[o + 18] = (p.icmpInnerSport << 16) | p.icmpInnerDport;
  r[o + 19] = p.hasIcmpInner === true ? p.icmpInnerSrc[3]! ^ Math.imul(p.icmpInnerDst[3]!, 0x9e3779b1) ^ p.icmpInnerSrc[0]! ^ p.icmpInnerDst[0]! : 0;
  r[o + 20] = content;
  return hashWords(w0, w4, w8, w9, w10 ^ w11, w12 ^ content, w14);
}

/**
 * The bucket hash of the record at r[o]: of words 0, 4, 8, 9, 10 ^ 11, 12 ^ 20 and 14, those that
 * vary most between packets (the whole record is compared on a hit, so the others need not be
 * hashed). Never 0, which marks an empty way.
 */
function recordHash(r: Int32Array, o: number): number {
  return hashWords(r[o]!, r[o + 4]!, r[o + 8]!, r[o + 9]!, r[o + 10]! ^ r[o + 11]!, r[o + 12]! ^ r[o + 20]!, r[o + 14]!);
}

/** recordHash of a record's words 0, 4, 8, 9, 10 ^ 11, 12 ^ 20 and 14 (int32 each). */
function hashWords(w0: number, w4: number, w8: number, w9: number, w10x11: number, w12x20: number, w14: number): number {
  const h = murmur3Round(murmur3Round(murmur3Round(murmur3Round(0x2f1e3d4c, w0), w4), w8), w9);
  return murmur3Finish(murmur3Round(murmur3Round(h, w10x11), w12x20) ^ w14) | 1;
}

/**
 * The content word of the record: TCP segments are told apart by sequence, acknowledgement,
 * flags, window and lengths; the content is hashed for the rest (UDP and ICMP over IPv6 have not
 * even an IP id), when the frame is there.
 */
function contentOf(p: DecodedPacket, frame: DedupFrameView | undefined): number {
  return frame === undefined || p.kind === PacketKind.TCP ? 0 : contentHash(p, frame);
}

/**
 * Hash of the transport bytes: the first HEAD_BYTES and the last TAIL_BYTES captured of the
 * IP payload, without the transport checksum, and the captured length.
 */
function contentHash(p: DecodedPacket, frame: DedupFrameView): number {
  const start = p.l4Offset;
  if (start < 0) return 0;
  const data = frame.data;
  const frameEnd = (frame.offset ?? 0) + frame.caplen;
  let end = start + p.l4Length;
  if (end > frameEnd) end = frameEnd;
  if (end > data.length) end = data.length;
  if (end <= start) return 1;
  // The checksum's place in the transport header, when this packet has that header.
  let cs = -1;
  let ce = -1;
  if (!(p.isFragment === true && p.fragOffset !== 0)) {
    const k = p.kind;
    if (k === PacketKind.TCP) cs = start + 16;
    else if (k === PacketKind.UDP) cs = start + 6;
    else if (k === PacketKind.ICMP || k === PacketKind.ICMPV6) cs = start + 2;
    if (cs >= 0) ce = cs + 2;
    else if (k === PacketKind.SCTP) {
      cs = start + 8;
      ce = start + 12;
    }
  }
  let h = murmur3Round(0x6a09e667, end - start);
  const headEnd = end < start + HEAD_BYTES ? end : start + HEAD_BYTES;
  if (cs < 0) h = hashBytes(data, start, headEnd, h);
  else {
    h = hashBytes(data, start, cs < headEnd ? cs : headEnd, h);
    if (ce < headEnd) h = hashBytes(data, ce, headEnd, h);
  }
  const tailStart = end - TAIL_BYTES > headEnd ? end - TAIL_BYTES : headEnd;
  return murmur3Finish(hashBytes(data, tailStart, end, h));
}

/** murmur3 rounds over d[from, to), four bytes at a time (big-endian words), then the rest. */
function hashBytes(d: Uint8Array, from: number, to: number, h: number): number {
  let i = from;
  for (; i + 4 <= to; i += 4) h = murmur3Round(h, (d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!);
  let k = 0;
  for (; i < to; i++) k = (k << 8) | d[i]!;
  return to > from ? murmur3Round(h, k ^ (to - from)) : h;
}

/**
 * The observation point as one number: the low 23 bits hold the SLL packet type (8), the
 * encapsulation (2) and the outer VLAN (13); above them 30 bits of interface: the SLL2 ifindex,
 * mixed with the pcapng interface when there is one. A collision of two interfaces there can
 * only make a copy look like a new packet, never merge two packets.
 */
function pointOf(p: DecodedPacket, interfaceId: number): number {
  const iface = interfaceId === 0 ? p.ifIndex + 1 : (p.ifIndex + 1) ^ Math.imul(interfaceId, 0x9e3779b1);
  const low = ((p.sllPacketType + 1) & 0xff) | (p.encap << 8) | ((p.vlan0 + 1) << 10);
  return (iface & 0x3fffffff) * 8388608 + low;
}

