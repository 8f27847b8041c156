/**
 * Connection tracking: the table that tells the datapath whether a packet opens a connection,
 * continues one, or answers one.
 *
 * Mirrors: bpf/lib/conntrack.h (`ct_extract_ports4/6`, `__ct_lookup4/6` with SCOPE_BIDIR,
 * `__ct_lookup`, `ct_tcp_select_action`, `ct_update_timeout`, `__ct_update_timeout`,
 * `ct_entry_seen_both_syns`, `ct_create4/6` and its RELATED entry), bpf/lib/conntrack_map.h
 * (one LRU hash per family and kind: cilium_ct4_global / cilium_ct_any4_global and the IPv6
 * twins), bpf/node_config.h (CT_* lifetimes) and the agent's `--bpf-ct-global-tcp-max` (524288)
 * and `--bpf-ct-global-any-max` (262144), which size each family's tables.
 *
 * Semantics mirrored:
 *  - Lookup order (SCOPE_BIDIR): the reverse tuple first, so REPLY wins over ESTABLISHED when
 *    both could match; then the packet's own tuple.
 *  - Tuple: addresses, ports, next header. TCP, UDP and SCTP carry their ports. ICMP echo carries
 *    the identifier in a port slot: `ct_extract_ports4` writes it to `tuple->dport` for an echo
 *    request and `tuple->sport` for an echo reply, and Cilium's tuple stores ports swapped
 *    against the packet (`l4_load_ports` puts the packet's source port into `dport`; see the
 *    comment at `ipv4_ct_tuple_swap_ports`). In the packet's own terms, which CtTuple uses: a
 *    request is (sport = id, dport = 0), a reply (sport = 0, dport = id), so a reply is the
 *    reverse of its request. Other ICMP types have ports 0. ICMPv4 3, 11, 12 and ICMPv6 1..4
 *    are errors (TUPLE_F_RELATED, ports 0).
 *  - RELATED: `ct_create4/6` also writes an ICMP entry for the address pair (ports 0, flag
 *    RELATED) into the family's non-TCP table. An ICMP error finds the connection through that
 *    entry only: through its reverse (the error travels back to the originator) it is
 *    CT_RELATED; through its forward tuple `__ct_lookup4` returns CT_ESTABLISHED. These
 *    entries occupy the non-TCP table (and count in `anySize`) as they do in Cilium, last 60 s
 *    from their connection's creation (the copy's SYN/non-TCP lifetime), and are refreshed by
 *    the errors that hit them.
 *  - Timers (`ct_update_timeout`): every packet of a live entry sets expiry = now + lifetime:
 *    TCP 21600 s (CT_CONNECTION_LIFETIME_TCP) once a packet without SYN was seen (seen_non_syn),
 *    60 s (CT_SYN_TIMEOUT) before that; non-TCP 60 s (CT_CONNECTION_LIFETIME_NONTCP).
 *  - Closing (`__ct_lookup`, ACTION_CLOSE on FIN or RST): the packet's direction is marked
 *    closing; an RST before both SYNs were seen closes both. Once both directions are closing
 *    the entry is dead: its expiry becomes now + 10 s (CT_CLOSE_TIMEOUT) and later packets no
 *    longer refresh it. A SYN without FIN/RST (ACTION_CREATE) on a closing entry reopens: the
 *    old entry is reset and the lookup answers "new", so the datapath creates a fresh one.
 *  - Creation (`ct_create4`): the creating packet is accounted (packets = 1), and for TCP the
 *    entry records a SYN whatever the packet's flags (so it starts in the SYN timeout).
 *  - Eviction: least recently used, per table; lookups and updates count as use (the kernel's
 *    BPF LRU is itself approximate: per-CPU lists and reference bits, kernel/bpf/bpf_lru_list.c).
 *
 * Deliberate differences:
 *  - One entry per connection. Cilium may hold two for a pod-to-pod connection on one node (the
 *    client's egress entry and the server's ingress entry, TUPLE_F_OUT / TUPLE_F_IN); a capture
 *    sees both ends, so hubcap keeps one. tx = the forward direction (the originator's packets),
 *    rx = replies.
 *  - Expiry is exact: an entry is gone once the capture clock passes its expiry, as if Cilium's
 *    conntrack GC ran continuously (the kernel never checks lifetimes; the agent's GC deletes
 *    expired entries at intervals). Expired entries leave when looked up, when they reach the
 *    LRU end (then counted in `expired`, not `evictions`), or on `gc()`.
 *  - Accounting keeps tx/rx packets and bytes (older CONNTRACK_ACCOUNTING), always on.
 *  - Recency has a resolution (`lruResolutionSec`, 1 s of capture time): a key used again within
 *    it of its last refresh keeps its LRU place, which saves the store's four random link writes
 *    on most packets; 0 makes the order exact.
 *  - The LRU order only decides evictions, and a table below its max never evicts: until a table
 *    is first full, each use stamps the key's chain head with a per-table counter instead of
 *    moving the key in an LRUCache, and the LRUCache is built from the stamps (oldest first) when
 *    the first eviction needs it, in exactly the order eager updates would have left; from then
 *    on it is kept up to date. A replay that never fills its tables never pays for recency.
 *  - Times are capture seconds, kept at 1 ms resolution (Cilium: whole seconds of
 *    bpf_mono_now()).
 *
 * Layout: per table a 31-bit hash of the tuple in a canonical order (the lower endpoint first)
 * is the key, so a connection's two directions share it and a lookup costs one probe. A `Map`
 * from key to entry is the index every probe reads; an `LRUCache` of the keys keeps their
 * recency and picks the evictions once the table is full (a probe through LRUCache itself cost
 * twice a Map's, measured; see above for the stamps it starts from).
 * The full tuple lives in the entry and is compared on every hit; entries whose keys collide
 * are chained through `next` and leave the LRU together. 31 bits,
 * not 52: a key must be a Smi, or every Map probe boxes it into a heap number (an allocation
 * per packet, and slower; both measured); with chaining, collisions (about 140 pairs in a full
 * 786k-entry family) cost nothing but a longer walk. Tables start small and grow, since
 * LRUCache allocates its arrays for `max` up front.
 * Allocation: one CtEntry per connection (plus one per new address pair for RELATED), never per
 * packet.
 */

import { LRUCache } from 'lru-cache';
import { murmur3Finish, murmur3Round, xxhashRound } from '../net/hash.js';

/** Which way a packet travels relative to its connection's entry. */
export const CtDir = { FORWARD: 0, REPLY: 1 } as const;

/** `--bpf-ct-global-tcp-max`: entries of each family's TCP table. */
export const DEFAULT_CT_TCP_MAX = 524_288;
/** `--bpf-ct-global-any-max`: entries of each family's non-TCP table. */
export const DEFAULT_CT_ANY_MAX = 262_144;

/** bpf/node_config.h defaults, in seconds. */
export const CT_CONNECTION_LIFETIME_TCP = 21_600;
export const CT_CONNECTION_LIFETIME_NONTCP = 60;
export const CT_SYN_TIMEOUT = 60;
export const CT_CLOSE_TIMEOUT = 10;
/** How often an active connection is reported again under monitor aggregation. */
export const CT_REPORT_INTERVAL = 5;
/** `--monitor-aggregation-flags` default (all): TCP flags that trigger a report when new. */
export const CT_REPORT_FLAGS = 0xff;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;

/**
 * The packet fields conntrack reads: a structural view of decode's DecodedPacket, so that maps
 * (below decode in the pipeline) does not import it.
 */
export interface CtPacketView {
  ipVersion: number;
  readonly src: Uint32Array;
  readonly dst: Uint32Array;
  ipProto: number;
  hasPorts: boolean;
  sport: number;
  dport: number;
  icmpType: number;
  icmpId: number;
  hasIcmpInner: boolean;
  icmpInnerProto: number;
  readonly icmpInnerSrc: Uint32Array;
  readonly icmpInnerDst: Uint32Array;
  icmpInnerSport: number;
  icmpInnerDport: number;
}

/**
 * ICMP types `ct_extract_ports4/6` flag TUPLE_F_RELATED: ICMPv4 destination unreachable (3),
 * time exceeded (11), parameter problem (12); ICMPv6 destination unreachable (1), packet too
 * big (2), time exceeded (3), parameter problem (4). Source quench and redirect are not among
 * them: Cilium tracks those as ordinary ICMP with ports 0.
 */
export function isCtRelatedIcmp(family: number, type: number): boolean {
  return family === 6 ? type >= 1 && type <= 4 : type === 3 || type === 11 || type === 12;
}

/**
 * Whether `ct_extract_ports4/6` knows the protocol. For any other next header `ct_lookup4/6`
 * returns DROP_CT_UNKNOWN_PROTO (137). SCTP only when Cilium runs with `--enable-sctp`.
 */
export function isCtProto(family: number, proto: number, sctp = false): boolean {
  if (proto === PROTO_TCP || proto === PROTO_UDP) return true;
  if (proto === PROTO_SCTP) return sctp;
  return family === 6 ? proto === PROTO_ICMPV6 : proto === PROTO_ICMP;
}

/** A connection tuple in the packet's own terms (see the module comment for ICMP). */
export class CtTuple {
  /** 4 or 6. */
  family = 4;
  /** Four words each, network order, IPv4 as IPv4-mapped (as in DecodedPacket). */
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  sport = 0;
  dport = 0;
  proto = 0;
  /** An ICMP error (TUPLE_F_RELATED): conntrack relates it through the address pair. */
  related = false;
  /** For an ICMP error that quoted a packet: `inner` holds the quoted packet's tuple. */
  hasInner = false;
  private innerTuple: CtTuple | null = null;

  /** The quoted packet's tuple of an ICMP error (allocated once, on first use). */
  get inner(): CtTuple {
    return this.innerTuple ?? (this.innerTuple = new CtTuple());
  }

  /**
   * The tuple of a decoded packet, as `ct_extract_ports4/6` builds it. Ports of a TCP/UDP/SCTP
   * packet without them (a later fragment) are 0 unless the fragment tracker filled them in.
   * An ICMP error also gets its quoted tuple into `inner` (when the decoder found one).
   */
  setFromPacket(p: CtPacketView): this {
    this.family = p.ipVersion === 6 ? 6 : 4;
    copy4(this.src, p.src);
    copy4(this.dst, p.dst);
    const proto = p.ipProto;
    this.proto = proto;
    this.related = false;
    this.hasInner = false;
    this.sport = 0;
    this.dport = 0;
    if (proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP) {
      if (p.hasPorts) {
        this.sport = p.sport;
        this.dport = p.dport;
      }
    } else if (proto === (this.family === 6 ? PROTO_ICMPV6 : PROTO_ICMP)) {
      const type = p.icmpType;
      const id = p.icmpId < 0 ? 0 : p.icmpId;
      if (this.family === 6 ? type === 128 : type === 8) this.sport = id; // echo request
      else if (this.family === 6 ? type === 129 : type === 0) this.dport = id; // echo reply
      else if (isCtRelatedIcmp(this.family, type)) {
        this.related = true;
        if (p.hasIcmpInner) {
          this.inner.setFromIcmpInner(p);
          this.hasInner = true;
        }
      }
    }
    return this;
  }

  /**
   * The tuple of the packet an ICMP error quotes. The decoder stores a quoted echo's
   * identifier under Cilium's tuple field names (request: icmpInnerDport, reply:
   * icmpInnerSport), which are swapped against the packet's own terms, so they are swapped
   * back here; TCP/UDP/SCTP quotes carry the packet's ports as they are.
   */
  setFromIcmpInner(p: CtPacketView): this {
    this.family = p.ipVersion === 6 ? 6 : 4;
    copy4(this.src, p.icmpInnerSrc);
    copy4(this.dst, p.icmpInnerDst);
    const proto = p.icmpInnerProto;
    this.proto = proto;
    this.related = false;
    this.hasInner = false;
    if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      this.sport = p.icmpInnerDport;
      this.dport = p.icmpInnerSport;
    } else {
      this.sport = p.icmpInnerSport;
      this.dport = p.icmpInnerDport;
    }
    return this;
  }

  /** Explicit values; addresses are four words (IPv4-mapped for family 4). */
  set(family: 4 | 6, src: ArrayLike<number>, dst: ArrayLike<number>, sport: number, dport: number, proto: number): this {
    this.family = family;
    copy4(this.src, src);
    copy4(this.dst, dst);
    this.sport = sport;
    this.dport = dport;
    this.proto = proto;
    this.related = false;
    this.hasInner = false;
    return this;
  }

  copyFrom(t: CtTuple): this {
    this.family = t.family;
    copy4(this.src, t.src);
    copy4(this.dst, t.dst);
    this.sport = t.sport;
    this.dport = t.dport;
    this.proto = t.proto;
    this.related = t.related;
    this.hasInner = t.hasInner;
    if (t.hasInner) this.inner.copyFrom(t.inner);
    return this;
  }

  /** Writes the other direction's tuple into `out` (addresses and ports swapped) and returns it. */
  reverse(out: CtTuple): CtTuple {
    out.family = this.family;
    const s0 = this.src[0]!;
    const s1 = this.src[1]!;
    const s2 = this.src[2]!;
    const s3 = this.src[3]!;
    copy4(out.src, this.dst);
    out.dst[0] = s0;
    out.dst[1] = s1;
    out.dst[2] = s2;
    out.dst[3] = s3;
    const sp = this.sport;
    out.sport = this.dport;
    out.dport = sp;
    out.proto = this.proto;
    out.related = this.related;
    out.hasInner = false;
    return out;
  }

  equals(t: CtTuple): boolean {
    return sameTuple(this, t);
  }
}

export class CtEntry {
  // Field order is the memory order: what every probe and every touch reads comes first, so a
  // hit costs two or three cache lines: the tuple's four words that differ most, the chain, the
  // timers the lookup checks and the datapath's fields, then what touch updates. Booleans and
  // the per-direction flags share one Smi (`bits`), and the tuple's upper address words are not
  // kept at all for IPv4 (they are the IPv4-mapped prefix). No typed arrays unless asked for
  // (`tuple`, `origDst` are built on first use): a Uint32Array costs ~150 bytes and a pointer chase.

  // --- hot: compared on every probe. The tuple as int32 words (Smi fields).
  /** @internal sport << 16 | dport */ kPorts = 0;
  /** @internal */ kSrc3 = 0;
  /** @internal */ kDst3 = 0;
  /** @internal family | proto << 8 */ kHead = 0;
  /**
   * @internal Words 0..2 of the source then of the destination address, or null when both are
   * IPv4-mapped (0, 0, 0xffff): every IPv4 connection.
   */
  kUpper: Int32Array | null = null;
  /** Next entry under the same hash key. */
  next: CtEntry | null = null;
  /** For a RELATED address-pair entry: the connection it relates to (itself when an ICMP
   * error created it); null for a connection entry. */
  conn: CtEntry | null = null;
  // Times are integer milliseconds from the table's epoch (Conntrack.ms): Smi fields, where a
  // fractional second would be a boxed heap number and one more cache miss per packet.
  /** @internal After this the entry is gone (conntrack.h `lifetime`). */
  expMs = 0;
  /** @internal When the LRU position of this entry's key was last refreshed (head of a chain). */
  usedMs = NEVER;
  /** Free for the datapath. */
  user0 = 0;
  user1 = 0;
  /**
   * Free for the datapath, which keeps what it derived for the connection here (as Cilium's
   * ct_entry carries `src_sec_id`): program.ts stores the endpoints at both ends and their
   * identities, stamped with the map generation they were derived at.
   */
  userGen = -1;
  userSrcEndpoint = -1;
  userDstEndpoint = -1;
  userSrcIdentity = 0;
  userDstIdentity = 0;
  /** Monotonic connection number, from 1 (0 for RELATED address-pair entries). */
  id = 0;
  /** L7 proxy port the connection is redirected to (conntrack.h proxy_redirect), 0 none. */
  proxyPort = 0;

  // --- hot: written for every packet by touch.
  /** @internal */
  seenMs = 0;
  /** @internal BIT_* flags, and the TCP flags seen per direction (bits 8..15 tx, 16..23 rx). */
  bits = 0;
  /** @internal Last monitor report per direction (last_tx_report / last_rx_report). */
  txReportMs = NEVER;
  /** @internal */
  rxReportMs = NEVER;
  txPackets = 0;
  rxPackets = 0;
  txBytes = 0;
  rxBytes = 0;

  // --- cold
  /** @internal Before the table's LRUCache exists: the table's use counter at that refresh. */
  lruSeq = 0;
  /** LRU key while in a table. */
  key = 0;
  /** @internal */
  createdMs = 0;
  /** @internal The capture second the ms fields count from. */
  epochSec = 0;
  /** Service translation: frontend index (rev_nat_index), -1 none. */
  revNat = -1;
  origDport = 0;
  private tupleObj: CtTuple | null = null;
  private origDstWords: Uint32Array | null = null;

  /** OR of the TCP flags seen per direction (tx_flags_seen / rx_flags_seen). */
  get txFlagsSeen(): number {
    return (this.bits >>> 8) & 0xff;
  }
  set txFlagsSeen(v: number) {
    this.bits = (this.bits & ~0xff00) | ((v & 0xff) << 8);
  }
  get rxFlagsSeen(): number {
    return (this.bits >>> 16) & 0xff;
  }
  set rxFlagsSeen(v: number) {
    this.bits = (this.bits & ~0xff0000) | ((v & 0xff) << 16);
  }
  /** FIN or RST seen per direction (tx_closing / rx_closing). */
  get txClosing(): boolean {
    return (this.bits & BIT_TX_CLOSING) !== 0;
  }
  set txClosing(v: boolean) {
    this.setBit(BIT_TX_CLOSING, v);
  }
  get rxClosing(): boolean {
    return (this.bits & BIT_RX_CLOSING) !== 0;
  }
  set rxClosing(v: boolean) {
    this.setBit(BIT_RX_CLOSING, v);
  }
  /** A TCP packet without SYN was seen: the established lifetime applies (seen_non_syn). */
  get seenNonSyn(): boolean {
    return (this.bits & BIT_SEEN_NON_SYN) !== 0;
  }
  set seenNonSyn(v: boolean) {
    this.setBit(BIT_SEEN_NON_SYN, v);
  }
  get seenReply(): boolean {
    return (this.bits & BIT_SEEN_REPLY) !== 0;
  }
  set seenReply(v: boolean) {
    this.setBit(BIT_SEEN_REPLY, v);
  }
  /** Created and its creating packet not yet accounted (the next `touch`). */
  get creating(): boolean {
    return (this.bits & BIT_CREATING) !== 0;
  }
  set creating(v: boolean) {
    this.setBit(BIT_CREATING, v);
  }
  /** In a table (tracked). */
  get inTable(): boolean {
    return (this.bits & BIT_IN_TABLE) !== 0;
  }
  set inTable(v: boolean) {
    this.setBit(BIT_IN_TABLE, v);
  }
  /** Table index while in a table (conntrack_map.h: TCP or non-TCP, per family). */
  get table(): number {
    return tableIndex(this.kHead & 0xff, this.kHead >>> 8);
  }

  private setBit(bit: number, v: boolean): void {
    this.bits = v ? this.bits | bit : this.bits & ~bit;
  }

  /** The tuple as created (the forward direction). Built on first use; do not modify it. */
  get tuple(): CtTuple {
    let t = this.tupleObj;
    if (t === null) {
      t = new CtTuple();
      t.family = this.kHead & 0xff;
      t.proto = this.kHead >>> 8;
      t.sport = this.kPorts >>> 16;
      t.dport = this.kPorts & 0xffff;
      const u = this.kUpper;
      t.src[0] = u === null ? 0 : u[0]!;
      t.src[1] = u === null ? 0 : u[1]!;
      t.src[2] = u === null ? 0xffff : u[2]!;
      t.src[3] = this.kSrc3;
      t.dst[0] = u === null ? 0 : u[3]!;
      t.dst[1] = u === null ? 0 : u[4]!;
      t.dst[2] = u === null ? 0xffff : u[5]!;
      t.dst[3] = this.kDst3;
      t.related = this.conn !== null;
      this.tupleObj = t;
    }
    return t;
  }

  /** Original destination (four words) before service translation; built on first use. */
  get origDst(): Uint32Array {
    return this.origDstWords ?? (this.origDstWords = new Uint32Array(4));
  }

  /** Capture time (seconds, 1 ms resolution) after which the entry is gone (`lifetime`). */
  get expiresSec(): number {
    return this.epochSec + this.expMs / 1000;
  }

  /** Capture time of the last packet accounted. */
  get lastSeenSec(): number {
    return this.epochSec + this.seenMs / 1000;
  }

  /** Capture time the entry was created. */
  get createdSec(): number {
    return this.epochSec + this.createdMs / 1000;
  }

  /** IP protocol of the connection. */
  get proto(): number {
    return this.kHead >>> 8;
  }

  /** @internal Sets the tuple words (the tuple object is rebuilt on next use). */
  setKey(t: CtTuple): void {
    this.kHead = t.family | (t.proto << 8);
    this.kPorts = (t.sport << 16) | t.dport;
    this.kSrc3 = t.src[3]! | 0;
    this.kDst3 = t.dst[3]! | 0;
    const a = t.src;
    const b = t.dst;
    this.kUpper = isMapped(a, b) ? null : Int32Array.of(a[0]!, a[1]!, a[2]!, b[0]!, b[1]!, b[2]!);
    this.tupleObj = null;
  }

  /** Either direction saw FIN or RST (conntrack.h ct_entry_closing). */
  get closing(): boolean {
    return this.txClosing || this.rxClosing;
  }

  /** Not both directions closing (conntrack.h ct_entry_alive). */
  get alive(): boolean {
    return !(this.txClosing && this.rxClosing);
  }
}

export interface ConntrackOptions {
  /** Entries per family's TCP table (`--bpf-ct-global-tcp-max`). */
  tcpMax?: number;
  /** Entries per family's non-TCP table (`--bpf-ct-global-any-max`). */
  anyMax?: number;
  /**
   * @internal Bits of the hash key: 31 (default), fewer in tests to force collisions and
   * exercise chaining, or 52 (heap-number keys) for comparison in benchmarks.
   */
  hashBits?: number;
  /**
   * LRU recency resolution in capture seconds: a key used again within this time of its last
   * refresh keeps its place (0 = refresh on every use). Default DEFAULT_LRU_RESOLUTION_SEC.
   */
  lruResolutionSec?: number;
  /**
   * @internal Tests only: keep every table's LRUCache from its creation instead of building it
   * from the use stamps at the first eviction (the two must evict alike).
   */
  eagerLru?: boolean;
}

/** "Never" for ms fields: a Smi far below any time the tables see. */
const NEVER = -0x40000000;

/** See ConntrackOptions.lruResolutionSec. */
export const DEFAULT_LRU_RESOLUTION_SEC = 1;

/** CtEntry.bits. */
const BIT_TX_CLOSING = 1;
const BIT_RX_CLOSING = 2;
const BIT_SEEN_NON_SYN = 4;
const BIT_SEEN_REPLY = 8;
const BIT_CREATING = 16;
const BIT_IN_TABLE = 32;

/** Table indexes: TCP and non-TCP, per family (conntrack_map.h `get_ct_map4/6`). */
const TCP4 = 0;
const ANY4 = 1;
const TCP6 = 2;
const ANY6 = 3;

function tableIndex(family: number, proto: number): number {
  return (family === 6 ? TCP6 : TCP4) + (proto === PROTO_TCP ? 0 : 1);
}

/** One reusable options object: lru-cache writes `status` into it and would allocate a default. */
const LRU_OPTS = {};

interface CtTable {
  /** Key -> first entry of its chain: the index every probe reads. */
  readonly index: Map<number, CtEntry>;
  /**
   * The recency order and eviction of the keys (values are the keys themselves), built when the
   * table first evicts (null before: the chain heads carry `lruSeq` stamps instead).
   */
  lru: LRUCache<number, number> | null;
  /** The last `lruSeq` stamped. */
  seq: number;
  readonly max: number;
  count: number;
}

/** Stamps stay Smis: past this the live heads are renumbered 1..n (same order). */
const SEQ_LIMIT = 0x3fffffff;

export class Conntrack {
  readonly tcpMax: number;
  readonly anyMax: number;
  /** Direction of the last successful lookup (CtDir). */
  lastDir: number = CtDir.FORWARD;
  /** The last lookup found the entry through a RELATED address-pair entry (an ICMP error). */
  lastRelated = false;

  private readonly tables: Array<CtTable | null> = [null, null, null, null];
  private readonly keyMask: number;
  private readonly lruResolution: number;
  private readonly eagerLru: boolean;
  private nextId = 1;
  private evictionCount = 0;
  private expiredCount = 0;
  private relatedCount = 0;
  private readonly scratch = new CtTuple();
  /** The capture second times count from (ms fields); set by the first time seen. */
  private epochSec = NaN;

  constructor(options: ConntrackOptions = {}) {
    this.tcpMax = checkMax('tcpMax', options.tcpMax ?? DEFAULT_CT_TCP_MAX);
    this.anyMax = checkMax('anyMax', options.anyMax ?? DEFAULT_CT_ANY_MAX);
    const bits = options.hashBits ?? 31;
    if (!Number.isInteger(bits) || bits < 1 || (bits > 31 && bits !== 52)) {
      throw new RangeError(`conntrack: hashBits ${bits} is not 1..31 or 52`);
    }
    this.keyMask = bits === 52 ? 0 : 2 ** bits - 1;
    const res = options.lruResolutionSec ?? DEFAULT_LRU_RESOLUTION_SEC;
    if (!(res >= 0) || !Number.isFinite(res)) throw new RangeError(`conntrack: lruResolutionSec ${res} is not a finite non-negative number`);
    this.lruResolution = Math.round(res * 1000);
    this.eagerLru = options.eagerLru === true;
  }

  /** Entries in all tables, RELATED address-pair entries included. */
  get size(): number {
    let n = 0;
    for (const t of this.tables) if (t) n += t.count;
    return n;
  }
  get tcpSize(): number {
    return (this.tables[TCP4]?.count ?? 0) + (this.tables[TCP6]?.count ?? 0);
  }
  /** Entries of the non-TCP tables, RELATED address-pair entries included (as in Cilium). */
  get anySize(): number {
    return (this.tables[ANY4]?.count ?? 0) + (this.tables[ANY6]?.count ?? 0);
  }
  /** RELATED address-pair entries (part of `anySize`). */
  get relatedSize(): number {
    return this.relatedCount;
  }
  /** Live entries pushed out because their table was full. */
  get evictions(): number {
    return this.evictionCount;
  }
  /** Entries removed because they had expired (found on lookup, at the LRU end, or by gc). */
  get expired(): number {
    return this.expiredCount;
  }

  /**
   * Finds the entry of this packet's connection, in either direction; null if none, expired
   * at `nowSec`, or reopened. Sets `lastDir` (REPLY when the packet matches the reverse of the
   * entry's tuple, which is tried first as in SCOPE_BIDIR; FORWARD when it matches the tuple)
   * and `lastRelated`. Does NOT update the entry's timers or counters (call `touch`).
   *
   * `tcpFlags`: a SYN without FIN/RST that finds a closing entry reopens it as Cilium does
   * (ACTION_CREATE in `__ct_lookup`: the old entry is reset and the answer is "new"), so pass
   * the packet's flags.
   *
   * An ICMP error tuple (`t.related`) is looked up as Cilium does, through the RELATED entry of
   * its address pair: found through the pair's reverse (the error goes back to the originator)
   * it sets lastDir REPLY (CT_RELATED); through its forward tuple, lastDir FORWARD (Cilium's
   * CT_ESTABLISHED, policy applies). The answer is the quoted connection when `t.hasInner` and
   * it is still tracked, else the last connection created between the two addresses. Such a
   * hit refreshes the RELATED entry itself (Cilium updates that entry, not the connection's),
   * so do not `touch` the returned entry for an ICMP error.
   */
  lookup(t: CtTuple, nowSec: number, tcpFlags = 0): CtEntry | null {
    return this.lookupMs(t, this.ms(nowSec), tcpFlags);
  }

  /**
   * The table clock of a capture time `tsSec` + `tsNsec`: integer milliseconds from the epoch,
   * exactly what the methods taking seconds compute from `tsSec + tsNsec / 1e9`. For the `*Ms`
   * methods: a fractional second passed to a call V8 does not inline is boxed into a heap number,
   * an allocation per packet; this Smi is not.
   */
  clockMs(tsSec: number, tsNsec: number): number {
    return this.ms(tsSec + tsNsec / 1e9);
  }

  /** `lookup` at table clock `now` (`clockMs`). */
  lookupMs(t: CtTuple, now: number, tcpFlags = 0): CtEntry | null {
    this.lastDir = CtDir.FORWARD;
    this.lastRelated = false;
    if (t.related) return this.lookupPair(t, now);
    const tab = this.tables[tableIndex(t.family, t.proto)];
    if (!tab) return null;
    let e: CtEntry | null | undefined = this.probe(tab, this.key(t, 0), now);
    let rev: CtEntry | null = null;
    let fwd: CtEntry | null = null;
    while (e !== undefined && e !== null) {
      const next: CtEntry | null = e.next;
      if (e.conn === null) {
        if (now > e.expMs) this.expire(tab, e);
        else if (rev === null && isReverse(e, t)) rev = e;
        else if (fwd === null && isTuple(e, t)) fwd = e;
      }
      e = next;
    }
    // ct_tcp_select_action: FIN/RST close (and win over SYN); a SYN alone may reopen.
    const reopen = t.proto === PROTO_TCP && (tcpFlags & (TCP_FIN | TCP_RST)) === 0 && (tcpFlags & TCP_SYN) !== 0;
    if (rev !== null) {
      if (!(reopen && rev.closing)) {
        this.lastDir = CtDir.REPLY;
        return rev;
      }
      this.reopen(rev, CtDir.REPLY, tcpFlags, now);
    }
    if (fwd !== null) {
      if (!(reopen && fwd.closing)) return fwd;
      this.reopen(fwd, CtDir.FORWARD, tcpFlags, now);
    }
    return null;
  }

  /**
   * hubcap's precise relation for an ICMP error: the connection of the quoted (inner) tuple,
   * in either direction. lastDir is REPLY when the quoted packet travelled in the connection's
   * forward direction (so the error goes back to the originator: Cilium's CT_RELATED), FORWARD
   * otherwise; lastRelated is true when found. Cilium itself relates errors by address pair
   * only, which is what `lookup` does with the error's own tuple; this method names the exact
   * connection and changes no timer and no LRU position.
   */
  lookupRelated(inner: CtTuple, nowSec: number): CtEntry | null {
    this.lastDir = CtDir.FORWARD;
    this.lastRelated = false;
    const e = this.findConn(inner, this.ms(nowSec));
    if (e === null) return null;
    this.lastRelated = true;
    // findConn left the quoted packet's own direction in lastDir; the error travels the other way.
    this.lastDir = this.lastDir === CtDir.FORWARD ? CtDir.REPLY : CtDir.FORWARD;
    return e;
  }

  /**
   * Creates the entry of a new connection (forward = this tuple), replacing an entry with the
   * same forward tuple (map_update_elem), and the RELATED entry of its address pair. The next
   * `touch` of the entry is taken as its creating packet and only accounted: `ct_create4`
   * counts it and records a SYN for TCP whatever its flags (so a capture that starts
   * mid-connection gets the SYN timeout until the next packet, as in Cilium).
   */
  create(t: CtTuple, nowSec: number): CtEntry {
    return this.createMs(t, this.ms(nowSec));
  }

  /** `create` at table clock `now` (`clockMs`). */
  createMs(t: CtTuple, now: number): CtEntry {
    if (t.related) {
      // An ICMP error that was not related to anything and was allowed: ct_create4 writes its
      // tuple, which is itself a RELATED pair key, so later errors between the two addresses
      // find it.
      const e = this.upsertPair(t, now, null);
      e.creating = true;
      return e;
    }
    const e = new CtEntry();
    e.id = this.nextId++;
    e.setKey(t);
    this.initTimers(e, now);
    e.creating = true;
    // ct_create4 writes the RELATED entry first, then the connection's.
    this.upsertPair(t, now, e);
    const ti = tableIndex(t.family, t.proto);
    const tab = this.table(ti);
    const key = this.key(t, 0);
    this.unlinkWhere(tab, key, t, false);
    this.makeRoom(tab, now);
    this.link(tab, ti, key, e, now);
    return e;
  }

  /**
   * Accounts a packet of `e` travelling in `dir` and advances its timeouts as
   * `__ct_lookup` / `ct_update_timeout` do (see the module comment); `flags` are the packet's
   * TCP flags (0 for other protocols), `bytes` its length. Returns true when Cilium's monitor
   * aggregation would report this packet (new flags in this direction, or CT_REPORT_INTERVAL
   * seconds since the last report, or closing).
   */
  touch(e: CtEntry, dir: number, flags: number, bytes: number, nowSec: number): boolean {
    return this.touchMs(e, dir, flags, bytes, this.ms(nowSec));
  }

  /** `touch` at table clock `now` (`clockMs`). */
  touchMs(e: CtEntry, dir: number, flags: number, bytes: number, now: number): boolean {
    e.seenMs = now;
    if (dir === CtDir.REPLY) {
      e.rxPackets++;
      e.rxBytes += bytes;
      e.seenReply = true;
    } else {
      e.txPackets++;
      e.txBytes += bytes;
    }
    if (e.creating) {
      // ct_create4 already set the timers and flags of the creating packet.
      e.creating = false;
      return true;
    }
    const tcp = e.kHead >>> 8 === PROTO_TCP;
    let report = false;
    if (e.alive) report = updateTimeout(e, tcp, dir, flags, now);
    if (tcp && (flags & (TCP_FIN | TCP_RST)) !== 0) {
      // ACTION_CLOSE.
      if ((flags & TCP_RST) !== 0 && !seenBothSyns(e)) {
        e.rxClosing = true;
        e.txClosing = true;
      } else if (dir === CtDir.REPLY) {
        e.rxClosing = true;
      } else {
        e.txClosing = true;
      }
      report = true;
      if (!e.alive) rawUpdateTimeout(e, CT_CLOSE_TIMEOUT * 1000, dir, flags, now);
    }
    return report;
  }

  /** Removes an entry (a connection or a RELATED entry); no-op when it is no longer tracked. */
  delete(e: CtEntry): void {
    if (!e.inTable) return;
    const tab = this.tables[e.table]!;
    this.unlink(tab, e);
  }

  /** Removes every expired entry (Cilium's conntrack GC pass); returns how many. */
  gc(nowSec: number): number {
    const now = this.ms(nowSec);
    const dead: CtEntry[] = [];
    for (const tab of this.tables) {
      if (!tab) continue;
      for (const head of tab.index.values()) {
        for (let e: CtEntry | null = head; e !== null; e = e.next) if (now > e.expMs) dead.push(e);
      }
    }
    for (const e of dead) this.expire(this.tables[e.table]!, e);
    return dead.length;
  }

  /** Empties every table and resets the counters (connection ids keep counting up). */
  clear(): void {
    for (let i = 0; i < this.tables.length; i++) {
      const tab = this.tables[i];
      if (!tab) continue;
      for (const head of tab.index.values()) {
        for (let e: CtEntry | null = head; e !== null; e = e.next) e.inTable = false;
      }
      tab.index.clear();
      tab.lru = this.eagerLru ? new LRUCache<number, number>({ max: tab.max }) : null;
      tab.seq = 0;
      tab.count = 0;
    }
    this.evictionCount = 0;
    this.expiredCount = 0;
    this.relatedCount = 0;
  }

  /** Every tracked entry (tests and dumps; allocates). */
  *entries(): IterableIterator<CtEntry> {
    for (const tab of this.tables) {
      if (!tab) continue;
      for (const head of [...tab.index.values()]) {
        for (let e: CtEntry | null = head; e !== null; e = e.next) yield e;
      }
    }
  }

  // --- internals

  /** The connection whose forward or reverse tuple is `t` (lastDir: FORWARD / REPLY), for ICMP errors. */
  private findConn(t: CtTuple, now: number): CtEntry | null {
    const tab = this.tables[tableIndex(t.family, t.proto)];
    if (!tab) return null;
    // A peek: an ICMP error does not use the connection's entry in Cilium (LRU order unchanged).
    let e: CtEntry | null | undefined = tab.index.get(this.key(t, 0));
    let fwd: CtEntry | null = null;
    while (e !== undefined && e !== null) {
      const next: CtEntry | null = e.next;
      if (e.conn === null) {
        if (now > e.expMs) this.expire(tab, e);
        else if (isReverse(e, t)) {
          this.lastDir = CtDir.REPLY;
          return e;
        } else if (fwd === null && isTuple(e, t)) fwd = e;
      }
      e = next;
    }
    this.lastDir = CtDir.FORWARD;
    return fwd;
  }

  /**
   * Capture seconds -> integer milliseconds from the epoch (the first second seen), rounded:
   * a Smi for 24 days of capture (beyond, the fields turn into heap numbers and stay exact).
   */
  private ms(nowSec: number): number {
    if (!(this.epochSec === this.epochSec)) this.epochSec = Math.floor(nowSec);
    return Math.round((nowSec - this.epochSec) * 1000);
  }

  /** Cilium's lookup of an ICMP error tuple: the RELATED entry of the address pair. */
  private lookupPair(t: CtTuple, now: number): CtEntry | null {
    const ti = tableIndex(t.family, PROTO_ICMP);
    const tab = this.tables[ti];
    if (!tab) return null;
    const p = this.pairTuple(t);
    let e: CtEntry | null | undefined = this.probe(tab, this.key(p, 1), now);
    let rev: CtEntry | null = null;
    let fwd: CtEntry | null = null;
    while (e !== undefined && e !== null) {
      const next: CtEntry | null = e.next;
      if (e.conn !== null) {
        if (now > e.expMs) this.expire(tab, e);
        else if (rev === null && isReverse(e, p)) rev = e;
        else if (fwd === null && isTuple(e, p)) fwd = e;
      }
      e = next;
    }
    const pair = rev ?? fwd;
    if (pair === null) return null;
    const dir = rev !== null ? CtDir.REPLY : CtDir.FORWARD;
    // __ct_lookup refreshes the entry it found: a non-TCP lifetime, no flags.
    updateTimeout(pair, false, dir, 0, now);
    this.lastRelated = true;
    let conn = pair.conn!;
    if (t.hasInner) {
      const exact = this.findConn(t.inner, now);
      if (exact !== null) conn = exact;
    }
    this.lastDir = dir;
    return conn;
  }

  /** The RELATED key tuple of `t`'s address pair (ct_create4's icmp_tuple), in scratch. */
  private pairTuple(t: CtTuple): CtTuple {
    const p = this.scratch;
    p.family = t.family;
    copy4(p.src, t.src);
    copy4(p.dst, t.dst);
    p.sport = 0;
    p.dport = 0;
    p.proto = t.family === 6 ? PROTO_ICMPV6 : PROTO_ICMP;
    p.related = true;
    p.hasInner = false;
    return p;
  }

  /**
   * Writes the RELATED entry of `t`'s address pair, pointing at `conn` (a new entry pointing
   * at itself when conn is null); replaces the value of an existing one, as map_update_elem.
   */
  private upsertPair(t: CtTuple, now: number, conn: CtEntry | null): CtEntry {
    const ti = tableIndex(t.family, PROTO_ICMP);
    const tab = this.table(ti);
    const p = this.pairTuple(t);
    const key = this.key(p, 1);
    const head = tab.index.get(key);
    let e: CtEntry | null | undefined = head;
    while (e !== undefined && e !== null) {
      if (e.conn !== null && isTuple(e, p)) break;
      e = e.next;
    }
    if (e !== undefined && e !== null && conn !== null) {
      // The value is replaced by a copy of the new connection's entry: fresh timers. An update
      // is a use.
      useKey(tab, key, head!);
      e.conn = conn;
      this.initTimers(e, now);
      return e;
    }
    if (e !== undefined && e !== null) this.unlink(tab, e);
    this.makeRoom(tab, now);
    const n = new CtEntry();
    n.setKey(p);
    if (conn === null) {
      n.id = this.nextId++;
      n.conn = n;
    } else {
      n.conn = conn;
    }
    this.initTimers(n, now);
    this.link(tab, ti, key, n, now);
    this.relatedCount++;
    return n;
  }

  /** ct_create4: ct_update_timeout with a SYN for TCP (SYN timeout), non-TCP lifetime otherwise. */
  private initTimers(e: CtEntry, now: number): void {
    const tcp = e.kHead >>> 8 === PROTO_TCP;
    e.epochSec = this.epochSec;
    e.createdMs = now;
    e.seenMs = now;
    e.txFlagsSeen = 0;
    e.rxFlagsSeen = 0;
    e.txClosing = false;
    e.rxClosing = false;
    e.seenNonSyn = false;
    e.txReportMs = NEVER;
    e.rxReportMs = NEVER;
    updateTimeout(e, tcp, CtDir.FORWARD, tcp ? TCP_SYN : 0, now);
  }

  /** `__ct_lookup` ACTION_CREATE on a closing entry: reset, then time it from this SYN. */
  private reopen(e: CtEntry, dir: number, flags: number, now: number): void {
    e.rxClosing = false;
    e.txClosing = false;
    e.rxFlagsSeen = 0;
    e.txFlagsSeen = 0;
    e.seenNonSyn = false;
    updateTimeout(e, e.kHead >>> 8 === PROTO_TCP, dir, flags, now);
  }

  /**
   * The chain under `key`, marking the key used. The LRU position is refreshed at most once per
   * `lruResolutionSec` of capture time per key (a `peek` otherwise): moving a key to the MRU end
   * costs four random writes in the cache's link arrays, which dominate a lookup.
   */
  private probe(tab: CtTable, key: number, now: number): CtEntry | undefined {
    const head = tab.index.get(key);
    if (head !== undefined && !(now - head.usedMs < this.lruResolution)) {
      useKey(tab, key, head);
      head.usedMs = now;
    }
    return head;
  }

  private table(ti: number): CtTable {
    let tab = this.tables[ti];
    if (!tab) {
      const max = ti === TCP4 || ti === TCP6 ? this.tcpMax : this.anyMax;
      tab = { index: new Map(), lru: this.eagerLru ? new LRUCache<number, number>({ max }) : null, seq: 0, max, count: 0 };
      this.tables[ti] = tab;
    }
    return tab;
  }

  /** Evicts least recently used keys (with their chains) until one more entry fits. */
  private makeRoom(tab: CtTable, now: number): void {
    while (tab.count >= tab.max) {
      tab.lru ??= buildLru(tab);
      const key = tab.lru.pop();
      if (key === undefined) break;
      const head = tab.index.get(key)!;
      tab.index.delete(key);
      for (let e: CtEntry | null = head; e !== null; e = e.next) {
        e.inTable = false;
        tab.count--;
        if (e.conn !== null) this.relatedCount--;
        if (now > e.expMs) this.expiredCount++;
        else this.evictionCount++;
      }
    }
  }

  private link(tab: CtTable, ti: number, key: number, e: CtEntry, now: number): void {
    const head = tab.index.get(key);
    e.next = head ?? null;
    e.key = key;
    e.inTable = true;
    tab.index.set(key, e);
    // A write is a use of the key (LRUCache.set moves an existing key to the MRU end too).
    if (tab.lru !== null) tab.lru.set(key, key, LRU_OPTS);
    else stamp(tab, e);
    e.usedMs = now;
    tab.count++;
  }

  /** Unlinks the entry with forward tuple `t` (a connection, or a pair when `pair`). */
  private unlinkWhere(tab: CtTable, key: number, t: CtTuple, pair: boolean): void {
    let e: CtEntry | null | undefined = tab.index.get(key);
    while (e !== undefined && e !== null) {
      if ((e.conn !== null) === pair && isTuple(e, t)) {
        this.unlink(tab, e);
        return;
      }
      e = e.next;
    }
  }

  private expire(tab: CtTable, e: CtEntry): void {
    this.unlink(tab, e);
    this.expiredCount++;
  }

  private unlink(tab: CtTable, e: CtEntry): void {
    const head = tab.index.get(e.key);
    if (head === e) {
      if (e.next === null) {
        tab.index.delete(e.key);
        tab.lru?.delete(e.key);
      } else {
        // The key stays where it was in the recency order.
        tab.index.set(e.key, e.next);
        e.next.usedMs = e.usedMs;
        e.next.lruSeq = e.lruSeq;
      }
    } else {
      for (let p = head ?? null; p !== null; p = p.next) {
        if (p.next === e) {
          p.next = e.next;
          break;
        }
      }
    }
    e.next = null;
    e.inTable = false;
    tab.count--;
    if (e.conn !== null) this.relatedCount--;
  }

  /**
   * The LRU key of `t`: a hash over family, protocol, the RELATED flag and both endpoints in
   * canonical order (lower address/port first), so both directions share it. Words are read
   * as int32 (a u32 above 2^31 would be a heap number, boxed when passed on). murmur3 rounds;
   * the 52-bit variant adds an xxhash32 lane for the upper 20 bits.
   */
  private key(t: CtTuple, related: number): number {
    const s = t.src;
    const d = t.dst;
    let a0 = s[0]! | 0;
    let a1 = s[1]! | 0;
    let a2 = s[2]! | 0;
    let a3 = s[3]! | 0;
    let b0 = d[0]! | 0;
    let b1 = d[1]! | 0;
    let b2 = d[2]! | 0;
    let b3 = d[3]! | 0;
    let ports = (t.sport << 16) | t.dport;
    if (a3 !== b3 ? a3 > b3 : a2 !== b2 ? a2 > b2 : a1 !== b1 ? a1 > b1 : a0 !== b0 ? a0 > b0 : t.sport > t.dport) {
      let x = a0;
      a0 = b0;
      b0 = x;
      x = a1;
      a1 = b1;
      b1 = x;
      x = a2;
      a2 = b2;
      b2 = x;
      x = a3;
      a3 = b3;
      b3 = x;
      ports = (t.dport << 16) | t.sport;
    }
    const head = t.family | (t.proto << 8) | (related << 16);
    const v4 = t.family === 4 && a2 === 0xffff && b2 === 0xffff && (a0 | a1 | b0 | b1) === 0;
    let h = murmur3Round(murmur3Round(murmur3Round(0x9747b28c ^ head, a3), b3), ports);
    if (!v4) h = murmur3Round(murmur3Round(murmur3Round(murmur3Round(murmur3Round(murmur3Round(h, a0), a1), a2), b0), b1), b2);
    h = murmur3Finish(h);
    if (this.keyMask !== 0) return h & this.keyMask;
    let h2 = Math.imul(0x165667b1 ^ head, 0x9e3779b1);
    h2 = xxhashRound(xxhashRound(xxhashRound(h2, a3), b3), ports);
    if (!v4) h2 = xxhashRound(xxhashRound(xxhashRound(xxhashRound(xxhashRound(xxhashRound(h2, a0), a1), a2), b0), b1), b2);
    return (murmur3Finish(h2 ^ h) >>> 12) * 4294967296 + (h >>> 0);
  }
}

// --- recency (see the module comment)

/** Marks `key`, whose chain starts at `head`, most recently used. */
function useKey(tab: CtTable, key: number, head: CtEntry): void {
  if (tab.lru !== null) tab.lru.get(key, LRU_OPTS);
  else stamp(tab, head);
}

/** Before the LRUCache exists: the next use stamp on a chain head. */
function stamp(tab: CtTable, head: CtEntry): void {
  if (tab.seq >= SEQ_LIMIT) renumber(tab);
  head.lruSeq = ++tab.seq;
}

/** The chain heads, least recently used first. */
function headsByUse(tab: CtTable): CtEntry[] {
  return [...tab.index.values()].sort((a, b) => a.lruSeq - b.lruSeq);
}

function renumber(tab: CtTable): void {
  let n = 0;
  for (const head of headsByUse(tab)) head.lruSeq = ++n;
  tab.seq = n;
}

/**
 * The LRUCache of a table about to evict for the first time: its keys set least recently used
 * first, which leaves them in the order the same uses would have left in an LRUCache kept from
 * the start. Sized for the whole table (a key per entry at most), so it never evicts by itself.
 */
function buildLru(tab: CtTable): LRUCache<number, number> {
  const lru = new LRUCache<number, number>({ max: tab.max });
  for (const head of headsByUse(tab)) lru.set(head.key, head.key, LRU_OPTS);
  return lru;
}

// --- timers (conntrack.h)

/** ct_update_timeout: the lifetime by protocol and seen_non_syn, then __ct_update_timeout. */
function updateTimeout(e: CtEntry, tcp: boolean, dir: number, flags: number, now: number): boolean {
  let lifetime = CT_CONNECTION_LIFETIME_NONTCP * 1000;
  if (tcp) {
    if ((flags & TCP_SYN) === 0) e.seenNonSyn = true;
    lifetime = e.seenNonSyn ? CT_CONNECTION_LIFETIME_TCP * 1000 : CT_SYN_TIMEOUT * 1000;
  }
  return rawUpdateTimeout(e, lifetime, dir, flags, now);
}

/** __ct_update_timeout: new expiry; accumulate flags; report when new flags or interval passed. */
function rawUpdateTimeout(e: CtEntry, lifetimeMs: number, dir: number, flags: number, now: number): boolean {
  e.expMs = now + lifetimeMs;
  const seen = flags & CT_REPORT_FLAGS;
  if (dir === CtDir.REPLY) {
    const acc = e.rxFlagsSeen;
    if (e.rxReportMs + CT_REPORT_INTERVAL * 1000 < now || (acc | seen) !== acc) {
      e.rxFlagsSeen = acc | seen;
      e.rxReportMs = now;
      return true;
    }
  } else {
    const acc = e.txFlagsSeen;
    if (e.txReportMs + CT_REPORT_INTERVAL * 1000 < now || (acc | seen) !== acc) {
      e.txFlagsSeen = acc | seen;
      e.txReportMs = now;
      return true;
    }
  }
  return false;
}

function seenBothSyns(e: CtEntry): boolean {
  return (e.rxFlagsSeen & TCP_SYN) !== 0 && (e.txFlagsSeen & TCP_SYN) !== 0;
}

// --- tuples

function copy4(to: Uint32Array, from: ArrayLike<number>): void {
  to[0] = from[0]!;
  to[1] = from[1]!;
  to[2] = from[2]!;
  to[3] = from[3]!;
}

function sameTuple(e: CtTuple, t: CtTuple): boolean {
  const es = e.src;
  const ed = e.dst;
  const ts = t.src;
  const td = t.dst;
  return (
    e.sport === t.sport &&
    e.dport === t.dport &&
    es[3] === ts[3] &&
    ed[3] === td[3] &&
    e.proto === t.proto &&
    e.family === t.family &&
    es[2] === ts[2] &&
    ed[2] === td[2] &&
    es[1] === ts[1] &&
    ed[1] === td[1] &&
    es[0] === ts[0] &&
    ed[0] === td[0]
  );
}

/** Both addresses are IPv4-mapped (words 0..2 are 0, 0, 0xffff). */
function isMapped(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[2] === 0xffff && b[2] === 0xffff && a[0] === 0 && a[1] === 0 && b[0] === 0 && b[1] === 0;
}

/** An entry's upper words (`kUpper`) are words 0..2 of `src` then `dst`. */
function sameUpper(u: Int32Array | null, src: Uint32Array, dst: Uint32Array): boolean {
  if (u === null) return isMapped(src, dst);
  return u[0] === (src[0]! | 0) && u[1] === (src[1]! | 0) && u[2] === (src[2]! | 0) && u[3] === (dst[0]! | 0) && u[4] === (dst[1]! | 0) && u[5] === (dst[2]! | 0);
}

/** Entry `e` holds tuple `t` (its forward direction is `t`). */
function isTuple(e: CtEntry, t: CtTuple): boolean {
  const ts = t.src;
  const td = t.dst;
  return (
    e.kPorts === ((t.sport << 16) | t.dport) &&
    e.kSrc3 === (ts[3]! | 0) &&
    e.kDst3 === (td[3]! | 0) &&
    e.kHead === (t.family | (t.proto << 8)) &&
    sameUpper(e.kUpper, ts, td)
  );
}

/** Entry `e` holds the reverse of tuple `t`. */
function isReverse(e: CtEntry, t: CtTuple): boolean {
  const ts = t.src;
  const td = t.dst;
  return (
    e.kPorts === ((t.dport << 16) | t.sport) &&
    e.kSrc3 === (td[3]! | 0) &&
    e.kDst3 === (ts[3]! | 0) &&
    e.kHead === (t.family | (t.proto << 8)) &&
    sameUpper(e.kUpper, td, ts)
  );
}

function checkMax(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > 1 << 26) throw new RangeError(`conntrack: ${name} ${v} is outside 1..${1 << 26}`);
  return v;
}
