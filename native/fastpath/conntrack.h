// Conntrack for the fast path: src/maps/conntrack.ts Conntrack.lookupRow and touchRow over the
// Conntrack's own rows, index slots and scalars, for the packets whose lookup changes nothing
// but the entry's timers, counters, flags (closing on FIN and RST included) and recency stamp.
// Anything else (no entry, an entry to expire on the way, a SYN on a closing entry, an entry
// still creating, a table whose LRUCache is built and wants a refresh) answers "slow" before
// anything is written, and the TypeScript program decides the packet.
//
// Layout constants are conntrack.ts's (ROW_WORDS, W_*, CtField, SIDE_WORDS, KeyIndex slots).
#ifndef HUBCAP_NATIVE_FASTPATH_CONNTRACK_H_
#define HUBCAP_NATIVE_FASTPATH_CONNTRACK_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hash.h"
#include "packet.h"

namespace hubcap::fastpath::ct {

constexpr int kRowWords = 40;
constexpr int kExp = 0;  // f64
constexpr int kUsed = 2;  // f64
constexpr int kKey = 4;
constexpr int kHead = 5;
constexpr int kPorts = 6;
constexpr int kSrc3 = 7;
constexpr int kDst3 = 8;
constexpr int kNext = 9;
constexpr int kConn = 10;
constexpr int kBits = 11;
constexpr int kId = 12;
constexpr int kSeen = 16;      // f64
constexpr int kTxReport = 18;  // f64
constexpr int kRxReport = 20;  // f64
constexpr int kTxBytes = 22;   // f64
constexpr int kRxBytes = 24;   // f64
constexpr int kTxPackets = 26;
constexpr int kRxPackets = 27;
constexpr int kLruSeq = 35;
// CtField: the datapath's words.
constexpr int kUser0 = 13;
constexpr int kUser1 = 14;
constexpr int kUser2 = 39;
constexpr int kUserGen = 15;
constexpr int kUserSrcEndpoint = 28;
constexpr int kUserDstEndpoint = 29;
constexpr int kUserSrcIdentity = 30;
constexpr int kUserDstIdentity = 31;
constexpr int kProxyPort = 34;
constexpr int kSideWords = 10;
constexpr int kSideUpper = 0;

constexpr int32_t kBitTxClosing = 1;
constexpr int32_t kBitRxClosing = 2;
constexpr int32_t kBitSeenNonSyn = 4;
constexpr int32_t kBitSeenReply = 8;
constexpr int32_t kBitCreating = 16;
constexpr int32_t kBitUpper = 32;

constexpr int32_t kTcpFin = 0x01;
constexpr int32_t kTcpSyn = 0x02;
constexpr int32_t kTcpRst = 0x04;
constexpr int32_t kProtoTcp = 6;
constexpr int32_t kRowMask = 0xffffff;
constexpr int32_t kSeqLimit = 0x3fffffff;
constexpr double kLifetimeTcpMs = 21600 * 1000.0;
constexpr double kLifetimeNonTcpMs = 60 * 1000.0;
constexpr double kSynTimeoutMs = 60 * 1000.0;
constexpr double kReportIntervalMs = 5 * 1000.0;
constexpr int32_t kReportFlags = 0xff;
constexpr int kDirForward = 0;
constexpr int kDirReply = 1;

// The four tables (TCP4, ANY4, TCP6, ANY6) as conntrack.ts tableIndex numbers them.
constexpr int kTables = 4;

struct Tables {
  int32_t* i32 = nullptr;  // the rows; the same buffer as float64 words
  size_t rows = 0;         // rows the arrays hold
  int32_t* side = nullptr;
  size_t sideRows = 0;
  int32_t* slots[kTables] = {nullptr, nullptr, nullptr, nullptr};  // KeyIndex slots, null: no table
  uint32_t slotMask[kTables] = {0, 0, 0, 0};
  bool lruBuilt[kTables] = {false, false, false, false};
  int32_t keyMask = 0x7fffffff;
  double lruResolution = 1000;
  // Scalars in the shared block: the table clock's epoch (NaN before the first packet) and the
  // four tables' recency stamps (CtTable.seq).
  double* epoch = nullptr;
  double* seq = nullptr;
  // For ct_create.h: Conntrack.nativeFreeRows, the free row stack (its first
  // CreateScalars kCsFreeCount words are the free rows; replaced when it grows).
  int32_t* freeRows = nullptr;
  size_t freeRowsLength = 0;

  double* F64(size_t row, int word) const { return reinterpret_cast<double*>(i32 + row * kRowWords + word); }
  int32_t* W(size_t row, int word) const { return i32 + row * kRowWords + word; }
};

// A packet's tuple as CtTuple.setFromPacket builds it (never RELATED: the fast path takes no
// ICMP errors).
struct Tuple {
  int32_t family;
  int32_t src[4];
  int32_t dst[4];
  int32_t sport;
  int32_t dport;
  int32_t proto;
  // IsMapped(src, dst), set with the addresses (TupleOf): the key, every row compared and
  // setKey ask it (conntrack.ts isMapped), ~30 instructions a packet when each did.
  bool mapped;
};

// isMapped: both addresses IPv4-mapped.
inline bool IsMapped(const int32_t* a, const int32_t* b) {
  return a[2] == 0xffff && b[2] == 0xffff && a[0] == 0 && a[1] == 0 && b[0] == 0 && b[1] == 0;
}

inline void TupleOf(const FastPacket& p, Tuple* t) {
  t->family = p.ipVersion == 6 ? 6 : 4;
  for (int i = 0; i < 4; i++) {
    t->src[i] = static_cast<int32_t>(p.src[i]);
    t->dst[i] = static_cast<int32_t>(p.dst[i]);
  }
  t->mapped = IsMapped(t->src, t->dst);
  t->proto = p.ipProto;
  t->sport = 0;
  t->dport = 0;
  if (p.kind == kKindTcp || p.kind == kKindUdp) {
    if (p.hasPorts) {
      t->sport = p.sport;
      t->dport = p.dport;
    }
  } else {
    // ICMP echo: the request carries the id as its source port, the reply as its destination.
    int32_t id = p.icmpId < 0 ? 0 : p.icmpId;
    if (t->family == 6 ? p.icmpType == 128 : p.icmpType == 8) t->sport = id;
    else if (t->family == 6 ? p.icmpType == 129 : p.icmpType == 0) t->dport = id;
  }
}

// Conntrack.key(t, related): the RELATED flag (1 for an address pair's entry) in the head word.
inline int32_t KeyOf(const Tuple& t, int32_t keyMask, int32_t related = 0) {
  int32_t a0 = t.src[0], a1 = t.src[1], a2 = t.src[2], a3 = t.src[3];
  int32_t b0 = t.dst[0], b1 = t.dst[1], b2 = t.dst[2], b3 = t.dst[3];
  int32_t ports = static_cast<int32_t>((static_cast<uint32_t>(t.sport) << 16) | static_cast<uint32_t>(t.dport));
  bool swap = a3 != b3 ? a3 > b3 : a2 != b2 ? a2 > b2 : a1 != b1 ? a1 > b1 : a0 != b0 ? a0 > b0 : t.sport > t.dport;
  if (swap) {
    int32_t x;
    x = a0, a0 = b0, b0 = x;
    x = a1, a1 = b1, b1 = x;
    x = a2, a2 = b2, b2 = x;
    x = a3, a3 = b3, b3 = x;
    ports = static_cast<int32_t>((static_cast<uint32_t>(t.dport) << 16) | static_cast<uint32_t>(t.sport));
  }
  int32_t head = t.family | (t.proto << 8) | (related << 16);
  bool v4 = t.family == 4 && t.mapped;
  int32_t h = Murmur3Round(Murmur3Round(Murmur3Round(static_cast<int32_t>(0x9747b28cu ^ static_cast<uint32_t>(head)), a3), b3), ports);
  if (!v4) h = Murmur3Round(Murmur3Round(Murmur3Round(Murmur3Round(Murmur3Round(Murmur3Round(h, a0), a1), a2), b0), b1), b2);
  return Murmur3Finish(h) & keyMask;
}

// conntrack.ts tableIndex.
inline int TableIndex(int32_t family, int32_t proto) { return (family == 6 ? 2 : 0) + (proto == kProtoTcp ? 0 : 1); }

// The row's upper address words are src's and dst's (0..2 of each); `mapped` is IsMapped(src,
// dst) (symmetric), what a row without upper words matches.
inline bool SameUpper(const Tables& c, size_t row, const int32_t* src, const int32_t* dst, bool mapped) {
  if ((*c.W(row, kBits) & kBitUpper) == 0) return mapped;
  if (row >= c.sideRows) return false;
  const int32_t* s = c.side + row * kSideWords + kSideUpper;
  return s[0] == src[0] && s[1] == src[1] && s[2] == src[2] && s[3] == dst[0] && s[4] == dst[1] && s[5] == dst[2];
}

// isTuple / isReverse.
inline bool IsTuple(const Tables& c, size_t row, const Tuple& t) {
  const int32_t* w = c.W(row, 0);
  return w[kPorts] == static_cast<int32_t>((static_cast<uint32_t>(t.sport) << 16) | static_cast<uint32_t>(t.dport)) && w[kSrc3] == t.src[3] &&
         w[kDst3] == t.dst[3] && w[kHead] == (t.family | (t.proto << 8)) && SameUpper(c, row, t.src, t.dst, t.mapped);
}
inline bool IsReverse(const Tables& c, size_t row, const Tuple& t) {
  const int32_t* w = c.W(row, 0);
  return w[kPorts] == static_cast<int32_t>((static_cast<uint32_t>(t.dport) << 16) | static_cast<uint32_t>(t.sport)) && w[kSrc3] == t.dst[3] &&
         w[kDst3] == t.src[3] && w[kHead] == (t.family | (t.proto << 8)) && SameUpper(c, row, t.dst, t.src, t.mapped);
}

// JavaScript's Math.round: the nearest integer, ties towards +Infinity.
inline double JsRound(double x) {
  double r = std::ceil(x);
  if (r - 0.5 > x) r -= 1.0;
  return r;
}

// Conntrack.clockMs(tsSec, tsNsec) once the epoch is set: integer ms from the epoch.
inline double ClockMs(double epoch, double tsSec, double tsNsec) { return JsRound((tsSec + tsNsec / 1e9 - epoch) * 1000); }

// What a read-only lookup found, for the commit.
struct Hit {
  int32_t row = -1;
  int dir = kDirForward;
  int table = 0;
  int32_t head = -1;
  bool stamp = false;  // the key's recency stamp is due (probe's useKey, before any LRUCache)
};

// Conntrack.lookupRow for a fast packet, read-only: true with `hit` when the entry is found and
// the lookup would change nothing but the key's recency stamp (done by Commit).
// `key` is KeyOf(t, c.keyMask).
inline bool Lookup(const Tables& c, const Tuple& t, int32_t key, int32_t tcpFlags, double now, Hit* hit) {
  int ti = TableIndex(t.family, t.proto);
  const int32_t* slots = c.slots[ti];
  if (slots == nullptr) return false;
  // KeyIndex.slotOf.
  uint32_t mask = c.slotMask[ti];
  uint32_t fp = 0x80u | ((static_cast<uint32_t>(key) >> 24) & 0x7fu);
  int32_t head = -1;
  for (uint32_t i = static_cast<uint32_t>(key) & mask, probes = 0;; i = (i + 1) & mask) {
    if (++probes > mask + 1) return false;
    uint32_t v = static_cast<uint32_t>(slots[i]);
    if (v == 0) return false;  // no entry under the key: a new connection
    uint32_t row = v & kRowMask;
    if ((v >> 24) == fp) {
      if (row >= c.rows) return false;
      if (*c.W(row, kKey) == key) {
        head = static_cast<int32_t>(row);
        break;
      }
    }
  }
  // probe: the recency stamp is refreshed at most once per lruResolution.
  bool stamp = false;
  if (!(now - *c.F64(head, kUsed) < c.lruResolution)) {
    if (c.lruBuilt[ti] || c.seq[ti] >= kSeqLimit) return false;
    stamp = true;
  }
  // walk over the connection rows of the chain; an expired one would be removed: slow.
  int32_t rev = -1, fwd = -1;
  size_t steps = 0;
  for (int32_t row = head; row >= 0;) {
    if (static_cast<size_t>(row) >= c.rows || ++steps > c.rows) return false;
    const int32_t* w = c.W(row, 0);
    int32_t next = w[kNext];
    if (w[kConn] < 0) {
      if (now > *c.F64(row, kExp)) return false;
      if (rev < 0 && IsReverse(c, row, t)) rev = row;
      else if (fwd < 0 && IsTuple(c, row, t)) fwd = row;
    }
    row = next;
  }
  // ct_tcp_select_action: a SYN alone on a closing entry reopens it (slow).
  bool reopen = t.proto == kProtoTcp && (tcpFlags & (kTcpFin | kTcpRst)) == 0 && (tcpFlags & kTcpSyn) != 0;
  int32_t row;
  int dir;
  if (rev >= 0) {
    row = rev;
    dir = kDirReply;
  } else if (fwd >= 0) {
    row = fwd;
    dir = kDirForward;
  } else {
    return false;
  }
  if (reopen && (*c.W(row, kBits) & (kBitTxClosing | kBitRxClosing)) != 0) return false;
  hit->row = row;
  hit->dir = dir;
  hit->table = ti;
  hit->head = head;
  hit->stamp = stamp;
  return true;
}

constexpr double kCloseTimeoutMs = 10 * 1000.0;

// touchRow on the fast path: any packet but the creating one (whose timers ct_create4 set).
inline bool CanTouch(const Tables& c, const Hit& hit) { return (*c.W(hit.row, kBits) & kBitCreating) == 0; }

// __ct_update_timeout.
inline void RawUpdateTimeout(const Tables& c, size_t row, double lifetimeMs, int dir, int32_t flags, double now) {
  *c.F64(row, kExp) = now + lifetimeMs;
  int32_t seen = flags & kReportFlags;
  int32_t* bits = c.W(row, kBits);
  int shift = dir == kDirReply ? 16 : 8;
  double* report = c.F64(row, dir == kDirReply ? kRxReport : kTxReport);
  int32_t acc = static_cast<int32_t>((static_cast<uint32_t>(*bits) >> shift) & 0xff);
  if (*report + kReportIntervalMs < now || (acc | seen) != acc) {
    *bits = static_cast<int32_t>(static_cast<uint32_t>(*bits) | (static_cast<uint32_t>(seen) << shift));
    *report = now;
  }
}

// ct_update_timeout.
inline void UpdateTimeout(const Tables& c, size_t row, bool tcp, int dir, int32_t flags, double now) {
  double lifetime = kLifetimeNonTcpMs;
  if (tcp) {
    if ((flags & kTcpSyn) == 0) *c.W(row, kBits) |= kBitSeenNonSyn;
    lifetime = (*c.W(row, kBits) & kBitSeenNonSyn) != 0 ? kLifetimeTcpMs : kSynTimeoutMs;
  }
  RawUpdateTimeout(c, row, lifetime, dir, flags, now);
}

// The lookup's recency stamp (probe -> useKey -> stamp) and Conntrack.touchRow for a packet
// CanTouch allowed.
inline void Commit(Tables& c, const Hit& hit, bool touch, int32_t tcpFlags, int32_t bytes, double now) {
  if (hit.stamp) {
    double seq = c.seq[hit.table] + 1;
    c.seq[hit.table] = seq;
    *c.W(hit.head, kLruSeq) = static_cast<int32_t>(seq);
    *c.F64(hit.head, kUsed) = now;
  }
  if (!touch) return;
  size_t row = static_cast<size_t>(hit.row);
  *c.F64(row, kSeen) = now;
  int32_t* w = c.W(row, 0);
  int32_t bits = w[kBits];
  if (hit.dir == kDirReply) {
    w[kRxPackets] = static_cast<int32_t>(static_cast<uint32_t>(w[kRxPackets]) + 1u);
    *c.F64(row, kRxBytes) += bytes;
    bits |= kBitSeenReply;
  } else {
    w[kTxPackets] = static_cast<int32_t>(static_cast<uint32_t>(w[kTxPackets]) + 1u);
    *c.F64(row, kTxBytes) += bytes;
  }
  w[kBits] = bits;
  bool tcp = (static_cast<uint32_t>(w[kHead]) >> 8) == static_cast<uint32_t>(kProtoTcp);
  constexpr int32_t kClosing = kBitTxClosing | kBitRxClosing;
  if ((bits & kClosing) != kClosing) UpdateTimeout(c, row, tcp, hit.dir, tcpFlags, now);
  if (tcp && (tcpFlags & (kTcpFin | kTcpRst)) != 0) {
    // ACTION_CLOSE: this direction closes; an RST before both SYNs were seen closes both. Once
    // both are closing, the entry lives CT_CLOSE_TIMEOUT more.
    bits = w[kBits];
    bool bothSyns = (bits & (kTcpSyn << 16)) != 0 && (bits & (kTcpSyn << 8)) != 0;
    if ((tcpFlags & kTcpRst) != 0 && !bothSyns) bits |= kClosing;
    else if (hit.dir == kDirReply) bits |= kBitRxClosing;
    else bits |= kBitTxClosing;
    w[kBits] = bits;
    if ((bits & kClosing) == kClosing) RawUpdateTimeout(c, row, kCloseTimeoutMs, hit.dir, tcpFlags, now);
  }
}

}  // namespace hubcap::fastpath::ct

#endif  // HUBCAP_NATIVE_FASTPATH_CONNTRACK_H_
