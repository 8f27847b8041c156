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
 * the oldest way replaced), in typed arrays laid out so that a probe reads one cache line
 * (below), nothing allocated per packet, no strings. Packets evicted early only weaken
 * suppression (a copy may be kept); two packets that differ in a compared field are never
 * merged, since every hit compares the whole record.
 */
import { PacketKind, type DecodedPacket } from '../decode/packet.js';
import { murmur3Finish, murmur3Round } from '../net/hash.js';

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
 * Table layout: the bucket headers in one Int32Array, one 64-byte line per bucket, and the ways'
 * records in another, two lines per way:
 *
 *   header (16 words): hash[4] (0 = empty way), sec[4] (seconds from the epoch), nsec[4],
 *                      points seen[4]
 *   way (32 words):    point hi/lo x 4 (8), record (K = 21), 3 unused
 *
 * The header alone decides a miss (no way's hash matches) and the way to replace (the oldest),
 * so the common probe reads one line of a compact array (the default table's 2,048 headers take
 * 128 KiB and stay in cache where the records' 1 MiB would not) and only writes the replaced
 * way; records are read on a hash match.
 *
 * Fast path while one observation point is all there is: no packet can be a copy then (a copy
 * is seen at ANOTHER point), so the table is left alone and each packet's record only goes into
 * a small sequential ring (`PENDING_ROWS` rows, time and record) that keeps the packets of the
 * last two windows. The moment a second point appears (or the ring would overflow, or the clock
 * steps back by more than a window), the ring is flushed into the table in arrival order
 * through the ordinary store, and the ordinary algorithm runs from then on. This is exact: a
 * row of the table can only match a packet within a window of it, and the clock never going
 * back by more than a window, every row that can still match is in the ring; the rows the table
 * would hold besides (older ones) are the first any store replaces, so the rows the flush
 * writes, and the ones the table drops later, are exactly those of the ordinary algorithm. For
 * that the replaced way must not depend on where a row sits: among ways of equal age the one
 * with the lower hash goes (a flush places rows in other ways than the ordinary algorithm).
 */
const HDR = 16;
const H_SEC = 4;
const H_NSEC = 8;
const H_POINTS = 12;
const WAY = 32;
const W_RECORD = 2 * POINTS;
const TWO32 = 4294967296;
/** Fast-path ring (see above): rows of the packets of the last two windows, at one point. */
const PENDING_ROWS = 4096;
/** Ring row: seconds from the epoch, nanoseconds, the record (K), one unused word. */
const PENDING = 24;
const P_NSEC = 1;
const P_RECORD = 2;

export class Deduplicator {
  readonly windowNs: number;
  readonly capacity: number;
  private dupCount = 0;
  private readonly bucketMask: number;
  private readonly headers: Int32Array;
  private readonly ways: Int32Array;
  private readonly row = new Int32Array(K);
  /** Fast path: only one observation point seen so far (see the module comment). */
  private single = true;
  /** That point (valid once `pendingSeen`). */
  private firstHi = 0;
  private firstLo = 0;
  private pendingSeen = false;
  /** The ring: rows [pendingHead, pendingHead + pendingCount) modulo PENDING_ROWS. */
  private readonly pending = new Int32Array(PENDING_ROWS * PENDING);
  private pendingHead = 0;
  private pendingCount = 0;
  /** Latest time seen in the fast path (seconds from the epoch, nanoseconds). */
  private maxSec = 0;
  private maxNsec = 0;
  /** Capture second the stored seconds count from (int32 fields), set by the first packet. */
  private epoch = -1;

  /**
   * `fastPath`: @internal tests only; false stores every packet in the table from the start
   * (the fast path must decide exactly alike).
   */
  constructor(windowNs = DEFAULT_DEDUP_WINDOW_NS, capacity = DEFAULT_DEDUP_CAPACITY, private readonly fastPath = true) {
    if (!(windowNs >= 0) || !Number.isFinite(windowNs)) throw new RangeError(`dedup: window ${windowNs} ns is not a finite non-negative number`);
    if (!Number.isInteger(capacity) || capacity < WAYS || capacity > 1 << 24) throw new RangeError(`dedup: capacity ${capacity} is outside ${WAYS}..${1 << 24}`);
    let slots = WAYS;
    while (slots < capacity) slots *= 2;
    this.windowNs = windowNs;
    this.capacity = slots;
    this.bucketMask = slots / WAYS - 1;
    this.headers = new Int32Array((slots / WAYS) * HDR);
    this.ways = new Int32Array(slots * WAY);
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
    const point = pointOf(p, frame === undefined ? 0 : (frame.interfaceId ?? 0));
    const pointHi = (point / TWO32) | 0;
    const pointLo = point | 0;
    if (this.epoch < 0) this.epoch = tsSec;
    const sec = tsSec - this.epoch;
    if (this.single) {
      if (!this.pendingSeen) {
        this.pendingSeen = true;
        this.firstHi = pointHi;
        this.firstLo = pointLo;
        this.maxSec = sec;
        this.maxNsec = tsNsec;
      }
      if (pointHi === this.firstHi && pointLo === this.firstLo && this.keep(p, frame, sec, tsNsec)) return false;
      this.flush();
    }
    const r = this.row;
    fillRow(r, p, frame);
    return this.probe(r, sec, tsNsec, pointHi, pointLo);
  }

  /** Forgets every packet and resets the counter. */
  clear(): void {
    this.headers.fill(0);
    this.epoch = -1;
    this.dupCount = 0;
    this.single = this.fastPath;
    this.pendingSeen = false;
    this.pendingHead = 0;
    this.pendingCount = 0;
  }

  /**
   * Fast path: appends the packet's row to the ring after dropping the rows more than two
   * windows older than the latest time; false (nothing kept) when the ring is full or the clock
   * stepped back by more than a window, which end the fast path.
   */
  private keep(p: DecodedPacket, frame: DedupFrameView | undefined, sec: number, nsec: number): boolean {
    const back = (this.maxSec - sec) * 1e9 + (this.maxNsec - nsec);
    if (back > this.windowNs) return false;
    if (back < 0) {
      this.maxSec = sec;
      this.maxNsec = nsec;
    }
    const q = this.pending;
    const limit = 2 * this.windowNs;
    while (this.pendingCount > 0) {
      const o = this.pendingHead * PENDING;
      if ((this.maxSec - q[o]!) * 1e9 + (this.maxNsec - q[o + P_NSEC]!) <= limit) break;
      this.pendingHead = (this.pendingHead + 1) & (PENDING_ROWS - 1);
      this.pendingCount--;
    }
    if (this.pendingCount === PENDING_ROWS) return false;
    const o = ((this.pendingHead + this.pendingCount) & (PENDING_ROWS - 1)) * PENDING;
    this.pendingCount++;
    q[o] = sec;
    q[o + P_NSEC] = nsec;
    const r = this.row;
    fillRow(r, p, frame);
    for (let k = 0; k < K; k++) q[o + P_RECORD + k] = r[k]!;
    return true;
  }

  /** Ends the fast path: the ring's rows go into the table in arrival order (none can be a copy). */
  private flush(): void {
    this.single = false;
    const q = this.pending;
    const r = this.row;
    for (let i = 0; i < this.pendingCount; i++) {
      const o = ((this.pendingHead + i) & (PENDING_ROWS - 1)) * PENDING;
      for (let k = 0; k < K; k++) r[k] = q[o + P_RECORD + k]!;
      this.probe(r, q[o]!, q[o + P_NSEC]!, this.firstHi, this.firstLo);
    }
    this.pendingCount = 0;
  }

  /** The table lookup of record `r` (this.row), remembering it when it is not a copy. */
  private probe(r: Int32Array, sec: number, tsNsec: number, pointHi: number, pointLo: number): boolean {
    // The bucket: a hash of the words that vary most between packets (the whole record is
    // compared on a hit, so the others need not be hashed). Never 0, which marks an empty way.
    const h = murmur3Finish(murmur3Round(murmur3Round(murmur3Round(murmur3Round(murmur3Round(murmur3Round(0x2f1e3d4c, r[0]!), r[4]!), r[8]!), r[9]!), r[10]! ^ r[11]!), r[12]! ^ r[20]!) ^ r[14]!) | 1;
    const t = this.headers;
    const bucket = (h >>> 1) & this.bucketMask;
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
      const o = (bucket * WAYS + w) * WAY;
      if (hw === h && sameRow(this.ways, o + W_RECORD, r)) {
        const n = t[b + H_POINTS + w]!;
        if (dt <= this.windowNs && dt >= -this.windowNs && !seenAt(this.ways, o, n, pointHi, pointLo)) {
          if (n < POINTS) {
            this.ways[o + 2 * n] = pointHi;
            this.ways[o + 1 + 2 * n] = pointLo;
            t[b + H_POINTS + w] = n + 1;
          }
          this.dupCount++;
          return true;
        }
        // Outside the window, or again at a point it was seen at: a new packet.
        this.store(bucket, w, h, sec, tsNsec, pointHi, pointLo);
        return false;
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
    this.store(bucket, victim, h, sec, tsNsec, pointHi, pointLo);
    return false;
  }

  private store(bucket: number, w: number, h: number, sec: number, nsec: number, pointHi: number, pointLo: number): void {
    const t = this.headers;
    const b = bucket * HDR;
    t[b + w] = h;
    t[b + H_SEC + w] = sec;
    t[b + H_NSEC + w] = nsec;
    t[b + H_POINTS + w] = 1;
    const ways = this.ways;
    const o = (bucket * WAYS + w) * WAY;
    ways[o] = pointHi;
    ways[o + 1] = pointLo;
    const r = this.row;
    const q = o + W_RECORD;
    for (let i = 0; i < K; i++) ways[q + i] = r[i]!;
  }
}

function sameRow(t: Int32Array, o: number, r: Int32Array): boolean {
  for (let i = 0; i < K; i++) if (t[o + i] !== r[i]) return false;
  return true;
}

/** Way `o` was seen at point (hi, lo) among its first `n` points. */
function seenAt(ways: Int32Array, o: number, n: number, hi: number, lo: number): boolean {
  for (let i = 0; i < n; i++) if (ways[o + 2 * i] === hi && ways[o + 1 + 2 * i] === lo) return true;
  return false;
}

/** The compared fields of `p` (see the module comment), and the content hash in the last word. */
function fillRow(r: Int32Array, p: DecodedPacket, frame: DedupFrameView | undefined): void {
  r[0] =
    p.ipVersion |
    (p.ipProto << 8) |
    (p.kind << 16) |
    (p.isFragment ? 1 << 24 : 0) |
    (p.fragMore ? 1 << 25 : 0) |
    (p.hasPorts ? 1 << 26 : 0) |
    (p.hasIcmpInner ? 1 << 27 : 0);
  const s = p.src;
  const d = p.dst;
  r[1] = s[0]!;
  r[2] = s[1]!;
  r[3] = s[2]!;
  r[4] = s[3]!;
  r[5] = d[0]!;
  r[6] = d[1]!;
  r[7] = d[2]!;
  r[8] = d[3]!;
  r[9] = (p.sport << 16) | p.dport;
  r[10] = p.ipId;
  r[11] = p.tcpSeq;
  r[12] = p.tcpAck;
  r[13] = p.tcpFlags | (p.tcpWindow << 16);
  r[14] = p.ipLength;
  r[15] = p.fragOffset | ((p.l4Length & 0xffff) << 16);
  r[16] = (p.icmpType & 0xff) | ((p.icmpCode & 0xff) << 8) | ((p.icmpId & 0xffff) << 16);
  r[17] = (p.icmpSeq & 0xffff) | (p.icmpInnerProto << 16);
  r[18] = (p.icmpInnerSport << 16) | p.icmpInnerDport;
  r[19] = p.hasIcmpInner ? p.icmpInnerSrc[3]! ^ Math.imul(p.icmpInnerDst[3]!, 0x9e3779b1) ^ p.icmpInnerSrc[0]! ^ p.icmpInnerDst[0]! : 0;
  // TCP segments are told apart by sequence, acknowledgement, flags, window and lengths; the
  // content is hashed for the rest (UDP and ICMP over IPv6 have not even an IP id).
  r[20] = frame === undefined || p.kind === PacketKind.TCP ? 0 : contentHash(p, frame);
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
  if (!(p.isFragment && p.fragOffset !== 0)) {
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

