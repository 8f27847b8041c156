/**
 * `hubcap replay CAPTURE --write-enforced OUT.pcap`: the capture as the wire would carry it after
 * enforcement, written frame by frame as the replay goes.
 *
 * Mirrors:
 *  - Linux netfilter's sequence adjustment for payload-changing helpers (net/netfilter/
 *    nf_conntrack_seqadj.c: `nf_ct_seqadj_set` records, per direction, where a segment's length
 *    changed and by how much; `nf_ct_seq_adjust` shifts every later sequence number of that
 *    direction and every acknowledgement of the other, and `nf_ct_sack_adjust` the SACK blocks).
 *    Here one direction can hold several such edits (one per denied request), each "stream bytes
 *    [at, at + removed) replaced by `inserted` bytes", and the shift of a position is the sum
 *    of (inserted - removed) of the edits before it.
 *  - tcpreplay's tcprewrite `--fixcsum` / `--fixlen`: a changed frame gets its IP total length
 *    (IPv6 payload length), IPv4 header checksum and TCP/UDP checksum over the RFC 9293 / RFC 768
 *    / RFC 8200 section 8.1 pseudo-header recomputed; for a VXLAN/Geneve frame the outer IP and
 *    UDP lengths and checksums too (an outer IPv4 UDP checksum of 0 stays 0, as Linux sends it).
 *  - Wireshark's TCP analysis (epan/dissectors/packet-tcp.c tcp_analyze_sequence_number) is the
 *    judge: a rewritten conversation must not show "previous segment not captured", "ACKed unseen
 *    segment", out-of-order or duplicate-ACK notes that the input did not have.
 *
 * What the caller (src/cli/replay.ts) does per frame: `begin(frame, packet)` before the datapath
 * decides it, `end(fate)` after: KEEP, DROP (its final event was a drop), or DUPLICATE (the
 * datapath suppressed it as a copy of a recent packet; it shares its original's fate). Between
 * the two, the L7 proxy stage describes what its proxies changed on the wire through the
 * `EnforcedEdits` interface, always about the packet being decided:
 *  - `removeBytes(seq, n)`: in this packet's direction, stream bytes [seq, seq + n) never went on
 *    the wire (the server's answer to a request the proxy denied);
 *  - `deferReply(bytes, ts)`: the proxy answers this packet's sender itself, from the peer's
 *    address and port (Envoy's 403 local reply, the DNS proxy's REFUSED): a TCP stream insertion
 *    or one datagram. Its place is given later:
 *  - `anchorReply(handle, seq)`: at sequence `seq` of the reply's direction (where the real
 *    answer it replaces started); it is written in place of the packet carrying `seq`, with that
 *    packet's link header, addresses and time;
 *  - `replaceWithReply(handle)`: this datagram (the real answer) is replaced by the reply.
 * A reply never anchored is written when the answer will not come: before the replying side's
 * FIN or RST, when a datagram reply has waited `datagramReplyWaitNs`, or at the end of the
 * capture; it then carries the time of the packet it answers (the request's time), with the
 * headers of the last packet seen in its direction, or the request's own with addresses, ports,
 * MAC addresses, SLL packet type and TCP timestamps swapped.
 *
 * The writer knows frames, sequence numbers and checksums, nothing about policy or protocols.
 *
 * Memory: streaming; a frame is written (or not) before the next is read. State is kept only for
 * connections some edit touched (at most `maxConnections`, least recently used forgotten first,
 * their pending replies written then): per direction the edits, the replies waiting and a copy of
 * the last packet's headers. Frames of other connections go straight to the pcap encoder's
 * buffer; the per-frame work for them is a layout read, two hashes and a map probe (none while no
 * connection is tracked), no state.
 *
 * Deliberate differences and limits:
 *  - A whole-stream view is not available while streaming: a segment written before the proxy
 *    attributed its bytes (an out-of-order segment whose gap was filled later) stays as written.
 *  - Pure ACKs that acknowledge only removed bytes and acknowledge nothing new after the mapping
 *    are not written (the client never received those segments, so never acknowledged them).
 *  - SACK blocks are mapped like acknowledgements; a block that maps to nothing makes the whole
 *    SACK option NOPs (same header length).
 *  - A duplicate of a packet that was replaced is dropped: the proxy's answer appears once, at
 *    the observation point of the packet it replaced.
 *  - A frame whose headers cannot be rewritten (a fragment, a decode error) is kept or dropped
 *    as it is. A frame cut by the snaplen keeps its checksum (it cannot be recomputed).
 *  - The output is classic pcap with nanosecond timestamps (lossless for every input), so every
 *    frame must share one link type (a pcapng file with several is refused).
 */
import { closeSync, openSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { LinkType, type Frame } from './frame.js';
import { MAX_CAPLEN } from './format.js';
import { PcapEncoder } from './pcap-writer.js';
import { writeSomeSync } from './write-sync.js';

/** What the replay decided about a frame. */
export const Fate = {
  /** Delivered somewhere (or not an IP packet): on the wire after enforcement. */
  KEEP: 0,
  /** Its final event was a drop: never on the wire. */
  DROP: 1,
  /** Suppressed as a copy of a recent packet (`--dedup-window`): shares its original's fate. */
  DUPLICATE: 2,
} as const;

/**
 * What the L7 proxy stage tells the writer, always about the packet being decided (between
 * `begin` and `end`). Handles are positive integers; -1 means "nothing to place" and is ignored.
 */
export interface EnforcedEdits {
  /** In this packet's direction, stream bytes [seq, seq + length) never went on the wire. */
  removeBytes(seq: number, length: number): void;
  /**
   * The proxy answers this packet's sender itself, in the peer's name: `bytes` of TCP stream
   * data or one UDP datagram's payload; `tsSec`/`tsNsec` is the time used if the reply is never
   * anchored or replaced (see the module comment). Returns a handle.
   */
  deferReply(bytes: Uint8Array, tsSec: number, tsNsec: number): number;
  /** The deferred TCP reply `handle` takes the place of the stream bytes from `seq` on. */
  anchorReply(handle: number, seq: number): void;
  /** This datagram is replaced by the deferred reply `handle` (same headers, its payload). */
  replaceWithReply(handle: number): void;
}

/**
 * The decoded fields the writer reads (src/decode/packet.ts DecodedPacket has them all; declared
 * here so capture/ does not import decode/). Offsets are absolute indexes into the frame's data.
 */
export interface EnforcedPacketView {
  readonly error: number;
  readonly ipVersion: number;
  readonly ipProto: number;
  readonly l3Offset: number;
  readonly l4Offset: number;
  readonly payloadOffset: number;
  /** Captured payload bytes. */
  readonly payloadLength: number;
  /** Payload bytes on the wire. */
  readonly payloadWireLength: number;
  readonly hasPorts: boolean;
  readonly isFragment: boolean;
  readonly fragOffset: number;
  readonly encap: number;
  readonly sport: number;
  readonly dport: number;
  readonly tcpSeq: number;
  readonly tcpAck: number;
  readonly tcpFlags: number;
  readonly ipId: number;
  readonly ipLength: number;
  readonly icmpType: number;
  readonly icmpId: number;
  readonly icmpSeq: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
}

export interface EnforcedWriterOptions {
  /** Rewritten connections tracked at once; the least recently used is forgotten first. @default 16384 */
  maxConnections?: number;
  /** A deferred datagram reply that nothing replaced is written after this long. @default 5 s (a resolver's retry) */
  datagramReplyWaitNs?: number;
  /** Largest TCP payload of an inserted segment. @default 1400 */
  insertSegmentBytes?: number;
}

/** What the writer did (the replay reports it on stderr). */
export class EnforcedWriterStats {
  /** Frames handed to `end`. */
  frames = 0;
  /** Records written (kept frames, rewritten pieces, inserted replies). */
  written = 0;
  /** Frames not written (dropped, or carrying only removed bytes). */
  dropped = 0;
  /** Kept frames whose headers or payload changed. */
  rewritten = 0;
  /** Proxy replies written (403s, REFUSED answers), counted once each. */
  replies = 0;
  /** Rewritten connections tracked now, and forgotten because of `maxConnections`. */
  connections = 0;
  evicted = 0;
}

// TCP flag bits (byte 13 of the header; NS is bit 8 as decode/packet.ts keeps it).
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

const PROTO_TCP = 6;
const PROTO_UDP = 17;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_TEB = 0x6558;
const VXLAN_PORTS = [4789, 8472];
const GENEVE_PORT = 6081;
/** Linux cooked capture packet types (if_packet.h): to us, and sent by us. */
const PACKET_HOST = 0;
const PACKET_OUTGOING = 4;

const DEFAULT_MAX_CONNECTIONS = 16384;
const DEFAULT_DATAGRAM_WAIT_NS = 5e9;
const DEFAULT_INSERT_SEGMENT = 1400;
/** Slots of the table of recently dropped packets (for duplicates' fates); a power of two. */
const DROPPED_SLOTS = 8192;

// ---------------------------------------------------------------------------------------------
// Byte helpers and the Internet checksum (RFC 1071)

function get16(d: Uint8Array, at: number): number {
  return (d[at]! << 8) | d[at + 1]!;
}

function put16(d: Uint8Array, at: number, v: number): void {
  d[at] = (v >>> 8) & 0xff;
  d[at + 1] = v & 0xff;
}

function get32(d: Uint8Array, at: number): number {
  return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0;
}

function put32(d: Uint8Array, at: number, v: number): void {
  d[at] = (v >>> 24) & 0xff;
  d[at + 1] = (v >>> 16) & 0xff;
  d[at + 2] = (v >>> 8) & 0xff;
  d[at + 3] = v & 0xff;
}

function swapBytes(d: Uint8Array, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = d[a + i]!;
    d[a + i] = d[b + i]!;
    d[b + i] = t;
  }
}

/** One's-complement sum of 16-bit words of d[start, end) added to `sum`, not folded. */
function sumWords(d: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (d[i]! << 8) | d[i + 1]!;
  if (i < end) sum += d[i]! << 8;
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of d[start, end) with `initial` (e.g. a pseudo-header sum) added. */
export function internetChecksum(d: Uint8Array, start: number, end: number, initial = 0): number {
  return ~fold(sumWords(d, start, end, initial)) & 0xffff;
}

/** Sum of the pseudo-header of the IP header at `l3` for an upper-layer packet of `length` bytes. */
function pseudoHeaderSum(d: Uint8Array, l3: number, ipVersion: number, proto: number, length: number): number {
  if (ipVersion === 4) return sumWords(d, l3 + 12, l3 + 20, proto + length);
  // RFC 8200 8.1: source, destination, upper-layer length (32 bits), next header.
  return sumWords(d, l3 + 8, l3 + 40, proto + Math.floor(length / 0x10000) + (length & 0xffff));
}

function setIpv4HeaderChecksum(d: Uint8Array, l3: number): void {
  const ihl = (d[l3]! & 0x0f) * 4;
  put16(d, l3 + 10, 0);
  put16(d, l3 + 10, internetChecksum(d, l3, l3 + ihl));
}

// ---------------------------------------------------------------------------------------------
// Frame layout

/** Where the headers of a frame sit, relative to the frame's first byte. */
class Layout {
  linkType = 0;
  /** Inner (or only) IP header, transport header, payload. */
  l3 = -1;
  l4 = -1;
  payload = -1;
  ipVersion = 0;
  proto = 0;
  /** Overlay: outer IP header, outer UDP header, inner Ethernet header (-1 when none). */
  outerIp = -1;
  outerIpVersion = 0;
  outerUdp = -1;
  innerEth = -1;

  copyFrom(o: Layout): void {
    this.linkType = o.linkType;
    this.l3 = o.l3;
    this.l4 = o.l4;
    this.payload = o.payload;
    this.ipVersion = o.ipVersion;
    this.proto = o.proto;
    this.outerIp = o.outerIp;
    this.outerIpVersion = o.outerIpVersion;
    this.outerUdp = o.outerUdp;
    this.innerEth = o.innerEth;
  }
}

/**
 * The outer IP and UDP headers of an overlay frame (and the inner Ethernet header), walked from
 * the link layer as src/decode/decode.ts does. False when they are not where an overlay has them.
 */
function findOuter(d: Uint8Array, off: number, end: number, linkType: number, lay: Layout): boolean {
  let at = off;
  let version = 0;
  const etherVersion = (et: number): number => (et === ETHERTYPE_IPV4 ? 4 : et === ETHERTYPE_IPV6 ? 6 : 0);
  const walkVlans = (start: number, et: number): number => {
    let a = start;
    let t = et;
    while ((t === 0x8100 || t === 0x88a8 || t === 0x9100) && a + 4 <= end) {
      t = get16(d, a + 2);
      a += 4;
    }
    at = a;
    return etherVersion(t);
  };
  switch (linkType) {
    case LinkType.ETHERNET:
      if (end - off < 14) return false;
      version = walkVlans(off + 14, get16(d, off + 12));
      break;
    case LinkType.LINUX_SLL:
      if (end - off < 16) return false;
      version = walkVlans(off + 16, get16(d, off + 14));
      break;
    case LinkType.LINUX_SLL2:
      if (end - off < 20) return false;
      version = walkVlans(off + 20, get16(d, off));
      break;
    case LinkType.NULL:
    case LinkType.LOOP:
      at = off + 4;
      version = at < end ? d[at]! >> 4 : 0;
      break;
    default:
      version = at < end ? d[at]! >> 4 : 0;
  }
  let udp: number;
  if (version === 4) {
    if (at + 20 > end || d[at + 9] !== PROTO_UDP) return false;
    udp = at + (d[at]! & 0x0f) * 4;
  } else if (version === 6) {
    if (at + 40 > end || d[at + 6] !== PROTO_UDP) return false;
    udp = at + 40;
  } else {
    return false;
  }
  if (udp + 16 > end) return false;
  lay.outerIp = at - off;
  lay.outerIpVersion = version;
  lay.outerUdp = udp - off;
  const dport = get16(d, udp + 2);
  if (VXLAN_PORTS.includes(dport)) {
    lay.innerEth = udp + 16 - off;
  } else if (dport === GENEVE_PORT) {
    const hdr = 8 + ((d[udp + 8]! & 0x3f) << 2);
    lay.innerEth = get16(d, udp + 10) === ETHERTYPE_TEB ? udp + 8 + hdr - off : -1;
  } else {
    return false;
  }
  return true;
}

/** Headers of one frame (link layer to the end of the transport header) and their layout. */
class Template {
  readonly layout = new Layout();
  bytes: Uint8Array;
  length = 0;

  constructor(size = 128) {
    this.bytes = new Uint8Array(size);
  }

  /** Copies the first `length` bytes of a frame (its headers). */
  set(src: Uint8Array, start: number, length: number, lay: Layout): void {
    if (this.bytes.length < length) this.bytes = new Uint8Array(Math.max(length, 2 * this.bytes.length));
    this.bytes.set(src.subarray(start, start + length), 0);
    this.length = length;
    this.layout.copyFrom(lay);
  }

  /**
   * Turns the headers around, as the peer would send them: MAC addresses (outer and inner
   * Ethernet), the SLL packet type (sent <-> received), outer and inner IP addresses, ports, the
   * TCP timestamp option's TSval/TSecr (other TCP options but MSS become NOPs).
   */
  swap(): void {
    const d = this.bytes;
    const lay = this.layout;
    if (lay.linkType === LinkType.ETHERNET) swapBytes(d, 0, 6, 6);
    else if (lay.linkType === LinkType.LINUX_SLL) put16(d, 0, flipPacketType(get16(d, 0)));
    else if (lay.linkType === LinkType.LINUX_SLL2) d[10] = flipPacketType(d[10]!);
    if (lay.outerIp >= 0) {
      if (lay.outerIpVersion === 4) swapBytes(d, lay.outerIp + 12, lay.outerIp + 16, 4);
      else swapBytes(d, lay.outerIp + 8, lay.outerIp + 24, 16);
      if (lay.innerEth >= 0) swapBytes(d, lay.innerEth, lay.innerEth + 6, 6);
    }
    if (lay.ipVersion === 4) swapBytes(d, lay.l3 + 12, lay.l3 + 16, 4);
    else swapBytes(d, lay.l3 + 8, lay.l3 + 24, 16);
    swapBytes(d, lay.l4, lay.l4 + 2, 2);
    if (lay.proto === PROTO_TCP) {
      for (let i = lay.l4 + 20; i < lay.payload; ) {
        const kind = d[i]!;
        if (kind === 0) break;
        if (kind === 1) {
          i++;
          continue;
        }
        const len = d[i + 1]!;
        if (len < 2 || i + len > lay.payload) break;
        if (kind === 8 && len === 10) swapBytes(d, i + 2, i + 6, 4);
        else if (kind !== 2) d.fill(1, i, i + len);
        i += len;
      }
    }
  }
}

function flipPacketType(t: number): number {
  return t === PACKET_OUTGOING ? PACKET_HOST : t === PACKET_HOST ? PACKET_OUTGOING : t;
}

// ---------------------------------------------------------------------------------------------
// Connection state

const ReplyState = {
  /** Waiting for its place (or for the answer it replaces). */
  PENDING: 0,
  /** Its stream position is known; written with the packet that carries that position. */
  ANCHORED: 1,
  DONE: 2,
} as const;

/** A proxy's own answer. */
class Reply {
  state: number = ReplyState.PENDING;
  /** Use the reply's own time (the request's) rather than the packet it is written with. */
  ownTime = false;
  /** TCP: the stream position where it was anchored (original sequence number). */
  at = 0;
  /** TCP: the replying side's next sequence number and the acknowledgement, as the request showed them. */
  seq0 = 0;
  ack0 = 0;

  constructor(
    readonly id: number,
    readonly bytes: Uint8Array,
    readonly tsSec: number,
    readonly tsNsec: number,
    /** The request's headers turned around. */
    readonly template: Template,
    /** TCP: the connection and the direction the reply travels in; null for a datagram. */
    readonly conn: Conn | null,
    readonly dir: number,
  ) {}
}

/** One edit of a direction's stream: bytes [at, at + removed) replaced by the reply's bytes. */
interface Edit {
  at: number;
  removed: number;
  reply: Reply | null;
}

function inserted(e: Edit): number {
  return e.reply === null ? 0 : e.reply.bytes.length;
}

/** One direction of a rewritten connection: its edits in sequence order and what it waits for. */
class Direction {
  /** Sequence numbers are compared relative to this one (int32 differences: wraps are fine). */
  origin = 0;
  hasOrigin = false;
  readonly edits: Edit[] = [];
  /** cum[i]: sum of (inserted - removed) over edits[0, i). */
  readonly cum: number[] = [0];
  /** Anchored replies not written yet. */
  unwritten = 0;
  /** Deferred replies without a place yet, oldest first. */
  readonly pending: Reply[] = [];
  /** Highest sequence end seen (original numbering), valid when `seen`. */
  maxEnd = 0;
  seen = false;
  /** Headers of the last packet seen in this direction. */
  readonly last = new Template();
  /** Highest acknowledgement written in this direction (output numbering), valid when `acked`. */
  highestAck = 0;
  acked = false;

  rel(seq: number): number {
    if (!this.hasOrigin) {
      this.origin = seq >>> 0;
      this.hasOrigin = true;
    }
    return (seq - this.origin) | 0;
  }

  /** Number of edits that start before (`inclusive`: at or before) relative position `r`. */
  countBefore(r: number, inclusive: boolean): number {
    const e = this.edits;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const ra = this.rel(e[mid]!.at);
      if (ra < r || (inclusive && ra === r)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Recomputes cum from edit `from` on. */
  sums(from: number): void {
    const e = this.edits;
    const c = this.cum;
    c.length = e.length + 1;
    for (let i = from; i < e.length; i++) c[i + 1] = c[i]! + inserted(e[i]!) - e[i]!.removed;
  }

  /**
   * Where original sequence number `seq` lands on the rewritten stream. A position inside a
   * removed range lands after the bytes inserted there (everything the client was sent instead).
   * At an edit's own position, replies already written count as before it (`written`), others
   * not: an acknowledgement (`written` false) at an edit acknowledges nothing of it.
   */
  map(seq: number, written: boolean): number {
    const e = this.edits;
    if (e.length === 0) return seq >>> 0;
    const r = this.rel(seq);
    const k = this.countBefore(r, false);
    if (k > 0) {
      const prev = e[k - 1]!;
      const ra = this.rel(prev.at);
      if (r < ra + prev.removed) return (prev.at + this.cum[k - 1]! + inserted(prev)) >>> 0;
    }
    let shift = this.cum[k]!;
    if (written) {
      for (let i = k; i < e.length && this.rel(e[i]!.at) === r; i++) {
        const rep = e[i]!.reply;
        if (rep !== null && rep.state === ReplyState.DONE) shift += rep.bytes.length;
      }
    }
    return (seq + shift) >>> 0;
  }

  /** Whether acknowledgement `ack` acknowledges removed bytes (at < ack <= at + removed). */
  acksRemoved(ack: number): boolean {
    const e = this.edits;
    if (e.length === 0) return false;
    const r = this.rel(ack);
    const k = this.countBefore(r, false);
    if (k === 0) return false;
    const prev = e[k - 1]!;
    return prev.removed > 0 && r <= this.rel(prev.at) + prev.removed;
  }
}

/** A connection some edit touched, by its addresses and ports as they are on the wire. */
class Conn {
  /** Side a (the sender of the packet that created the state) then side b: four words each. */
  readonly words = new Uint32Array(8);
  portA = 0;
  portB = 0;
  ipVersion = 0;
  /** Next connection with the same hash. */
  next: Conn | null = null;
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];

  constructor(readonly hash: number) {}
}

// ---------------------------------------------------------------------------------------------

type Target = string | number | ((bytes: Uint8Array) => void);

export class EnforcedCaptureWriter implements EnforcedEdits {
  readonly stats = new EnforcedWriterStats();
  readonly name: string;
  private readonly options: Required<EnforcedWriterOptions>;
  private encoder: PcapEncoder | undefined;
  private readonly flushTo: (bytes: Uint8Array) => void;
  private fd = -1;
  private ownsFd = false;
  private closed = false;

  /** Rewritten connections by tuple hash (chained), in least-recently-used order in `lru`. */
  private readonly conns = new Map<number, Conn>();
  private readonly lru = new Set<Conn>();
  private readonly replies = new Map<number, Reply>();
  private nextHandle = 1;
  /** Deferred datagram replies, oldest first ([datagramHead, length) live). */
  private datagramReplies: Reply[] = [];
  private datagramHead = 0;
  /** Hashes of recently dropped packets, for the fate of their duplicates. */
  private readonly droppedHashes = new Int32Array(DROPPED_SLOTS);

  // The frame being decided (valid between begin and end).
  private frame: Frame | undefined;
  private packet: EnforcedPacketView | undefined;
  private readonly layout = new Layout();
  /** The frame's headers can be rewritten (TCP or UDP, whole headers, not a fragment). */
  private rewritable = false;
  private identity = 0;
  private readonly src = new Uint32Array(4);
  private readonly dst = new Uint32Array(4);
  private sport = 0;
  private dport = 0;
  private conn: Conn | null = null;
  private dir = 0;
  private replacement: Reply | null = null;
  /** The current frame is a duplicate (its original's fate; never suppressed as a redundant ACK). */
  private duplicate = false;

  /** The frame being built. */
  private readonly out = new Uint8Array(MAX_CAPLEN + 65536);
  private readonly scratchTemplate = new Template();

  /** `target`: a path (created or truncated now), an fd opened for writing, or a function given the file's bytes. */
  constructor(target: Target, options: EnforcedWriterOptions = {}) {
    this.options = {
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      datagramReplyWaitNs: options.datagramReplyWaitNs ?? DEFAULT_DATAGRAM_WAIT_NS,
      insertSegmentBytes: options.insertSegmentBytes ?? DEFAULT_INSERT_SEGMENT,
    };
    if (typeof target === 'function') {
      this.name = 'memory';
      this.flushTo = target;
      return;
    }
    this.name = typeof target === 'number' ? `fd ${target}` : target;
    if (typeof target === 'number') {
      this.fd = target;
    } else {
      try {
        this.fd = openSync(target, 'w');
      } catch (err) {
        throw new CaptureError(target, 0, `cannot create: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      this.ownsFd = true;
    }
    const fd = this.fd;
    let offset = 0;
    // Through a PcapWriter-like loop: whole buffers, synchronously.
    this.flushTo = (bytes) => {
      let done = 0;
      while (done < bytes.length) {
        try {
          done += writeSomeSync(fd, bytes, done);
        } catch (err) {
          throw new CaptureError(this.name, offset + done, `write failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        }
      }
      offset += bytes.length;
    };
  }

  // --- per frame ------------------------------------------------------------------------------

  /** The replay is about to decide `frame` (decoded into `p`). */
  begin(frame: Frame, p: EnforcedPacketView): void {
    if (this.encoder === undefined) {
      this.encoder = new PcapEncoder({ linkType: frame.linkType, nanosecond: true }, this.flushTo);
    } else if (frame.linkType !== this.encoder.linkType) {
      throw new CaptureError(this.name, 0, `--write-enforced writes classic pcap, one link type per file: frame ${frame.index} has link type ${frame.linkType}, earlier frames ${this.encoder.linkType}`);
    }
    if (!(frame.tsSec >= 0 && frame.tsSec <= 0xffffffff)) {
      // The record header's seconds are a uint32: writing would wrap the time silently.
      throw new CaptureError(this.name, 0, `--write-enforced writes classic pcap, whose times end in 2106: frame ${frame.index} is at ${frame.tsSec} s since 1970`);
    }
    this.frame = frame;
    this.packet = p;
    this.replacement = null;
    this.conn = null;
    this.identity = p.ipVersion === 0 ? 0 : identityHash(p);
    this.rewritable = this.readLayout(frame, p);
    if (this.rewritable && this.layout.proto === PROTO_TCP && this.conns.size > 0) this.findConn();
  }

  /** The replay decided the frame: write it (rewritten) or not. */
  end(fate: number): void {
    const frame = this.frame;
    if (frame === undefined) return;
    this.stats.frames++;
    this.duplicate = fate === Fate.DUPLICATE;
    if (fate === Fate.DUPLICATE) fate = this.wasDropped() ? Fate.DROP : Fate.KEEP;
    let written = false;
    if (this.replacement !== null) {
      this.writeDatagramReply(this.replacement, true);
      fate = Fate.DROP; // the original answer is gone; its copies too
    } else if (this.conn !== null) {
      written = this.endTcp(this.conn, fate);
    } else if (fate === Fate.KEEP) {
      this.encoder!.writeFrame(frame);
      this.stats.written++;
      written = true;
    }
    if (!written) {
      this.stats.dropped++;
      if (this.identity !== 0) this.droppedHashes[this.identity & (DROPPED_SLOTS - 1)] = this.identity;
    }
    this.expireDatagramReplies(frame.tsSec, frame.tsNsec);
    this.frame = undefined;
    this.packet = undefined;
  }

  /** Writes what still waits (replies never answered) and the file's tail; closes a path's file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.encoder === undefined) this.encoder = new PcapEncoder({ linkType: LinkType.ETHERNET, nanosecond: true }, this.flushTo);
    for (const conn of this.lru) this.flushConn(conn);
    this.conns.clear();
    this.lru.clear();
    for (let i = this.datagramHead; i < this.datagramReplies.length; i++) {
      const r = this.datagramReplies[i]!;
      if (r.state === ReplyState.PENDING) this.writeDatagramReply(r, false);
    }
    this.datagramReplies = [];
    this.encoder.flush();
    if (this.ownsFd) closeSync(this.fd);
    this.stats.connections = 0;
  }

  // --- EnforcedEdits --------------------------------------------------------------------------

  removeBytes(seq: number, length: number): void {
    if (length <= 0 || !this.rewritable || this.layout.proto !== PROTO_TCP) return;
    const d = this.currentConn().dirs[this.dir];
    const r = d.rel(seq);
    const k = d.countBefore(r, true);
    const prev = k > 0 ? d.edits[k - 1]! : undefined;
    if (prev !== undefined && d.rel(prev.at) + prev.removed === r) {
      prev.removed += length;
      d.sums(k - 1);
    } else {
      d.edits.splice(k, 0, { at: seq >>> 0, removed: length, reply: null });
      d.sums(k);
    }
  }

  deferReply(bytes: Uint8Array, tsSec: number, tsNsec: number): number {
    const frame = this.frame;
    const p = this.packet;
    if (!this.rewritable || frame === undefined || p === undefined) return -1;
    const template = new Template(this.layout.payload);
    template.set(frame.data, frame.offset, this.layout.payload, this.layout);
    template.swap();
    const id = this.nextHandle++;
    let reply: Reply;
    if (this.layout.proto === PROTO_TCP) {
      const conn = this.currentConn();
      reply = new Reply(id, bytes, tsSec, tsNsec, template, conn, 1 - this.dir);
      reply.seq0 = p.tcpAck >>> 0;
      reply.ack0 = (p.tcpSeq + p.payloadWireLength + ((p.tcpFlags & (SYN | FIN)) !== 0 ? 1 : 0)) >>> 0;
      conn.dirs[reply.dir].pending.push(reply);
    } else {
      reply = new Reply(id, bytes, tsSec, tsNsec, template, null, 0);
      this.datagramReplies.push(reply);
    }
    this.replies.set(id, reply);
    return id;
  }

  anchorReply(handle: number, seq: number): void {
    const reply = this.replies.get(handle);
    if (reply === undefined || reply.conn === null || reply.state !== ReplyState.PENDING) return;
    this.anchor(reply, seq >>> 0, false);
  }

  replaceWithReply(handle: number): void {
    const reply = this.replies.get(handle);
    if (reply === undefined || reply.conn !== null || reply.state !== ReplyState.PENDING) return;
    if (!this.rewritable || this.layout.proto !== PROTO_UDP) return;
    this.replacement = reply;
  }

  // --- internals ------------------------------------------------------------------------------

  private readLayout(frame: Frame, p: EnforcedPacketView): boolean {
    const lay = this.layout;
    lay.outerIp = -1;
    lay.outerUdp = -1;
    lay.innerEth = -1;
    lay.outerIpVersion = 0;
    if (p.error !== 0 || p.ipVersion === 0 || !p.hasPorts || p.isFragment) return false;
    if (p.ipProto !== PROTO_TCP && p.ipProto !== PROTO_UDP) return false;
    if (p.l3Offset < 0 || p.l4Offset < 0 || p.payloadOffset < 0) return false;
    const base = frame.offset;
    lay.linkType = frame.linkType;
    lay.l3 = p.l3Offset - base;
    lay.l4 = p.l4Offset - base;
    lay.payload = p.payloadOffset - base;
    lay.ipVersion = p.ipVersion;
    lay.proto = p.ipProto;
    if (lay.l4 + (lay.proto === PROTO_TCP ? 20 : 8) > lay.payload) return false;
    if (p.encap !== 0 && !findOuter(frame.data, base, base + frame.caplen, frame.linkType, lay)) return false;
    const d = frame.data;
    const l3 = base + lay.l3;
    const l4 = base + lay.l4;
    if (lay.ipVersion === 4) {
      readWords4(d, l3 + 12, this.src);
      readWords4(d, l3 + 16, this.dst);
    } else {
      readWords16(d, l3 + 8, this.src);
      readWords16(d, l3 + 24, this.dst);
    }
    this.sport = get16(d, l4);
    this.dport = get16(d, l4 + 2);
    return true;
  }

  private tupleHash(): number {
    return (sideHash(this.src, this.sport) + sideHash(this.dst, this.dport)) | 0;
  }

  /** Finds the current frame's connection state, if any, and its direction. */
  private findConn(): void {
    const h = this.tupleHash();
    for (let c = this.conns.get(h) ?? null; c !== null; c = c.next) {
      if (c.ipVersion !== this.layout.ipVersion) continue;
      if (c.portA === this.sport && c.portB === this.dport && sameWords(c.words, 0, this.src) && sameWords(c.words, 4, this.dst)) {
        this.use(c, 0);
        return;
      }
      if (c.portA === this.dport && c.portB === this.sport && sameWords(c.words, 0, this.dst) && sameWords(c.words, 4, this.src)) {
        this.use(c, 1);
        return;
      }
    }
  }

  private use(c: Conn, dir: number): void {
    this.conn = c;
    this.dir = dir;
    this.lru.delete(c);
    this.lru.add(c);
  }

  /** The current frame's connection state, created when it has none. */
  private currentConn(): Conn {
    if (this.conn !== null) return this.conn;
    if (this.lru.size >= this.options.maxConnections) {
      const oldest = this.lru.values().next().value as Conn;
      this.flushConn(oldest);
      this.forget(oldest);
      this.stats.evicted++;
    }
    const c = new Conn(this.tupleHash());
    c.ipVersion = this.layout.ipVersion;
    c.words.set(this.src, 0);
    c.words.set(this.dst, 4);
    c.portA = this.sport;
    c.portB = this.dport;
    c.next = this.conns.get(c.hash) ?? null;
    this.conns.set(c.hash, c);
    this.use(c, 0);
    this.stats.connections = this.lru.size;
    return c;
  }

  private forget(c: Conn): void {
    this.lru.delete(c);
    let head = this.conns.get(c.hash) ?? null;
    if (head === c) {
      if (c.next === null) this.conns.delete(c.hash);
      else this.conns.set(c.hash, c.next);
    } else {
      while (head !== null && head.next !== c) head = head.next;
      if (head !== null) head.next = c.next;
    }
    for (const d of c.dirs) for (const r of d.pending) this.replies.delete(r.id);
    for (const d of c.dirs) for (const e of d.edits) if (e.reply !== null) this.replies.delete(e.reply.id);
    this.stats.connections = this.lru.size;
  }

  private anchor(reply: Reply, seq: number, ownTime: boolean): void {
    const d = reply.conn!.dirs[reply.dir];
    const i = d.pending.indexOf(reply);
    if (i >= 0) d.pending.splice(i, 1);
    reply.state = ReplyState.ANCHORED;
    reply.at = seq;
    reply.ownTime = ownTime;
    d.unwritten++;
    const r = d.rel(seq);
    const k = d.countBefore(r, true);
    // Removal at this very position not yet given a reply: the reply replaces those bytes.
    for (let j = d.countBefore(r, false); j < k; j++) {
      const e = d.edits[j]!;
      if (e.reply === null) {
        e.reply = reply;
        d.sums(j);
        return;
      }
    }
    d.edits.splice(k, 0, { at: seq, removed: 0, reply });
    d.sums(k);
  }

  /** A TCP frame of a rewritten connection. Returns whether anything of it was written. */
  private endTcp(conn: Conn, fate: number): boolean {
    const frame = this.frame!;
    const p = this.packet!;
    const lay = this.layout;
    const d = conn.dirs[this.dir];
    const o = conn.dirs[1 - this.dir];
    const flags = p.tcpFlags;
    const seq = p.tcpSeq >>> 0;
    const len = p.payloadWireLength;
    if ((flags & SYN) !== 0) {
      if ((flags & ACK) === 0) {
        // A new SYN on this tuple opens a new connection (port reuse): the old state goes.
        this.flushConn(conn);
        this.forget(conn);
        this.conn = null;
        if (fate !== Fate.KEEP) return false;
        this.encoder!.writeFrame(frame);
        this.stats.written++;
        return true;
      }
    }
    d.last.set(frame.data, frame.offset, lay.payload, lay);
    const end = (seq + len + ((flags & (SYN | FIN)) !== 0 ? 1 : 0)) >>> 0;
    if (!d.seen || d.rel(end) > d.rel(d.maxEnd)) d.maxEnd = end;
    d.seen = true;
    // The replying side closes without the answer: the replies waiting go before its FIN/RST.
    if ((flags & (FIN | RST)) !== 0 && d.pending.length > 0) {
      const at = (seq + len) >>> 0;
      while (d.pending.length > 0) this.anchor(d.pending[0]!, at, true);
    }
    const touched = d.edits.length > 0 || o.edits.length > 0;
    if (!touched || (flags & SYN) !== 0) {
      if (fate !== Fate.KEEP) return false;
      this.encoder!.writeFrame(frame);
      this.stats.written++;
      if ((flags & ACK) !== 0) this.noteAck(d, p.tcpAck >>> 0);
      return true;
    }

    const hasAck = (flags & ACK) !== 0;
    const ack = hasAck ? o.map(p.tcpAck, false) : p.tcpAck >>> 0;
    const keep = fate === Fate.KEEP;
    const base = frame.offset;
    const data = frame.data;
    const payloadAt = base + lay.payload;
    const captured = Math.max(0, Math.min(p.payloadLength, frame.caplen - lay.payload));
    const closing = (flags & (FIN | RST)) !== 0;

    if (len === 0 && !closing) {
      // A pure ACK (or window update): only its numbers change.
      if (!keep) return false;
      if (!this.duplicate && hasAck && o.acksRemoved(p.tcpAck) && d.acked && ((ack - d.highestAck) | 0) <= 0) return false;
      this.writeTcp(data, base, lay, d.map(seq, true), ack, flags, data, payloadAt, 0, 0, frame.tsSec, frame.tsNsec, o);
      this.stats.rewritten++;
      if (hasAck) this.noteAck(d, ack);
      return true;
    }

    // Walk the segment's bytes [rs, re) against the edits: kept runs, replies, removed runs.
    const rs = d.rel(seq);
    const re = rs + len;
    const last = closing ? re : re - 1; // replies anchored at or before this position go now
    let cursor = rs;
    /** Some of the frame was written (a kept run, or its FIN/RST); the last kept run ends at re. */
    let kept = false;
    let keptToEnd = false;
    const keepRun = (a: number, b: number): void => {
      if (!keep || b <= a) return;
      const off = a - rs;
      const cap = Math.max(0, Math.min(b - rs, captured) - off);
      const isLast = b === re;
      const f = isLast ? flags : flags & ~(FIN | RST);
      this.writeTcp(data, base, lay, d.map((d.origin + a) >>> 0, true), ack, f, data, payloadAt + off, cap, b - a, frame.tsSec, frame.tsNsec, o);
      kept = true;
      keptToEnd = isLast;
    };
    const edits = d.edits;
    let i = d.unwritten > 0 ? 0 : Math.max(0, d.countBefore(rs, false) - 1);
    for (; i < edits.length; i++) {
      const e = edits[i]!;
      const ra = d.rel(e.at);
      if (ra > re) break;
      if (ra > cursor) {
        keepRun(cursor, Math.min(ra, re));
        cursor = Math.min(ra, re);
      }
      const rep = e.reply;
      if (rep !== null && rep.state === ReplyState.ANCHORED && ra <= last) {
        this.writeTcpReply(rep, d, o, ack, hasAck);
        keptToEnd = false;
      }
      const rEnd = ra + e.removed;
      if (rEnd > cursor) cursor = Math.min(rEnd, re);
    }
    if (cursor < re) keepRun(cursor, re);
    if (keep && closing && !keptToEnd) {
      // The FIN/RST follows the replies written before it: a segment of its own.
      this.writeTcp(data, base, lay, d.map((seq + len) >>> 0, true), ack, flags & ~PSH, data, payloadAt, 0, 0, frame.tsSec, frame.tsNsec, o);
      kept = true;
    }
    if (kept) {
      this.stats.rewritten++;
      if (hasAck) this.noteAck(d, ack);
      return true;
    }
    // Only removed bytes (or dropped): not on the wire. Replies written in its place are output
    // of their own; the frame itself counts as dropped (so do its duplicates).
    return false;
  }

  private noteAck(d: Direction, ack: number): void {
    if (!d.acked || ((ack - d.highestAck) | 0) > 0) d.highestAck = ack;
    d.acked = true;
  }

  /**
   * Writes an anchored reply as TCP segments in direction `d`: with the current frame's headers
   * when it travels the same way, and its time unless the reply keeps its own.
   */
  private writeTcpReply(rep: Reply, d: Direction, o: Direction, ack: number, hasAck: boolean): void {
    const frame = this.frame!;
    if (this.conn === null || rep.conn !== this.conn || rep.dir !== this.dir) {
      this.writeStandaloneReply(rep);
      return;
    }
    const ackValue = hasAck ? ack : o.seen ? o.map(o.maxEnd, false) : rep.ack0;
    const tsSec = rep.ownTime ? rep.tsSec : frame.tsSec;
    const tsNsec = rep.ownTime ? rep.tsNsec : frame.tsNsec;
    this.emitReplySegments(rep, frame.data, frame.offset, this.layout, d, ackValue, tsSec, tsNsec);
  }

  /** The reply's bytes as segments of at most `insertSegmentBytes`, from its mapped position on. */
  private emitReplySegments(rep: Reply, hdr: Uint8Array, hdrStart: number, lay: Layout, d: Direction, ack: number, tsSec: number, tsNsec: number): void {
    const start = d.map(rep.at, false);
    const bytes = rep.bytes;
    const max = this.options.insertSegmentBytes;
    for (let off = 0; off < bytes.length || off === 0; off += max) {
      const n = Math.min(max, bytes.length - off);
      this.writeTcp(hdr, hdrStart, lay, (start + off) >>> 0, ack, ACK | PSH, bytes, off, n, n, tsSec, tsNsec, null);
      if (bytes.length === 0) break;
    }
    rep.state = ReplyState.DONE;
    d.unwritten--;
    this.replies.delete(rep.id);
    this.stats.replies++;
  }

  /**
   * A TCP reply written without a packet of its direction at hand (end of capture, eviction, or
   * anchored at a packet of the other direction): the last headers seen in its direction, else
   * the request's turned around; at the stream position it was anchored at (else the end of
   * what its side sent); acknowledging everything the other side sent.
   */
  private writeStandaloneReply(rep: Reply): void {
    const conn = rep.conn!;
    const d = conn.dirs[rep.dir];
    const o = conn.dirs[1 - rep.dir];
    if (rep.state === ReplyState.PENDING) {
      const i = d.pending.indexOf(rep);
      if (i >= 0) d.pending.splice(i, 1);
      rep.state = ReplyState.ANCHORED;
      d.unwritten++;
      const at = d.seen ? d.maxEnd : rep.seq0;
      rep.at = at;
      const r = d.rel(at);
      const k = d.countBefore(r, true);
      d.edits.splice(k, 0, { at, removed: 0, reply: rep });
      d.sums(k);
    }
    const t = d.seen ? d.last : rep.template;
    const ack = o.seen ? o.map(o.maxEnd, false) : rep.ack0;
    this.emitReplySegments(rep, t.bytes, 0, t.layout, d, ack, rep.tsSec, rep.tsNsec);
  }

  /** Writes the replies a connection still holds (capture over, or forgotten). */
  private flushConn(conn: Conn): void {
    for (const d of conn.dirs) {
      while (d.pending.length > 0) this.writeStandaloneReply(d.pending[0]!);
      if (d.unwritten > 0) {
        for (const e of d.edits) if (e.reply !== null && e.reply.state === ReplyState.ANCHORED) this.writeStandaloneReply(e.reply);
      }
    }
  }

  /**
   * One TCP segment: headers hdr[hdrStart, hdrStart + lay.payload) then `capLen` payload bytes
   * from payload[payOff] (`wireLen` on the wire); sequence, acknowledgement and flags set, SACK
   * blocks mapped through `sackDir` (the acknowledged direction), lengths and checksums fixed.
   */
  private writeTcp(
    hdr: Uint8Array,
    hdrStart: number,
    lay: Layout,
    seq: number,
    ack: number,
    flags: number,
    payload: Uint8Array,
    payOff: number,
    capLen: number,
    wireLen: number,
    tsSec: number,
    tsNsec: number,
    sackDir: Direction | null,
  ): void {
    const out = this.out;
    const h = lay.payload;
    out.set(hdr.subarray(hdrStart, hdrStart + h), 0);
    if (capLen > 0) out.set(payload.subarray(payOff, payOff + capLen), h);
    const l4 = lay.l4;
    put32(out, l4 + 4, seq);
    put32(out, l4 + 8, (flags & ACK) !== 0 ? ack : 0);
    out[l4 + 13] = flags & 0xff;
    out[l4 + 12] = (out[l4 + 12]! & 0xfe) | ((flags >> 8) & 1);
    if (sackDir !== null) mapSack(out, l4 + 20, h, sackDir);
    this.finish(lay, h + capLen, h + wireLen, PROTO_TCP, l4 + 16);
    this.encoder!.writeRecord(out, 0, h + capLen, h + wireLen, tsSec, tsNsec);
    this.stats.written++;
  }

  /** A datagram reply: in place of the current frame (`inPlace`), or the request's headers turned around. */
  private writeDatagramReply(rep: Reply, inPlace: boolean): void {
    const frame = this.frame;
    let hdr: Uint8Array;
    let start: number;
    let lay: Layout;
    let tsSec = rep.tsSec;
    let tsNsec = rep.tsNsec;
    if (inPlace && frame !== undefined) {
      hdr = frame.data;
      start = frame.offset;
      lay = this.layout;
      tsSec = frame.tsSec;
      tsNsec = frame.tsNsec;
    } else {
      hdr = rep.template.bytes;
      start = 0;
      lay = rep.template.layout;
    }
    const out = this.out;
    const h = lay.payload;
    out.set(hdr.subarray(start, start + h), 0);
    out.set(rep.bytes, h);
    const total = h + rep.bytes.length;
    put16(out, lay.l4 + 4, total - lay.l4);
    this.finish(lay, total, total, PROTO_UDP, lay.l4 + 6);
    this.encoder!.writeRecord(out, 0, total, total, tsSec, tsNsec);
    rep.state = ReplyState.DONE;
    this.replies.delete(rep.id);
    this.stats.written++;
    this.stats.replies++;
  }

  /** Datagram replies that waited long enough for an answer to replace are written. */
  private expireDatagramReplies(tsSec: number, tsNsec: number): void {
    const q = this.datagramReplies;
    while (this.datagramHead < q.length) {
      const r = q[this.datagramHead]!;
      if (r.state === ReplyState.PENDING) {
        const waited = (tsSec - r.tsSec) * 1e9 + (tsNsec - r.tsNsec);
        if (waited < this.options.datagramReplyWaitNs) break;
        this.writeDatagramReply(r, false);
      }
      this.datagramHead++;
    }
    if (this.datagramHead > 1024 && this.datagramHead * 2 > q.length) {
      this.datagramReplies = q.slice(this.datagramHead);
      this.datagramHead = 0;
    }
  }

  /**
   * Lengths and checksums of the frame in `out`: `caplen` bytes present, `wireLen` on the wire.
   * Inner IP length and header checksum, transport checksum (when every byte is present), then
   * the overlay's outer IP and UDP.
   */
  private finish(lay: Layout, caplen: number, wireLen: number, proto: number, csumAt: number): void {
    const out = this.out;
    const l3 = lay.l3;
    const ipLen = wireLen - l3;
    if (lay.ipVersion === 4) {
      put16(out, l3 + 2, ipLen);
      setIpv4HeaderChecksum(out, l3);
    } else {
      put16(out, l3 + 4, ipLen - 40);
    }
    const complete = caplen === wireLen;
    if (complete) {
      const l4len = wireLen - lay.l4;
      const old = get16(out, csumAt);
      if (!(proto === PROTO_UDP && lay.ipVersion === 4 && old === 0)) {
        put16(out, csumAt, 0);
        let c = internetChecksum(out, lay.l4, wireLen, pseudoHeaderSum(out, l3, lay.ipVersion, proto, l4len));
        if (proto === PROTO_UDP && c === 0) c = 0xffff;
        put16(out, csumAt, c);
      }
    }
    if (lay.outerIp >= 0) {
      const oip = lay.outerIp;
      const oudp = lay.outerUdp;
      if (lay.outerIpVersion === 4) {
        put16(out, oip + 2, wireLen - oip);
        setIpv4HeaderChecksum(out, oip);
      } else {
        put16(out, oip + 4, wireLen - oip - 40);
      }
      put16(out, oudp + 4, wireLen - oudp);
      const old = get16(out, oudp + 6);
      if (complete && !(lay.outerIpVersion === 4 && old === 0)) {
        put16(out, oudp + 6, 0);
        let c = internetChecksum(out, oudp, wireLen, pseudoHeaderSum(out, oip, lay.outerIpVersion, PROTO_UDP, wireLen - oudp));
        if (c === 0) c = 0xffff;
        put16(out, oudp + 6, c);
      }
    }
  }

  /** Whether the original of the current duplicate was dropped. */
  private wasDropped(): boolean {
    const h = this.identity;
    return h !== 0 && this.droppedHashes[h & (DROPPED_SLOTS - 1)] === h;
  }
}

/** SACK blocks (option 5) of the TCP options in out[from, to) mapped through `d`; NOPs if one collapses. */
function mapSack(out: Uint8Array, from: number, to: number, d: Direction): void {
  if (d.edits.length === 0) return;
  for (let i = from; i < to; ) {
    const kind = out[i]!;
    if (kind === 0) return;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = out[i + 1]!;
    if (len < 2 || i + len > to) return;
    if (kind === 5) {
      let ok = true;
      for (let b = i + 2; b + 8 <= i + len; b += 8) {
        const left = d.map(get32(out, b), false);
        const right = d.map(get32(out, b + 4), false);
        if (((right - left) | 0) <= 0) ok = false;
        put32(out, b, left);
        put32(out, b + 4, right);
      }
      if (!ok) out.fill(1, i, i + len);
    }
    i += len;
  }
}

function readWords4(d: Uint8Array, at: number, w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0xffff;
  w[3] = get32(d, at);
}

function readWords16(d: Uint8Array, at: number, w: Uint32Array): void {
  for (let i = 0; i < 4; i++) w[i] = get32(d, at + 4 * i);
}

function sameWords(a: Uint32Array, from: number, b: Uint32Array): boolean {
  return a[from] === b[0] && a[from + 1] === b[1] && a[from + 2] === b[2] && a[from + 3] === b[3];
}

function sideHash(w: Uint32Array, port: number): number {
  let h = Math.imul(w[0]! ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ w[1]!, 0xc2b2ae35);
  h = Math.imul(h ^ w[2]!, 0x85ebca6b);
  h = Math.imul(h ^ w[3]!, 0xc2b2ae35);
  h = Math.imul(h ^ port, 0x27d4eb2f);
  return (h ^ (h >>> 15)) | 0;
}

/**
 * What identifies a packet among its copies (the fields the datapath's duplicate suppression
 * compares, src/datapath/dedup.ts): never 0.
 */
function identityHash(p: EnforcedPacketView): number {
  let h = 0x2545f491 ^ p.ipVersion;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ p.src[i]!, 0x01000193);
    h = Math.imul(h ^ p.dst[i]!, 0x01000193);
  }
  h = Math.imul(h ^ p.ipProto ^ (p.ipId << 8), 0x01000193);
  h = Math.imul(h ^ p.ipLength ^ (p.fragOffset << 16), 0x01000193);
  h = Math.imul(h ^ ((p.sport << 16) | p.dport), 0x01000193);
  h = Math.imul(h ^ p.tcpSeq, 0x01000193);
  h = Math.imul(h ^ p.tcpAck, 0x01000193);
  h = Math.imul(h ^ p.tcpFlags ^ (p.icmpType << 12), 0x01000193);
  h = Math.imul(h ^ ((p.icmpId << 16) ^ p.icmpSeq), 0x01000193);
  h ^= h >>> 13;
  return h | 1;
}

