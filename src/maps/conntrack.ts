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
 * Layout: every entry (a connection, or a RELATED address-pair entry) is a row of ROW_WORDS
 * int32 words in one ArrayBuffer, seen as an Int32Array and a Float64Array (times and byte
 * counts are float64 words of the row: exact past the int32 range). A row holds the tuple, the
 * timers, the counters, the flags and the datapath's words (`CtField`), so a packet reads one
 * row: 160 bytes whose lines are independent loads (the CPU fetches them in parallel), where a
 * CtEntry object per connection cost three dependent cache misses (Map bucket, Map entry,
 * object) and about 300 bytes the garbage collector copied twice (~25 % of a replay, measured).
 * IPv6 upper address words and a service's original destination sit in a side array.
 * Per table a 31-bit hash of the tuple in a canonical order (the lower endpoint first) is the
 * key, so a connection's two directions share it and a lookup costs one probe: an open-address
 * index of (key, first row) pairs with linear probing (8 slots per cache line, at most half
 * full), and rows whose keys collide are chained through their `next` word and leave the LRU
 * together (about 140 pairs in a full 786k-entry family). An `LRUCache` of the keys keeps their
 * recency and picks the evictions once the table is full (see the stamps above). Rows of removed
 * entries are reused; the arrays double as the live entries need, up to the tables' maxima.
 * Nothing is allocated per packet or per connection. `CtEntry` objects are views of rows, made
 * on request (tests, dumps, the L7 stage's zombie check); a view of a row that leaves its table
 * keeps a copy of the row, so it reads as it did when the entry was removed.
 */

import { LRUCache } from 'lru-cache';
import { CapacityError } from '../errors.js';
import { murmur3Finish as murmur3FinishBinding, murmur3Round as murmur3RoundBinding } from '../net/hash.js';
import { copyWords as copyWordsBinding } from '../net/addr.js';
import { grownInt32, tableBuffer, tableInt32 } from './table-memory.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const murmur3Finish = murmur3FinishBinding;
const murmur3Round = murmur3RoundBinding;
const copyWords = copyWordsBinding;

/** Which way a packet travels relative to its connection's entry. */
export const CtDir = { FORWARD: 0, REPLY: 1 } as const;

/** `--bpf-ct-global-tcp-max`: entries of each family's TCP table. */
export const DEFAULT_CT_TCP_MAX = 524_288;
/** `--bpf-ct-global-any-max`: entries of each family's non-TCP table. */
export const DEFAULT_CT_ANY_MAX = 262_144;
/**
 * Largest table hubcap takes (2^22: the four tables' rows fit the index's 24-bit row field).
 * Cilium's agent accepts up to 2^24 (option.LimitTableMax).
 */
export const MAX_CT_ENTRIES = 1 << 22;

/** bpf/node_config.h defaults, in seconds. */
export const CT_CONNECTION_LIFETIME_TCP = 21_600;
export const CT_CONNECTION_LIFETIME_NONTCP = 60;
export const CT_SYN_TIMEOUT = 60;
export const CT_CLOSE_TIMEOUT = 10;
/** How often an active connection is reported again under monitor aggregation. */
export const CT_REPORT_INTERVAL = 5;
/** `--monitor-aggregation-flags` default (all): TCP flags that trigger a report when new. */
export const CT_REPORT_FLAGS = 0xff;

// The exported constants the table's own hot path reads, as module-local consts: an exported
// binding is a cell that optimized code loads and hole-checks at every use, a local const folds
// (see datapath/v8-tuning.ts).
const Dir = CtDir;
const LIFETIME_TCP_S = CT_CONNECTION_LIFETIME_TCP;
const LIFETIME_NONTCP_S = CT_CONNECTION_LIFETIME_NONTCP;
const SYN_TIMEOUT_S = CT_SYN_TIMEOUT;
const CLOSE_TIMEOUT_S = CT_CLOSE_TIMEOUT;
const REPORT_INTERVAL_S = CT_REPORT_INTERVAL;
const REPORT_FLAGS = CT_REPORT_FLAGS;

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
    copyWords(this.src, p.src);
    copyWords(this.dst, p.dst);
    const proto = p.ipProto;
    this.proto = proto;
    this.related = false;
    this.hasInner = false;
    this.sport = 0;
    this.dport = 0;
    if (proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP) {
      if (p.hasPorts === true) {
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
        if (p.hasIcmpInner === true) {
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
    copyWords(this.src, p.icmpInnerSrc);
    copyWords(this.dst, p.icmpInnerDst);
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
    copyWords(this.src, src);
    copyWords(this.dst, dst);
    this.sport = sport;
    this.dport = dport;
    this.proto = proto;
    this.related = false;
    this.hasInner = false;
    return this;
  }

  copyFrom(t: CtTuple): this {
    this.family = t.family;
    copyWords(this.src, t.src);
    copyWords(this.dst, t.dst);
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
    copyWords(out.src, this.dst);
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

/**
 * The words of a conntrack row the datapath reads and writes (`Conntrack.get` / `set`): what it
 * derived for the connection, kept with it as Cilium's ct_entry carries `src_sec_id`,
 * `rev_nat_index` and `proxy_redirect`. All int32; conntrack never reads them.
 */
export const CtField = {
  /** Free for the datapath (program.ts: the drop reason of a dropped connection). */
  USER0: 13,
  /** Free for the datapath (program.ts: drop stage and node, or the proxy stage + 1). */
  USER1: 14,
  /** Free for the datapath (program.ts: the rule that dropped the connection + 1). */
  USER2: 39,
  /** Generation the endpoint and identity words below were derived at (-1: never). */
  USER_GEN: 15,
  USER_SRC_ENDPOINT: 28,
  USER_DST_ENDPOINT: 29,
  USER_SRC_IDENTITY: 30,
  USER_DST_IDENTITY: 31,
  /** L7 proxy port the connection is redirected to (conntrack.h proxy_redirect), 0 none. */
  PROXY_PORT: 34,
  /** Service translation: frontend index (rev_nat_index), -1 none. */
  REV_NAT: 37,
  /** Destination port before service translation. */
  ORIG_DPORT: 38,
} as const;

// Row layout, in int32 words; float64 fields at even words (read as f64[(base + W) / 2]). The
// first 64 bytes are what a probe and the inherited-drop path read; the next 64 what touch
// updates and the datapath's endpoint words; the rest is cold.
const ROW_WORDS = 40;
const W_EXP = 0; // f64: after this the entry is gone (conntrack.h `lifetime`), table ms
const W_USED = 2; // f64: when the key's LRU position was last refreshed (chain head)
const W_KEY = 4; // hash key while in a table
const W_HEAD = 5; // family | proto << 8
const W_PORTS = 6; // sport << 16 | dport
const W_SRC3 = 7;
const W_DST3 = 8;
const W_NEXT = 9; // next row under the same key, -1 none
const W_CONN = 10; // connection rows: -1; RELATED pair rows: the row of the connection (or own)
const W_BITS = 11; // BIT_* flags, TCP flags seen per direction (bits 8..15 tx, 16..23 rx)
const W_ID = 12; // monotonic connection number from 1 (0 for RELATED pair entries)
// 13..15: USER0, USER1, USER_GEN
const W_SEEN = 16; // f64
const W_TX_REPORT = 18; // f64: last monitor report per direction (last_tx_report)
const W_RX_REPORT = 20; // f64
const W_TX_BYTES = 22; // f64
const W_RX_BYTES = 24; // f64
const W_TX_PACKETS = 26;
const W_RX_PACKETS = 27;
// 28..31: USER_SRC_ENDPOINT, USER_DST_ENDPOINT, USER_SRC_IDENTITY, USER_DST_IDENTITY
const W_CREATED = 32; // f64
// 34: PROXY_PORT
const W_LRU_SEQ = 35; // before the table's LRUCache exists: the table's use counter at the last refresh
const W_TABLE = 36; // table index while in a table
// 37: REV_NAT, 38: ORIG_DPORT, 39: USER2
/** Side words per row: the upper address words (0..2 of src, then of dst) when not IPv4-mapped, the original destination. */
const SIDE_WORDS = 10;
const S_UPPER = 0;
const S_ORIG_DST = 6;

const INITIAL_ROWS = 1024;
/**
 * The first growth of the rows goes straight to this many (or what the tables hold together,
 * if less): it copies the first 1,024 rows, where 1,024 -> 16,384 -> 262,144 copied 16k more.
 * Table memory past the live rows is never touched: address space (50 MiB), not memory.
 */
const ROWS_JUMP_TO = 1 << 18;

/**
 * A conntrack entry as an object: a view of its row, for tests, dumps and the L7 stage (the
 * datapath reads rows). While the entry is in a table the view reads the live row; once it
 * leaves (deleted, evicted, expired) the view keeps a copy of the row as it was then.
 */
export class CtEntry {
  /** @internal */
  constructor(
    /** @internal null once detached */
    public ct: Conntrack | null,
    /** @internal the row (valid while attached) */
    public row: number,
  ) {}
  /** @internal the detached copy (words, then SIDE_WORDS side words) */
  own: Int32Array | null = null;
  private tupleObj: CtTuple | null = null;

  private w(field: number): number {
    const own = this.own;
    if (own !== null) return own[field]!;
    return this.ct!.i32[this.row * ROW_WORDS + field]!;
  }
  private f(field: number): number {
    const own = this.own;
    if (own !== null) return new Float64Array(own.buffer, own.byteOffset, ROW_WORDS / 2)[field / 2]!;
    return this.ct!.f64[(this.row * ROW_WORDS + field) / 2]!;
  }
  private side(k: number): number {
    const own = this.own;
    if (own !== null) return own[ROW_WORDS + k]!;
    return this.ct!.sideWords[this.row * SIDE_WORDS + k]!;
  }
  private put(field: number, v: number): void {
    if (this.own !== null) this.own[field] = v;
    else this.ct!.i32[this.row * ROW_WORDS + field] = v;
  }

  /** Monotonic connection number, from 1 (0 for RELATED address-pair entries). */
  get id(): number {
    return this.w(W_ID);
  }
  /** Free for the datapath. */
  get user0(): number {
    return this.w(CtField.USER0);
  }
  set user0(v: number) {
    this.put(CtField.USER0, v);
  }
  get user1(): number {
    return this.w(CtField.USER1);
  }
  set user1(v: number) {
    this.put(CtField.USER1, v);
  }
  /** L7 proxy port the connection is redirected to, 0 none. */
  get proxyPort(): number {
    return this.w(CtField.PROXY_PORT);
  }
  /** Service translation: frontend index (rev_nat_index), -1 none. */
  get revNat(): number {
    return this.w(CtField.REV_NAT);
  }
  get origDport(): number {
    return this.w(CtField.ORIG_DPORT);
  }
  /** Original destination (four words) before service translation (a copy). */
  get origDst(): Uint32Array {
    const out = new Uint32Array(4);
    for (let k = 0; k < 4; k++) out[k] = this.side(S_ORIG_DST + k);
    return out;
  }
  /** LRU key while in a table. */
  get key(): number {
    return this.w(W_KEY);
  }
  get txPackets(): number {
    return this.w(W_TX_PACKETS) >>> 0;
  }
  get rxPackets(): number {
    return this.w(W_RX_PACKETS) >>> 0;
  }
  get txBytes(): number {
    return this.f(W_TX_BYTES);
  }
  get rxBytes(): number {
    return this.f(W_RX_BYTES);
  }
  private get bits(): number {
    return this.w(W_BITS);
  }
  /** OR of the TCP flags seen per direction (tx_flags_seen / rx_flags_seen). */
  get txFlagsSeen(): number {
    return (this.bits >>> 8) & 0xff;
  }
  get rxFlagsSeen(): number {
    return (this.bits >>> 16) & 0xff;
  }
  /** FIN or RST seen per direction (tx_closing / rx_closing). */
  get txClosing(): boolean {
    return (this.bits & BIT_TX_CLOSING) !== 0;
  }
  get rxClosing(): boolean {
    return (this.bits & BIT_RX_CLOSING) !== 0;
  }
  /** A TCP packet without SYN was seen: the established lifetime applies (seen_non_syn). */
  get seenNonSyn(): boolean {
    return (this.bits & BIT_SEEN_NON_SYN) !== 0;
  }
  get seenReply(): boolean {
    return (this.bits & BIT_SEEN_REPLY) !== 0;
  }
  /** In a table (tracked). */
  get inTable(): boolean {
    return this.own === null;
  }
  /** Either direction saw FIN or RST (conntrack.h ct_entry_closing). */
  get closing(): boolean {
    return this.txClosing || this.rxClosing;
  }
  /** Not both directions closing (conntrack.h ct_entry_alive). */
  get alive(): boolean {
    return !(this.txClosing && this.rxClosing);
  }
  /** IP protocol of the connection. */
  get proto(): number {
    return this.w(W_HEAD) >>> 8;
  }
  /**
   * For a RELATED address-pair entry: the connection it relates to (itself when an ICMP error
   * created it, or when its connection has left the table: then it holds a copy of the
   * connection's datapath words, as Cilium's RELATED entry is a copy); null for a connection.
   */
  get conn(): CtEntry | null {
    const c = this.w(W_CONN);
    if (c < 0) return null;
    if (this.own !== null || c === this.row) return this;
    return this.ct!.entryAt(c);
  }
  private get epochSec(): number {
    return this.ct?.epoch ?? this.detachedEpoch;
  }
  /** @internal */
  detachedEpoch = 0;
  /** Capture time (seconds, 1 ms resolution) after which the entry is gone (`lifetime`). */
  get expiresSec(): number {
    return this.epochSec + this.f(W_EXP) / 1000;
  }
  /** Capture time of the last packet accounted. */
  get lastSeenSec(): number {
    return this.epochSec + this.f(W_SEEN) / 1000;
  }
  /** Capture time the entry was created. */
  get createdSec(): number {
    return this.epochSec + this.f(W_CREATED) / 1000;
  }
  /** The tuple as created (the forward direction). Built on first use; do not modify it. */
  get tuple(): CtTuple {
    let t = this.tupleObj;
    if (t === null) {
      t = new CtTuple();
      const head = this.w(W_HEAD);
      t.family = head & 0xff;
      t.proto = head >>> 8;
      const ports = this.w(W_PORTS);
      t.sport = ports >>> 16;
      t.dport = ports & 0xffff;
      const mapped = (this.bits & BIT_UPPER) === 0;
      for (let k = 0; k < 3; k++) {
        t.src[k] = mapped ? MAPPED[k]! : this.side(S_UPPER + k);
        t.dst[k] = mapped ? MAPPED[k]! : this.side(S_UPPER + 3 + k);
      }
      t.src[3] = this.w(W_SRC3);
      t.dst[3] = this.w(W_DST3);
      t.related = this.w(W_CONN) >= 0;
      this.tupleObj = t;
    }
    return t;
  }
}

/** Words 0..2 of an IPv4-mapped address. */
const MAPPED = [0, 0, 0xffff];

export interface ConntrackOptions {
  /** Entries per family's TCP table (`--bpf-ct-global-tcp-max`). */
  tcpMax?: number;
  /** Entries per family's non-TCP table (`--bpf-ct-global-any-max`). */
  anyMax?: number;
  /**
   * @internal Bits of the hash key: 31 (default), fewer in tests to force collisions and
   * exercise chaining.
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

/** @internal Doubles Conntrack.saveCreateScalars writes (native/fastpath/ct_create.h kCreateScalarWords). */
export const CT_CREATE_SCALAR_WORDS = 16;

/** "Never" for time fields: far below any time the tables see. */
const NEVER = -0x40000000;

/** See ConntrackOptions.lruResolutionSec. */
export const DEFAULT_LRU_RESOLUTION_SEC = 1;

/** Row bits (W_BITS). */
const BIT_TX_CLOSING = 1;
const BIT_RX_CLOSING = 2;
const BIT_SEEN_NON_SYN = 4;
const BIT_SEEN_REPLY = 8;
const BIT_CREATING = 16;
/** The tuple's upper address words are in the side array (not both IPv4-mapped). */
const BIT_UPPER = 32;

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

/**
 * Key -> first row of its chain: open addressing with linear probing over one int32 per slot,
 * the row in the low 24 bits and above them a fingerprint: 7 bits of the key and a set top bit
 * (0 is an empty slot); the key
 * itself is the row's W_KEY word, compared on a fingerprint match (the row is read next
 * anyway). At most three quarters full; deletion by backward shift (no tombstones). Four bytes
 * a slot, where (key, row) pairs took eight: the index of a table of 100k connections is 1 MiB
 * (2^18 slots, see grow) and mostly stays in the L2 cache, which saves the dependent miss a
 * larger one costs before every row read (~100 ns here).
 */
class KeyIndex {
  slots = tableInt32(64);
  mask = 63;
  size = 0;

  /** `jumpTo`: the slots the index grows to from INDEX_JUMP_FROM (see grow). */
  constructor(
    private readonly owner: { readonly i32: Int32Array },
    private readonly jumpTo: number,
  ) {}

  /**
   * The slot holding `key`, or when it is absent ~slot of the empty slot ending its probe run
   * (where it would go).
   */
  private slotOf(key: number): number {
    const s = this.slots;
    const mask = this.mask;
    const fp = fingerprint(key);
    for (let i = key & mask; ; i = (i + 1) & mask) {
      const v = s[i]!;
      if (v === 0) return ~i;
      if (v >>> 24 === fp && this.owner.i32[(v & ROW_MASK) * ROW_WORDS + W_KEY] === key) return i;
    }
  }

  /** The first row under `key`, or -1. */
  get(key: number): number {
    const i = this.slotOf(key);
    return i >= 0 ? this.slots[i]! & ROW_MASK : -1;
  }

  /**
   * Makes `row` (whose W_KEY word is `key`) the first row under `key` and returns the row that
   * was first before (-1: none): a new entry's link in one probe, where `get` then `set` took two.
   */
  push(key: number, row: number): number {
    const i = this.slotOf(key);
    const previous = i >= 0 ? this.slots[i]! & ROW_MASK : -1;
    this.slots[i >= 0 ? i : ~i] = (fingerprint(key) << 24) | row;
    if (i < 0 && ++this.size * 4 > (this.mask + 1) * 3) this.grow();
    return previous;
  }

  /** Makes `row` (whose W_KEY word is `key`) the first row under `key`. */
  set(key: number, row: number): void {
    const i = this.slotOf(key);
    this.slots[i >= 0 ? i : ~i] = (fingerprint(key) << 24) | row;
    if (i < 0 && ++this.size * 4 > (this.mask + 1) * 3) this.grow();
  }

  delete(key: number): void {
    let i = this.slotOf(key);
    if (i < 0) return;
    const s = this.slots;
    const mask = this.mask;
    const w = this.owner.i32;
    // Backward shift: pull later members of the run into the gap when their home allows it.
    for (let j = (i + 1) & mask; s[j] !== 0; j = (j + 1) & mask) {
      const home = w[(s[j]! & ROW_MASK) * ROW_WORDS + W_KEY]! & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (between) continue;
      s[i] = s[j]!;
      i = j;
    }
    s[i] = 0;
    this.size--;
  }

  clear(): void {
    this.slots = tableInt32(64);
    this.mask = 63;
    this.size = 0;
  }

  /** The first rows of every chain (allocates). */
  heads(): number[] {
    const out: number[] = [];
    const s = this.slots;
    for (let i = 0; i <= this.mask; i++) if (s[i] !== 0) out.push(s[i]! & ROW_MASK);
    return out;
  }

  /**
   * Four times the slots, except that growing to INDEX_JUMP_FROM slots or more it jumps straight
   * to `jumpTo`: a rehash reads every entry's row for its key (a cache miss each), so the large step
   * is taken while the table holds ~3,000 entries, not ~50,000 (growing fourfold up to the
   * replay benchmark's 262,144 slots rehashed ~60k entries a table, ~7 ms a pass). Past
   * `jumpTo`, fourfold again.
   */
  private grow(): void {
    const old = this.slots;
    let slots = (this.mask + 1) * 4;
    if (slots >= INDEX_JUMP_FROM) slots = Math.max(slots, this.jumpTo);
    this.slots = tableInt32(slots);
    this.mask = slots - 1;
    const s = this.slots;
    const w = this.owner.i32;
    for (let j = 0; j < old.length; j++) {
      const v = old[j]!;
      if (v === 0) continue;
      let i = w[(v & ROW_MASK) * ROW_WORDS + W_KEY]! & this.mask;
      while (s[i] !== 0) i = (i + 1) & this.mask;
      s[i] = v;
    }
  }
}

/**
 * KeyIndex growth (see grow): fourfold below this many slots, then in one step to room for the
 * table's maximum or INDEX_JUMP_TO slots, whichever is less (the untouched part of table memory
 * costs address space, not memory: 1 MiB at most).
 */
const INDEX_JUMP_FROM = 16384;
const INDEX_JUMP_TO = 1 << 18;

/** KeyIndex slots for `entries` at most three quarters full (a power of two, at least 64). */
function indexSlotsFor(entries: number): number {
  let slots = 64;
  while (slots * 3 < entries * 4) slots *= 2;
  return slots;
}

/** KeyIndex slots: the row below bit 24 (four tables of at most MAX_CT_ENTRIES rows fit). */
const ROW_MASK = 0xffffff;

/** A KeyIndex slot's top byte: 7 high bits of the key (the slot number comes from its low bits), top bit set. */
function fingerprint(key: number): number {
  return 0x80 | ((key >>> 24) & 0x7f);
}

interface CtTable {
  /** Key -> first row of its chain: the index every probe reads. */
  readonly index: KeyIndex;
  /**
   * The recency order and eviction of the keys (values are the keys themselves), built when the
   * table first evicts (null before: the chain heads carry W_LRU_SEQ stamps instead).
   */
  lru: LRUCache<number, number> | null;
  /** The last stamp given. */
  seq: number;
  readonly max: number;
  count: number;
}

/** Stamps stay int32: past this the live heads are renumbered 1..n (same order). */
const SEQ_LIMIT = 0x3fffffff;

export class Conntrack {
  readonly tcpMax: number;
  readonly anyMax: number;
  /** Direction of the last successful lookup (CtDir). */
  lastDir: number = Dir.FORWARD;
  /** The last lookup found the entry through a RELATED address-pair entry (an ICMP error). */
  lastRelated = false;

  /** @internal the rows (see the module comment); replaced when they grow. */
  i32: Int32Array;
  /** @internal the same rows as float64 words. */
  f64: Float64Array;
  /** @internal SIDE_WORDS per row. */
  sideWords: Int32Array;
  /** @internal The capture second times count from (set by the first time seen). */
  epoch = NaN;

  private rowCap = INITIAL_ROWS;
  /** Rows handed out so far (rows below are in use or on the free stack). */
  private rowTop = 0;
  private freeRows = new Int32Array(INITIAL_ROWS);
  private freeCount = 0;
  /** Views made by `entryAt`, by row. */
  private readonly views = new Map<number, CtEntry>();

  private readonly tables: Array<CtTable | null> = [null, null, null, null];
  private readonly keyMask: number;
  private readonly lruResolution: number;
  private readonly eagerLru: boolean;
  private nextId = 1;
  private evictionCount = 0;
  private expiredCount = 0;
  private relatedCount = 0;
  private readonly scratch = new CtTuple();

  constructor(options: ConntrackOptions = {}) {
    this.tcpMax = checkMax('tcpMax', options.tcpMax ?? DEFAULT_CT_TCP_MAX);
    this.anyMax = checkMax('anyMax', options.anyMax ?? DEFAULT_CT_ANY_MAX);
    const bits = options.hashBits ?? 31;
    if (!Number.isInteger(bits) || bits < 1 || bits > 31) throw new RangeError(`conntrack: hashBits ${bits} is not 1..31`);
    this.keyMask = 2 ** bits - 1;
    const res = options.lruResolutionSec ?? DEFAULT_LRU_RESOLUTION_SEC;
    if (!(res >= 0) || !Number.isFinite(res)) throw new RangeError(`conntrack: lruResolutionSec ${res} is not a finite non-negative number`);
    this.lruResolution = Math.round(res * 1000);
    this.eagerLru = options.eagerLru === true;
    const buf = tableBuffer(INITIAL_ROWS * ROW_WORDS * 4);
    this.i32 = new Int32Array(buf);
    this.f64 = new Float64Array(buf);
    this.sideWords = tableInt32(INITIAL_ROWS * SIDE_WORDS);
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

  // --- the native fast path (src/datapath/fast-path.ts, native/fastpath/conntrack.h)

  /** @internal Table `ti`'s index slots (replaced when the index grows), null before the table exists. */
  nativeIndexSlots(ti: number): Int32Array | null {
    return this.tables[ti]?.index.slots ?? null;
  }

  /** @internal Table `ti` keeps its recency in an LRUCache (from its first eviction on). */
  nativeLruBuilt(ti: number): boolean {
    const tab = this.tables[ti];
    return tab !== null && tab !== undefined && tab.lru !== null;
  }

  /** @internal Table `ti`'s last recency stamp (0 without a table). */
  nativeSeq(ti: number): number {
    return this.tables[ti]?.seq ?? 0;
  }

  /** @internal Sets table `ti`'s last recency stamp (the fast path stamped keys). */
  setNativeSeq(ti: number, seq: number): void {
    const tab = this.tables[ti];
    if (tab) tab.seq = seq;
  }

  /** @internal The number the next connection gets (numbers below it are taken). */
  get nextConnectionId(): number {
    return this.nextId;
  }

  /**
   * @internal The free row stack (native/fastpath/ct_create.h Tables::freeRows; its first
   * `freeCount` words are free rows, popped from the end). Replaced when it grows.
   */
  get nativeFreeRows(): Int32Array {
    return this.freeRows;
  }

  /**
   * @internal The scalars createRow changes, into CT_CREATE_SCALAR_WORDS doubles of `block` from
   * `at` (ct_create.h kCs*): nextId, rowTop, freeCount, relatedCount, then per table (TCP4, ANY4,
   * TCP6, ANY6) its count, its max and its index's size (0 for a table not made yet). The
   * tables' recency stamps cross separately (nativeSeq / setNativeSeq).
   */
  saveCreateScalars(block: Float64Array, at: number): void {
    block[at] = this.nextId;
    block[at + 1] = this.rowTop;
    block[at + 2] = this.freeCount;
    block[at + 3] = this.relatedCount;
    for (let t = 0; t < 4; t++) {
      const tab = this.tables[t];
      block[at + 4 + t] = tab ? tab.count : 0;
      block[at + 8 + t] = tab ? tab.max : 0;
      block[at + 12 + t] = tab ? tab.index.size : 0;
    }
  }

  /** @internal The scalars saveCreateScalars wrote, back from `block` (the native code changed them). */
  loadCreateScalars(block: Float64Array, at: number): void {
    this.nextId = block[at]!;
    this.rowTop = block[at + 1]!;
    this.freeCount = block[at + 2]!;
    this.relatedCount = block[at + 3]!;
    for (let t = 0; t < 4; t++) {
      const tab = this.tables[t];
      if (!tab) continue;
      tab.count = block[at + 4 + t]!;
      tab.index.size = block[at + 12 + t]!;
    }
  }

  /** @internal The key mask and the recency resolution (ms). */
  get nativeKeyMask(): number {
    return this.keyMask;
  }
  get nativeLruResolutionMs(): number {
    return this.lruResolution;
  }

  // --- the datapath's words of a row

  /** A datapath word (`CtField`) of `row`. */
  get(row: number, field: number): number {
    return this.i32[row * ROW_WORDS + field]!;
  }

  set(row: number, field: number, value: number): void {
    this.i32[row * ROW_WORDS + field] = value;
  }

  /** The connection number of `row` (0 for a RELATED pair entry an ICMP error did not create). */
  idOf(row: number): number {
    return this.i32[row * ROW_WORDS + W_ID]!;
  }

  /** Sets the original destination (four words) of a translated connection. */
  setOrigDst(row: number, words: ArrayLike<number>): void {
    const o = row * SIDE_WORDS + S_ORIG_DST;
    const s = this.sideWords;
    s[o] = words[0]!;
    s[o + 1] = words[1]!;
    s[o + 2] = words[2]!;
    s[o + 3] = words[3]!;
  }

  /** The entry of `row` as an object (one view per row while it is in a table). */
  entryAt(row: number): CtEntry {
    let v = this.views.get(row);
    if (v === undefined) {
      v = new CtEntry(this, row);
      this.views.set(row, v);
    }
    return v;
  }

  // --- the object API (tests, tools): seconds, CtEntry views

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
    const row = this.lookupRow(t, this.ms(nowSec), tcpFlags);
    return row < 0 ? null : this.entryAt(row);
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
    this.lastDir = Dir.FORWARD;
    this.lastRelated = false;
    const row = this.findConn(inner, this.ms(nowSec));
    if (row < 0) return null;
    this.lastRelated = true;
    // findConn left the quoted packet's own direction in lastDir; the error travels the other way.
    this.lastDir = this.lastDir === Dir.FORWARD ? Dir.REPLY : Dir.FORWARD;
    return this.entryAt(row);
  }

  /**
   * Creates the entry of a new connection (forward = this tuple), replacing an entry with the
   * same forward tuple (map_update_elem), and the RELATED entry of its address pair. The next
   * `touch` of the entry is taken as its creating packet and only accounted: `ct_create4`
   * counts it and records a SYN for TCP whatever its flags (so a capture that starts
   * mid-connection gets the SYN timeout until the next packet, as in Cilium).
   */
  create(t: CtTuple, nowSec: number): CtEntry {
    return this.entryAt(this.createRow(t, this.ms(nowSec)));
  }

  /**
   * Accounts a packet of `e` travelling in `dir` and advances its timeouts as
   * `__ct_lookup` / `ct_update_timeout` do (see the module comment); `flags` are the packet's
   * TCP flags (0 for other protocols), `bytes` its length. Returns true when Cilium's monitor
   * aggregation would report this packet (new flags in this direction, or CT_REPORT_INTERVAL
   * seconds since the last report, or closing). No-op (false) for an entry no longer tracked.
   */
  touch(e: CtEntry, dir: number, flags: number, bytes: number, nowSec: number): boolean {
    if (!e.inTable) return false;
    return this.touchRow(e.row, dir, flags, bytes, this.ms(nowSec));
  }

  /** Removes an entry (a connection or a RELATED entry); no-op when it is no longer tracked. */
  delete(e: CtEntry): void {
    if (e.inTable) this.deleteRow(e.row);
  }

  // --- the row API (the datapath): table clock ms, rows

  /**
   * The table clock of a capture time `tsSec` + `tsNsec`: integer milliseconds from the epoch,
   * exactly what the methods taking seconds compute from `tsSec + tsNsec / 1e9`.
   */
  clockMs(tsSec: number, tsNsec: number): number {
    return this.ms(tsSec + tsNsec / 1e9);
  }

  /** `lookup` at table clock `now` (`clockMs`): the row found, or -1. */
  lookupRow(t: CtTuple, now: number, tcpFlags = 0): number {
    this.lastDir = Dir.FORWARD;
    this.lastRelated = false;
    if (t.related === true) return this.lookupPair(t, now);
    const tab = this.tables[tableIndex(t.family, t.proto)];
    if (tab === null || tab === undefined) return -1;
    this.walk(tab, this.probe(tab, this.key(t, 0), now), t, false, now);
    const rev = this.walkRev;
    const fwd = this.walkFwd;
    const w = this.i32;
    // ct_tcp_select_action: FIN/RST close (and win over SYN); a SYN alone may reopen.
    const reopen = t.proto === PROTO_TCP && (tcpFlags & (TCP_FIN | TCP_RST)) === 0 && (tcpFlags & TCP_SYN) !== 0;
    if (rev >= 0) {
      if (!(reopen && isClosing(w, rev) === true)) {
        this.lastDir = Dir.REPLY;
        return rev;
      }
      this.reopen(rev, Dir.REPLY, tcpFlags, now);
    }
    if (fwd >= 0) {
      if (!(reopen && isClosing(w, fwd) === true)) return fwd;
      this.reopen(fwd, Dir.FORWARD, tcpFlags, now);
    }
    return -1;
  }

  /** `create` at table clock `now`: the new row. */
  createRow(t: CtTuple, now: number): number {
    if (t.related === true) {
      // An ICMP error that was not related to anything and was allowed: ct_create4 writes its
      // tuple, which is itself a RELATED pair key, so later errors between the two addresses
      // find it.
      const row = this.upsertPair(t, now, -1);
      this.i32[row * ROW_WORDS + W_BITS]! |= BIT_CREATING;
      return row;
    }
    const row = this.newRow();
    const w = this.i32;
    const o = row * ROW_WORDS;
    w[o + W_ID] = this.nextId++;
    w[o + W_CONN] = -1;
    this.setKey(row, t);
    this.initTimers(row, now);
    w[o + W_BITS]! |= BIT_CREATING;
    // ct_create4 writes the RELATED entry first, then the connection's.
    this.upsertPair(t, now, row);
    const ti = tableIndex(t.family, t.proto);
    const tab = this.table(ti);
    const key = this.key(t, 0);
    this.unlinkWhere(tab, key, t, false);
    this.makeRoom(tab, now);
    this.link(tab, ti, key, row, now);
    return row;
  }

  /** `touch` of a row at table clock `now`. */
  touchRow(row: number, dir: number, flags: number, bytes: number, now: number): boolean {
    const w = this.i32;
    const f = this.f64;
    const o = row * ROW_WORDS;
    const d = o / 2;
    f[d + W_SEEN / 2] = now;
    let bits = w[o + W_BITS]!;
    if (dir === Dir.REPLY) {
      w[o + W_RX_PACKETS]!++;
      f[d + W_RX_BYTES / 2]! += bytes;
      bits |= BIT_SEEN_REPLY;
    } else {
      w[o + W_TX_PACKETS]!++;
      f[d + W_TX_BYTES / 2]! += bytes;
    }
    if ((bits & BIT_CREATING) !== 0) {
      // ct_create4 already set the timers and flags of the creating packet.
      w[o + W_BITS] = bits & ~BIT_CREATING;
      return true;
    }
    w[o + W_BITS] = bits;
    const tcp = w[o + W_HEAD]! >>> 8 === PROTO_TCP;
    let report = false;
    if (isAlive(bits)) report = updateTimeout(w, f, row, tcp, dir, flags, now);
    if (tcp && (flags & (TCP_FIN | TCP_RST)) !== 0) {
      // ACTION_CLOSE.
      bits = w[o + W_BITS]!;
      if ((flags & TCP_RST) !== 0 && !seenBothSyns(bits)) bits |= BIT_RX_CLOSING | BIT_TX_CLOSING;
      else if (dir === Dir.REPLY) bits |= BIT_RX_CLOSING;
      else bits |= BIT_TX_CLOSING;
      w[o + W_BITS] = bits;
      report = true;
      if (!isAlive(bits)) rawUpdateTimeout(w, f, row, CLOSE_TIMEOUT_S * 1000, dir, flags, now);
    }
    return report;
  }

  /** Removes the entry of `row` from its table. */
  deleteRow(row: number): void {
    this.unlink(this.tables[this.i32[row * ROW_WORDS + W_TABLE]!]!, row);
  }

  /** Removes every expired entry (Cilium's conntrack GC pass); returns how many. */
  gc(nowSec: number): number {
    const now = this.ms(nowSec);
    const dead: number[] = [];
    for (const tab of this.tables) {
      if (!tab) continue;
      for (const head of tab.index.heads()) {
        for (let r = head; r >= 0; r = this.i32[r * ROW_WORDS + W_NEXT]!) if (now > this.f64[(r * ROW_WORDS + W_EXP) / 2]!) dead.push(r);
      }
    }
    for (const r of dead) this.expire(this.tables[this.i32[r * ROW_WORDS + W_TABLE]!]!, r);
    return dead.length;
  }

  /** Empties every table and resets the counters (connection ids keep counting up). */
  clear(): void {
    for (let i = 0; i < this.tables.length; i++) {
      const tab = this.tables[i];
      if (!tab) continue;
      for (const head of tab.index.heads()) {
        for (let r = head; r >= 0; ) {
          const next = this.i32[r * ROW_WORDS + W_NEXT]!;
          this.freeRow(r);
          r = next;
        }
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

  /**
   * Every tracked entry (tests, dumps, the L7 stage's zombie check; allocates). A view made
   * here is not kept (a walk over a full table would otherwise keep an object per connection):
   * it reads its row while the tables are unchanged; `entryAt` gives a lasting one.
   */
  *entries(): IterableIterator<CtEntry> {
    const rows: number[] = [];
    for (const tab of this.tables) {
      if (!tab) continue;
      for (const head of tab.index.heads()) for (let r = head; r >= 0; r = this.i32[r * ROW_WORDS + W_NEXT]!) rows.push(r);
    }
    for (const r of rows) yield this.views.get(r) ?? new CtEntry(this, r);
  }

  // --- internals

  /** The connection row whose forward or reverse tuple is `t` (lastDir: FORWARD / REPLY), for ICMP errors. */
  private findConn(t: CtTuple, now: number): number {
    const tab = this.tables[tableIndex(t.family, t.proto)];
    if (!tab) return -1;
    const w = this.i32;
    // A peek: an ICMP error does not use the connection's entry in Cilium (LRU order unchanged).
    let row = tab.index.get(this.key(t, 0));
    let fwd = -1;
    while (row >= 0) {
      const o = row * ROW_WORDS;
      const next = w[o + W_NEXT]!;
      if (w[o + W_CONN]! < 0) {
        if (now > this.f64[(o + W_EXP) / 2]!) this.expire(tab, row);
        else if (isReverse(w, this.sideWords, row, t)) {
          this.lastDir = Dir.REPLY;
          return row;
        } else if (fwd < 0 && isTuple(w, this.sideWords, row, t)) fwd = row;
      }
      row = next;
    }
    this.lastDir = Dir.FORWARD;
    return fwd;
  }

  /**
   * Capture seconds -> integer milliseconds from the epoch (the first second seen), rounded.
   */
  private ms(nowSec: number): number {
    if (!(this.epoch === this.epoch)) this.epoch = Math.floor(nowSec);
    return Math.round((nowSec - this.epoch) * 1000);
  }

  /** Cilium's lookup of an ICMP error tuple: the RELATED entry of the address pair. */
  private lookupPair(t: CtTuple, now: number): number {
    const ti = tableIndex(t.family, PROTO_ICMP);
    const tab = this.tables[ti];
    if (!tab) return -1;
    const p = this.pairTuple(t);
    const w = this.i32;
    this.walk(tab, this.probe(tab, this.key(p, 1), now), p, true, now);
    const rev = this.walkRev;
    const fwd = this.walkFwd;
    const pair = rev >= 0 ? rev : fwd;
    if (pair < 0) return -1;
    const dir = rev >= 0 ? Dir.REPLY : Dir.FORWARD;
    // __ct_lookup refreshes the entry it found: a non-TCP lifetime, no flags.
    updateTimeout(w, this.f64, pair, false, dir, 0, now);
    this.lastRelated = true;
    let conn = w[pair * ROW_WORDS + W_CONN]!;
    if (t.hasInner) {
      const exact = this.findConn(t.inner, now);
      if (exact >= 0) conn = exact;
    }
    this.lastDir = dir;
    return conn;
  }

  /**
   * Walks the chain from `row` over the entries of one kind (RELATED pair entries when `pairs`,
   * else connections): expired ones are removed; the first holding the reverse of `t` is left
   * in walkRev, the first holding `t` itself in walkFwd (-1: none).
   */
  private walk(tab: CtTable, row: number, t: CtTuple, pairs: boolean, now: number): void {
    const w = this.i32;
    const f = this.f64;
    let rev = -1;
    let fwd = -1;
    while (row >= 0) {
      const o = row * ROW_WORDS;
      const next = w[o + W_NEXT]!;
      if (w[o + W_CONN]! >= 0 === (pairs === true)) {
        if (now > f[(o + W_EXP) / 2]!) this.expire(tab, row);
        else if (rev < 0 && isReverse(w, this.sideWords, row, t) === true) rev = row;
        else if (fwd < 0 && isTuple(w, this.sideWords, row, t) === true) fwd = row;
      }
      row = next;
    }
    this.walkRev = rev;
    this.walkFwd = fwd;
  }
  private walkRev = -1;
  private walkFwd = -1;

  /** The RELATED key tuple of `t`'s address pair (ct_create4's icmp_tuple), in scratch. */
  private pairTuple(t: CtTuple): CtTuple {
    const p = this.scratch;
    p.family = t.family;
    copyWords(p.src, t.src);
    copyWords(p.dst, t.dst);
    p.sport = 0;
    p.dport = 0;
    p.proto = t.family === 6 ? PROTO_ICMPV6 : PROTO_ICMP;
    p.related = true;
    p.hasInner = false;
    return p;
  }

  /**
   * Writes the RELATED entry of `t`'s address pair, pointing at connection row `conn` (a new
   * entry pointing at itself when conn < 0); replaces the value of an existing one, as
   * map_update_elem.
   */
  private upsertPair(t: CtTuple, now: number, conn: number): number {
    const ti = tableIndex(t.family, PROTO_ICMP);
    const tab = this.table(ti);
    const p = this.pairTuple(t);
    const key = this.key(p, 1);
    const w = this.i32;
    const head = tab.index.get(key);
    let row = head;
    while (row >= 0) {
      if (w[row * ROW_WORDS + W_CONN]! >= 0 && isTuple(w, this.sideWords, row, p) === true) break;
      row = w[row * ROW_WORDS + W_NEXT]!;
    }
    if (row >= 0 && conn >= 0) {
      // The value is replaced by a copy of the new connection's entry: fresh timers. An update
      // is a use.
      useKey(tab, key, head, this.i32);
      w[row * ROW_WORDS + W_CONN] = conn;
      this.initTimers(row, now);
      return row;
    }
    if (row >= 0) this.unlink(tab, row);
    this.makeRoom(tab, now);
    const n = this.newRow();
    const o = n * ROW_WORDS;
    this.setKey(n, p);
    if (conn < 0) {
      this.i32[o + W_ID] = this.nextId++;
      this.i32[o + W_CONN] = n;
    } else {
      this.i32[o + W_ID] = 0;
      this.i32[o + W_CONN] = conn;
    }
    this.initTimers(n, now);
    this.link(tab, ti, key, n, now);
    this.relatedCount++;
    return n;
  }

  /** ct_create4: ct_update_timeout with a SYN for TCP (SYN timeout), non-TCP lifetime otherwise. */
  private initTimers(row: number, now: number): void {
    const w = this.i32;
    const f = this.f64;
    const o = row * ROW_WORDS;
    const tcp = w[o + W_HEAD]! >>> 8 === PROTO_TCP;
    f[(o + W_CREATED) / 2] = now;
    f[(o + W_SEEN) / 2] = now;
    w[o + W_BITS]! &= ~(0xffff00 | BIT_TX_CLOSING | BIT_RX_CLOSING | BIT_SEEN_NON_SYN);
    f[(o + W_TX_REPORT) / 2] = NEVER;
    f[(o + W_RX_REPORT) / 2] = NEVER;
    updateTimeout(w, f, row, tcp, Dir.FORWARD, tcp ? TCP_SYN : 0, now);
  }

  /** `__ct_lookup` ACTION_CREATE on a closing entry: reset, then time it from this SYN. */
  private reopen(row: number, dir: number, flags: number, now: number): void {
    const w = this.i32;
    const o = row * ROW_WORDS;
    w[o + W_BITS]! &= ~(0xffff00 | BIT_TX_CLOSING | BIT_RX_CLOSING | BIT_SEEN_NON_SYN);
    updateTimeout(w, this.f64, row, w[o + W_HEAD]! >>> 8 === PROTO_TCP, dir, flags, now);
  }

  /**
   * The chain under `key`, marking the key used. The LRU position is refreshed at most once per
   * `lruResolutionSec` of capture time per key (a `peek` otherwise): moving a key to the MRU end
   * costs four random writes in the cache's link arrays, which dominate a lookup.
   */
  private probe(tab: CtTable, key: number, now: number): number {
    const head = tab.index.get(key);
    if (head >= 0) {
      const u = (head * ROW_WORDS + W_USED) / 2;
      if (!(now - this.f64[u]! < this.lruResolution)) {
        useKey(tab, key, head, this.i32);
        this.f64[u] = now;
      }
    }
    return head;
  }

  private table(ti: number): CtTable {
    let tab = this.tables[ti];
    if (!tab) {
      const max = ti === TCP4 || ti === TCP6 ? this.tcpMax : this.anyMax;
      // +2: the entries a creation takes before its table evicts (see growRows).
      tab = { index: new KeyIndex(this, Math.min(INDEX_JUMP_TO, indexSlotsFor(max + 2))), lru: this.eagerLru ? new LRUCache<number, number>({ max }) : null, seq: 0, max, count: 0 };
      this.tables[ti] = tab;
    }
    return tab;
  }

  /** Evicts least recently used keys (with their chains) until one more entry fits. */
  private makeRoom(tab: CtTable, now: number): void {
    while (tab.count >= tab.max) {
      tab.lru ??= this.buildLru(tab);
      const key = tab.lru.pop();
      if (key === undefined) break;
      const head = tab.index.get(key);
      tab.index.delete(key);
      for (let r = head; r >= 0; ) {
        const o = r * ROW_WORDS;
        const next = this.i32[o + W_NEXT]!;
        tab.count--;
        if (this.i32[o + W_CONN]! >= 0) this.relatedCount--;
        if (now > this.f64[(o + W_EXP) / 2]!) this.expiredCount++;
        else this.evictionCount++;
        this.freeRow(r);
        r = next;
      }
    }
  }

  private link(tab: CtTable, ti: number, key: number, row: number, now: number): void {
    const w = this.i32;
    const o = row * ROW_WORDS;
    // The index compares the row's W_KEY word on a fingerprint match: written before the probe.
    w[o + W_KEY] = key;
    w[o + W_TABLE] = ti;
    w[o + W_NEXT] = tab.index.push(key, row);
    // A write is a use of the key (LRUCache.set moves an existing key to the MRU end too).
    if (tab.lru !== null) tab.lru.set(key, key, LRU_OPTS);
    else stamp(tab, row, w);
    this.f64[(o + W_USED) / 2] = now;
    tab.count++;
  }

  /** Unlinks the entry with forward tuple `t` (a connection, or a pair when `pair`). */
  private unlinkWhere(tab: CtTable, key: number, t: CtTuple, pair: boolean): void {
    const w = this.i32;
    for (let r = tab.index.get(key); r >= 0; r = w[r * ROW_WORDS + W_NEXT]!) {
      if (w[r * ROW_WORDS + W_CONN]! >= 0 === pair && isTuple(w, this.sideWords, r, t)) {
        this.unlink(tab, r);
        return;
      }
    }
  }

  private expire(tab: CtTable, row: number): void {
    this.unlink(tab, row);
    this.expiredCount++;
  }

  private unlink(tab: CtTable, row: number): void {
    const w = this.i32;
    const o = row * ROW_WORDS;
    const key = w[o + W_KEY]!;
    const head = tab.index.get(key);
    const next = w[o + W_NEXT]!;
    if (head === row) {
      if (next < 0) {
        tab.index.delete(key);
        tab.lru?.delete(key);
      } else {
        // The key stays where it was in the recency order.
        tab.index.set(key, next);
        this.f64[(next * ROW_WORDS + W_USED) / 2] = this.f64[(o + W_USED) / 2]!;
        w[next * ROW_WORDS + W_LRU_SEQ] = w[o + W_LRU_SEQ]!;
      }
    } else {
      for (let p = head; p >= 0; p = w[p * ROW_WORDS + W_NEXT]!) {
        if (w[p * ROW_WORDS + W_NEXT] === row) {
          w[p * ROW_WORDS + W_NEXT] = next;
          break;
        }
      }
    }
    tab.count--;
    if (w[o + W_CONN]! >= 0) this.relatedCount--;
    this.freeRow(row);
  }

  /** A row for a new entry: a free one, or a new one (the arrays double when full). */
  private newRow(): number {
    let row: number;
    if (this.freeCount > 0) row = this.freeRows[--this.freeCount]!;
    else {
      if (this.rowTop === this.rowCap) this.growRows();
      row = this.rowTop++;
    }
    const w = this.i32;
    const o = row * ROW_WORDS;
    w.fill(0, o, o + ROW_WORDS);
    w[o + W_NEXT] = -1;
    w[o + CtField.USER_GEN] = -1;
    w[o + CtField.USER_SRC_ENDPOINT] = -1;
    w[o + CtField.USER_DST_ENDPOINT] = -1;
    w[o + CtField.REV_NAT] = -1;
    this.f64[(o + W_USED) / 2] = NEVER;
    return row;
  }

  /**
   * Gives a row back. A view of it keeps a copy of the row; a RELATED pair entry that points at
   * a leaving connection gets the connection's datapath words and points at itself, so ICMP
   * errors of the pair still find what Cilium's copy in the RELATED entry would hold.
   */
  private freeRow(row: number): void {
    const w = this.i32;
    const o = row * ROW_WORDS;
    if (w[o + W_CONN]! < 0) this.releasePair(row);
    const v = this.views.get(row);
    if (v !== undefined) {
      const own = new Int32Array(ROW_WORDS + SIDE_WORDS);
      own.set(w.subarray(o, o + ROW_WORDS));
      own.set(this.sideWords.subarray(row * SIDE_WORDS, (row + 1) * SIDE_WORDS), ROW_WORDS);
      v.own = own;
      v.detachedEpoch = this.epoch;
      v.ct = null;
      this.views.delete(row);
    }
    w[o + W_KEY] = 0;
    if (this.freeCount === this.freeRows.length) {
      const grown = new Int32Array(this.freeRows.length * 2);
      grown.set(this.freeRows);
      this.freeRows = grown;
    }
    this.freeRows[this.freeCount++] = row;
  }

  /** A connection row leaves: its address pair's RELATED entry, if it points here, keeps a copy. */
  private releasePair(conn: number): void {
    const w = this.i32;
    const co = conn * ROW_WORDS;
    const head = w[co + W_HEAD]!;
    const family = head & 0xff;
    const tab = this.tables[tableIndex(family, PROTO_ICMP)];
    if (!tab || tab.count === 0) return;
    const t = this.scratch;
    t.family = family;
    const mapped = (w[co + W_BITS]! & BIT_UPPER) === 0;
    const s = this.sideWords;
    for (let k = 0; k < 3; k++) {
      t.src[k] = mapped ? MAPPED[k]! : s[conn * SIDE_WORDS + S_UPPER + k]!;
      t.dst[k] = mapped ? MAPPED[k]! : s[conn * SIDE_WORDS + S_UPPER + 3 + k]!;
    }
    t.src[3] = w[co + W_SRC3]!;
    t.dst[3] = w[co + W_DST3]!;
    t.sport = 0;
    t.dport = 0;
    t.proto = family === 6 ? PROTO_ICMPV6 : PROTO_ICMP;
    t.related = true;
    t.hasInner = false;
    for (let r = tab.index.get(this.key(t, 1)); r >= 0; r = w[r * ROW_WORDS + W_NEXT]!) {
      const o = r * ROW_WORDS;
      if (w[o + W_CONN] !== conn) continue;
      w[o + W_CONN] = r;
      w[o + W_ID] = w[co + W_ID]!;
      for (const k of COPIED_FIELDS) w[o + k] = w[co + k]!;
      for (let k = 0; k < 4; k++) s[r * SIDE_WORDS + S_ORIG_DST + k] = s[conn * SIDE_WORDS + S_ORIG_DST + k]!;
      return;
    }
  }

  /**
   * Sixteen times the rows, and at least ROWS_JUMP_TO: a replay's rows grow to their peak early,
   * and each growth copies the rows and faults in fresh pages (doubling cost ~60 ms over a
   * 250k-row replay, growing fourfold ~10 ms over the replay benchmark's 100k connections,
   * sixteenfold half that); the part of a new buffer past the live rows is never touched, so it
   * costs address space, not memory.
   */
  private growRows(): void {
    // Never more rows than the four tables hold together, plus the two a creation takes before
    // its tables evict (the connection's and its RELATED entry's).
    const cap = Math.max(this.rowCap + 1, Math.min(Math.max(this.rowCap * 16, ROWS_JUMP_TO), 2 * (this.tcpMax + this.anyMax) + 2));
    let buf: ArrayBufferLike;
    try {
      buf = tableBuffer(cap * ROW_WORDS * 4);
    } catch {
      const mib = Math.round((cap * ROW_WORDS * 4) / 2 ** 20);
      throw new CapacityError(
        `conntrack: cannot allocate ${cap} entries (${mib} MiB) for tables of ${this.tcpMax} TCP and ${this.anyMax} non-TCP entries per family; lower --bpf-ct-global-tcp-max / --bpf-ct-global-any-max`,
      );
    }
    const i32 = new Int32Array(buf);
    i32.set(this.i32);
    this.i32 = i32;
    this.f64 = new Float64Array(buf);
    this.sideWords = grownInt32(this.sideWords, cap * SIDE_WORDS);
    this.rowCap = cap;
  }

  /** Sets the tuple words of `row`. */
  private setKey(row: number, t: CtTuple): void {
    const w = this.i32;
    const o = row * ROW_WORDS;
    w[o + W_HEAD] = t.family | (t.proto << 8);
    w[o + W_PORTS] = (t.sport << 16) | t.dport;
    w[o + W_SRC3] = t.src[3]! | 0;
    w[o + W_DST3] = t.dst[3]! | 0;
    const a = t.src;
    const b = t.dst;
    if (isMapped(a, b) === true) w[o + W_BITS]! &= ~BIT_UPPER;
    else {
      w[o + W_BITS]! |= BIT_UPPER;
      const s = this.sideWords;
      const so = row * SIDE_WORDS + S_UPPER;
      s[so] = a[0]!;
      s[so + 1] = a[1]!;
      s[so + 2] = a[2]!;
      s[so + 3] = b[0]!;
      s[so + 4] = b[1]!;
      s[so + 5] = b[2]!;
    }
  }

  /**
   * The LRUCache of a table about to evict for the first time: its keys set least recently used
   * first, which leaves them in the order the same uses would have left in an LRUCache kept from
   * the start. Sized for the whole table (a key per entry at most), so it never evicts by itself.
   */
  private buildLru(tab: CtTable): LRUCache<number, number> {
    const lru = new LRUCache<number, number>({ max: tab.max });
    const w = this.i32;
    for (const head of headsByUse(tab, w)) lru.set(w[head * ROW_WORDS + W_KEY]!, w[head * ROW_WORDS + W_KEY]!, LRU_OPTS);
    return lru;
  }

  /**
   * The LRU key of `t`: a hash over family, protocol, the RELATED flag and both endpoints in
   * canonical order (lower address/port first), so both directions share it. Words are read
   * as int32. murmur3 rounds.
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
    return murmur3Finish(h) & this.keyMask;
  }
}

/** The datapath words a RELATED entry copies from its leaving connection. */
const COPIED_FIELDS = [
  CtField.USER0,
  CtField.USER1,
  CtField.USER2,
  CtField.USER_GEN,
  CtField.USER_SRC_ENDPOINT,
  CtField.USER_DST_ENDPOINT,
  CtField.USER_SRC_IDENTITY,
  CtField.USER_DST_IDENTITY,
  CtField.PROXY_PORT,
  CtField.REV_NAT,
  CtField.ORIG_DPORT,
];

// --- recency (see the module comment)

/** Marks `key`, whose chain starts at row `head`, most recently used. */
function useKey(tab: CtTable, key: number, head: number, w: Int32Array): void {
  if (tab.lru !== null) tab.lru.get(key, LRU_OPTS);
  else stamp(tab, head, w);
}

/** Before the LRUCache exists: the next use stamp on a chain head. */
function stamp(tab: CtTable, head: number, w: Int32Array): void {
  if (tab.seq >= SEQ_LIMIT) renumber(tab, w);
  w[head * ROW_WORDS + W_LRU_SEQ] = ++tab.seq;
}

/** The chain heads, least recently used first. */
function headsByUse(tab: CtTable, w: Int32Array): number[] {
  return tab.index.heads().sort((a, b) => w[a * ROW_WORDS + W_LRU_SEQ]! - w[b * ROW_WORDS + W_LRU_SEQ]!);
}

function renumber(tab: CtTable, w: Int32Array): void {
  let n = 0;
  for (const head of headsByUse(tab, w)) w[head * ROW_WORDS + W_LRU_SEQ] = ++n;
  tab.seq = n;
}

// --- timers (conntrack.h)

/** ct_update_timeout: the lifetime by protocol and seen_non_syn, then __ct_update_timeout. */
function updateTimeout(w: Int32Array, f: Float64Array, row: number, tcp: boolean, dir: number, flags: number, now: number): boolean {
  let lifetime = LIFETIME_NONTCP_S * 1000;
  if (tcp) {
    const o = row * ROW_WORDS;
    if ((flags & TCP_SYN) === 0) w[o + W_BITS]! |= BIT_SEEN_NON_SYN;
    lifetime = (w[o + W_BITS]! & BIT_SEEN_NON_SYN) !== 0 ? LIFETIME_TCP_S * 1000 : SYN_TIMEOUT_S * 1000;
  }
  return rawUpdateTimeout(w, f, row, lifetime, dir, flags, now);
}

/** __ct_update_timeout: new expiry; accumulate flags; report when new flags or interval passed. */
function rawUpdateTimeout(w: Int32Array, f: Float64Array, row: number, lifetimeMs: number, dir: number, flags: number, now: number): boolean {
  const o = row * ROW_WORDS;
  const d = o / 2;
  f[d + W_EXP / 2] = now + lifetimeMs;
  const seen = flags & REPORT_FLAGS;
  const bits = w[o + W_BITS]!;
  const shift = dir === Dir.REPLY ? 16 : 8;
  const report = d + (dir === Dir.REPLY ? W_RX_REPORT : W_TX_REPORT) / 2;
  const acc = (bits >>> shift) & 0xff;
  if (f[report]! + REPORT_INTERVAL_S * 1000 < now || (acc | seen) !== acc) {
    w[o + W_BITS] = bits | (seen << shift);
    f[report] = now;
    return true;
  }
  return false;
}

function seenBothSyns(bits: number): boolean {
  return (bits & (TCP_SYN << 16)) !== 0 && (bits & (TCP_SYN << 8)) !== 0;
}

function isAlive(bits: number): boolean {
  return (bits & (BIT_TX_CLOSING | BIT_RX_CLOSING)) !== (BIT_TX_CLOSING | BIT_RX_CLOSING);
}

function isClosing(w: Int32Array, row: number): boolean {
  return (w[row * ROW_WORDS + W_BITS]! & (BIT_TX_CLOSING | BIT_RX_CLOSING)) !== 0;
}

// --- tuples

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

/** Row's upper words (side array) are words 0..2 of `src` then `dst`. */
function sameUpper(w: Int32Array, side: Int32Array, row: number, src: Uint32Array, dst: Uint32Array): boolean {
  if ((w[row * ROW_WORDS + W_BITS]! & BIT_UPPER) === 0) return isMapped(src, dst);
  const o = row * SIDE_WORDS + S_UPPER;
  return side[o] === (src[0]! | 0) && side[o + 1] === (src[1]! | 0) && side[o + 2] === (src[2]! | 0) && side[o + 3] === (dst[0]! | 0) && side[o + 4] === (dst[1]! | 0) && side[o + 5] === (dst[2]! | 0);
}

/** Row `row` holds tuple `t` (its forward direction is `t`). */
function isTuple(w: Int32Array, side: Int32Array, row: number, t: CtTuple): boolean {
  const ts = t.src;
  const td = t.dst;
  const o = row * ROW_WORDS;
  return (
    w[o + W_PORTS] === ((t.sport << 16) | t.dport) &&
    w[o + W_SRC3] === (ts[3]! | 0) &&
    w[o + W_DST3] === (td[3]! | 0) &&
    w[o + W_HEAD] === (t.family | (t.proto << 8)) &&
    sameUpper(w, side, row, ts, td)
  );
}

/** Row `row` holds the reverse of tuple `t`. */
function isReverse(w: Int32Array, side: Int32Array, row: number, t: CtTuple): boolean {
  const ts = t.src;
  const td = t.dst;
  const o = row * ROW_WORDS;
  return (
    w[o + W_PORTS] === ((t.dport << 16) | t.sport) &&
    w[o + W_SRC3] === (td[3]! | 0) &&
    w[o + W_DST3] === (ts[3]! | 0) &&
    w[o + W_HEAD] === (t.family | (t.proto << 8)) &&
    sameUpper(w, side, row, td, ts)
  );
}

function checkMax(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > MAX_CT_ENTRIES) throw new RangeError(`conntrack: ${name} ${v} is outside 1..${MAX_CT_ENTRIES}`);
  return v;
}
