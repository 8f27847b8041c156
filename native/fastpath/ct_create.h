// A new connection's conntrack entry on the fast path: src/maps/conntrack.ts Conntrack.createRow
// for a non-RELATED tuple (TCP, UDP, ICMP echo; IPv4 and IPv6), over the Conntrack's own rows,
// side words, index slots, free row stack and scalars, plus the words program.ts writes into the
// new row right after it (Datapath.decide, rememberLocated, dropPacket) and touchRow for the
// creating packet.
//
// Two steps, as every fast path part (notes/fastpath-spec.md):
//  - CanCreate, read-only: true when createRow would allocate nothing in TypeScript. It answers
//    false (leave the packet to TypeScript) when
//      1. a table the creation writes (the connection's, and its family's non-TCP table for the
//         RELATED pair entry) does not exist yet (Conntrack.table would make it);
//      2. either table keeps its recency in an LRUCache (built at its first eviction): useKey /
//         link would call into lru-cache;
//      3. either table would evict (makeRoom with count >= max);
//      4. no row is free and the rows are all handed out (newRow would grow the arrays);
//      5. an index would pass three quarters full (KeyIndex.push would grow it);
//      6. a stamp would reach SEQ_LIMIT (stamp would renumber the heads);
//      7. a connection with the same forward tuple is still linked (unlinkWhere would unlink and
//         free it: after a reopen; freeRow copies into CtEntry views, which C++ cannot see);
//      8. anything bound does not fit (a row past the arrays, a probe that never ends).
//  - Create: createRow's writes in createRow's order, for a tuple CanCreate allowed.
// LookupMiss is the lookup before it (lookupRow answering "no entry" with no write but the
// probe's stamp), which ct::Lookup does not tell apart from its other "slow" answers.
//
// The scalars createRow changes that Conntrack keeps in fields cross through the fast path's
// Float64Array block: kCreateScalarWords doubles that Conntrack.saveCreateScalars /
// loadCreateScalars write and read (CreateScalars), plus the four recency stamps that
// Tables::seq already points at (nativeSeq / setNativeSeq). Tables::freeRows is
// Conntrack.nativeFreeRows (replaced when the stack grows: bind it again).
//
// Layout constants are conntrack.ts's; the ones conntrack.h lacks are defined here.
#ifndef HUBCAP_NATIVE_FASTPATH_CT_CREATE_H_
#define HUBCAP_NATIVE_FASTPATH_CT_CREATE_H_

#include <cstddef>
#include <cstdint>

#include "conntrack.h"
#include "hash.h"

namespace hubcap::fastpath::ct {

constexpr int kCreated = 32;    // f64 W_CREATED
constexpr int kTable = 36;      // W_TABLE
constexpr int kRevNat = 37;     // CtField.REV_NAT
constexpr int kOrigDport = 38;  // CtField.ORIG_DPORT
constexpr int kSideOrigDst = 6;  // S_ORIG_DST
constexpr double kNever = -0x40000000;  // NEVER
constexpr int32_t kProtoIcmp = 1;
constexpr int32_t kProtoIcmpV6 = 58;

// Words of the create scalar block, from CreateScalars::w (Conntrack.saveCreateScalars).
constexpr int kCsNextId = 0;       // nextId
constexpr int kCsRowTop = 1;       // rowTop
constexpr int kCsFreeCount = 2;    // freeCount
constexpr int kCsRelated = 3;      // relatedCount
constexpr int kCsCount = 4;        // four words: tables[t].count (0 without a table)
constexpr int kCsMax = 8;          // four words: tables[t].max (read only)
constexpr int kCsIndexSize = 12;   // four words: tables[t].index.size
constexpr int kCreateScalarWords = 16;

struct CreateScalars {
  double* w = nullptr;  // kCreateScalarWords doubles of the block
};

// Conntrack.pairTuple: the RELATED key tuple of t's address pair (ports 0, ICMP of the family).
inline void PairTupleOf(const Tuple& t, Tuple* p) {
  *p = t;
  p->sport = 0;
  p->dport = 0;
  p->proto = t.family == 6 ? kProtoIcmpV6 : kProtoIcmp;
}

// KeyIndex.slotOf, bounded: the slot holding `key` (>= 0), ~slot of the empty slot ending its
// probe run (< 0), or kNoSlot when the slots or a row they name do not fit the bound arrays.
constexpr int64_t kNoSlot = INT64_MIN;
inline int64_t SlotOf(const Tables& c, int ti, int32_t key) {
  const int32_t* s = c.slots[ti];
  uint32_t mask = c.slotMask[ti];
  uint32_t fp = 0x80u | ((static_cast<uint32_t>(key) >> 24) & 0x7fu);
  uint32_t probes = 0;
  for (uint32_t i = static_cast<uint32_t>(key) & mask;; i = (i + 1) & mask) {
    if (++probes > mask + 1) return kNoSlot;
    uint32_t v = static_cast<uint32_t>(s[i]);
    if (v == 0) return ~static_cast<int64_t>(i);
    if ((v >> 24) == fp) {
      uint32_t row = v & kRowMask;
      if (row >= c.rows) return kNoSlot;
      if (*c.W(row, kKey) == key) return static_cast<int64_t>(i);
    }
  }
}

// The rows of one chain from `head`, walked with a bound: false when a row is past the arrays
// or the chain is longer than the rows (a cycle).
template <class F>
inline bool WalkChain(const Tables& c, int32_t head, F&& visit) {
  size_t steps = 0;
  for (int32_t r = head; r >= 0; r = *c.W(static_cast<size_t>(r), kNext)) {
    if (static_cast<size_t>(r) >= c.rows || static_cast<size_t>(r) >= c.sideRows || ++steps > c.rows) return false;
    if (visit(r)) return true;
  }
  return true;
}

// Conntrack.lookupRow's "no entry" answer for a non-RELATED tuple, read-only: true when
// lookupRow would answer -1 having changed nothing but the key's recency stamp (probe's useKey;
// `hit` gets head/table/stamp, and Commit(c, *hit, false, 0, 0, now) does that stamp): no chain
// under the key, or a chain whose connection rows are all live and none holds `t` or its
// reverse. False, with nothing written, for an entry found, a reopen, an expiry on the way, or a
// stamp the fast path cannot give (the table's LRUCache built, SEQ_LIMIT): ct::Lookup or
// TypeScript decides. The lookup before Create; `key` is KeyOf(t, c.keyMask).
inline bool LookupMiss(const Tables& c, const Tuple& t, int32_t key, double now, Hit* hit) {
  const int ti = TableIndex(t.family, t.proto);
  hit->row = -1;
  hit->dir = kDirForward;
  hit->table = ti;
  hit->head = -1;
  hit->stamp = false;
  if (c.slots[ti] == nullptr) return true;  // no table: nothing to find, nothing written
  int64_t i = SlotOf(c, ti, key);
  if (i == kNoSlot) return false;
  if (i < 0) return true;
  const int32_t head = static_cast<int32_t>(static_cast<uint32_t>(c.slots[ti][i]) & kRowMask);
  // probe: the recency stamp is refreshed at most once per lruResolution.
  if (!(now - *c.F64(static_cast<size_t>(head), kUsed) < c.lruResolution)) {
    if (c.seq == nullptr || c.lruBuilt[ti] || !(c.seq[ti] < kSeqLimit)) return false;
    hit->stamp = true;
  }
  bool miss = true;
  if (!WalkChain(c, head, [&](int32_t r) {
        if (*c.W(r, kConn) >= 0) return false;
        // walk: an expired row would be removed; a live one holding t or its reverse is an entry.
        if (now > *c.F64(static_cast<size_t>(r), kExp) || IsReverse(c, r, t) || IsTuple(c, r, t)) miss = false;
        return !miss;
      })) {
    return false;
  }
  if (!miss) {
    hit->stamp = false;
    return false;
  }
  hit->head = head;
  return true;
}

// What CanCreate found, for Create (CanCreateAt fills it; Create recomputes it when not given).
struct CreatePlan {
  int ti = 0;          // the connection's table
  int pi = 0;          // the family's non-TCP table (the RELATED pair entry's)
  int32_t pairKey = 0;
  int32_t pairHead = -1;  // first row under pairKey before the creation (-1: none)
  int32_t pairRow = -1;   // the existing pair entry refreshed (-1: a new one is made)
};

// Read-only: may Create do createRow's work for `t` at `now` (table clock ms) without anything
// TypeScript must allocate? `key` is KeyOf(t, c.keyMask). See the list at the top of the file.
// `lookup`: the LookupMiss whose stamp is still to be committed before Create (its table's
// stamp counter is then one further when Create stamps), or nullptr when none is pending.
inline bool CanCreate(const Tables& c, const CreateScalars& s, const Tuple& t, int32_t key, double now, CreatePlan* plan, const Hit* lookup) {
  if (c.i32 == nullptr || s.w == nullptr || c.seq == nullptr) return false;
  const double* w = s.w;
  CreatePlan p;
  p.ti = TableIndex(t.family, t.proto);
  p.pi = TableIndex(t.family, kProtoIcmp);
  const int ti = p.ti, pi = p.pi;
  // 1, 2.
  if (c.slots[ti] == nullptr || c.slots[pi] == nullptr || c.lruBuilt[ti] || c.lruBuilt[pi]) return false;
  // upsertPair: the pair entry with this forward tuple, if any.
  Tuple pair;
  PairTupleOf(t, &pair);
  p.pairKey = KeyOf(pair, c.keyMask, /*related=*/1);  // Conntrack.key(t, related)
  int64_t ps = SlotOf(c, pi, p.pairKey);
  if (ps == kNoSlot) return false;
  p.pairHead = ps >= 0 ? static_cast<int32_t>(static_cast<uint32_t>(c.slots[pi][ps]) & kRowMask) : -1;
  int32_t found = -1;
  if (!WalkChain(c, p.pairHead, [&](int32_t r) {
        if (*c.W(r, kConn) >= 0 && IsTuple(c, r, pair)) {
          found = r;
          return true;
        }
        return false;
      })) {
    return false;
  }
  p.pairRow = found;
  const bool pairNew = found < 0;
  // What the creation adds per table: entries, index keys, stamps.
  double count[kTables] = {w[kCsCount], w[kCsCount + 1], w[kCsCount + 2], w[kCsCount + 3]};
  double size[kTables] = {w[kCsIndexSize], w[kCsIndexSize + 1], w[kCsIndexSize + 2], w[kCsIndexSize + 3]};
  double seq[kTables] = {c.seq[0], c.seq[1], c.seq[2], c.seq[3]};
  if (lookup != nullptr && lookup->stamp && lookup->table >= 0 && lookup->table < kTables) seq[lookup->table] += 1;
  // 6: each stamp needs seq < SEQ_LIMIT before it counts up.
  if (!(seq[pi] < kSeqLimit)) return false;
  seq[pi] += 1;
  if (pairNew) {
    // 3 (makeRoom), 5 (KeyIndex.push grows after the insert that passes 3/4).
    if (!(count[pi] < w[kCsMax + pi])) return false;
    count[pi] += 1;
    if (ps < 0) {
      size[pi] += 1;
      if (size[pi] * 4 > (static_cast<double>(c.slotMask[pi]) + 1) * 3) return false;
    }
  }
  // 7: unlinkWhere(tab, key, t, false) would find a connection with this forward tuple.
  int64_t cs = SlotOf(c, ti, key);
  if (cs == kNoSlot) return false;
  int32_t head = cs >= 0 ? static_cast<int32_t>(static_cast<uint32_t>(c.slots[ti][cs]) & kRowMask) : -1;
  bool same = false;
  if (!WalkChain(c, head, [&](int32_t r) { return same = *c.W(r, kConn) < 0 && IsTuple(c, r, t); })) return false;
  if (same) return false;
  // 3, 5, 6 for the connection's own link (after the pair's, which may share the table and key).
  if (!(count[ti] < w[kCsMax + ti])) return false;
  bool keyThere = cs >= 0 || (pairNew && ti == pi && ps < 0 && p.pairKey == key);
  if (!keyThere) {
    size[ti] += 1;
    if (size[ti] * 4 > (static_cast<double>(c.slotMask[ti]) + 1) * 3) return false;
  }
  if (!(seq[ti] < kSeqLimit)) return false;
  // 4: rows, popped from the free stack first, then from rowTop.
  // Ids stay int32 (W_ID).
  if (!(w[kCsNextId] >= 1 && w[kCsNextId] < 2147483647.0)) return false;
  double need = pairNew ? 2 : 1;
  double freeCount = w[kCsFreeCount];
  double rowTop = w[kCsRowTop];
  if (!(freeCount >= 0 && rowTop >= 0 && freeCount <= static_cast<double>(c.freeRowsLength))) return false;
  if (freeCount + (static_cast<double>(c.rows) - rowTop) < need) return false;
  // 8: the rows handed out must fit the bound arrays (the side words too: setKey writes them).
  for (double k = 0, fc = freeCount, top = rowTop; k < need; k++) {
    double row = fc > 0 ? c.freeRows[static_cast<size_t>(--fc)] : top++;
    if (!(row >= 0 && row < static_cast<double>(c.rows) && row < static_cast<double>(c.sideRows))) return false;
  }
  if (plan != nullptr) *plan = p;
  return true;
}

inline bool CanCreate(const Tables& c, const CreateScalars& s, const Tuple& t, int32_t key, double now, CreatePlan* plan) {
  return CanCreate(c, s, t, key, now, plan, nullptr);
}

inline bool CanCreate(const Tables& c, const CreateScalars& s, const Tuple& t, int32_t key, double now) {
  return CanCreate(c, s, t, key, now, nullptr, nullptr);
}

// newRow without growth (CanCreate saw a row): the free stack's top, else the next unused row;
// the row's words reset as newRow resets them (its side words are left as they are).
inline int32_t NewRow(Tables& c, const CreateScalars& s) {
  double* w = s.w;
  int32_t row;
  if (w[kCsFreeCount] > 0) {
    w[kCsFreeCount] -= 1;
    row = c.freeRows[static_cast<size_t>(w[kCsFreeCount])];
  } else {
    row = static_cast<int32_t>(w[kCsRowTop]);
    w[kCsRowTop] += 1;
  }
  int32_t* r = c.W(static_cast<size_t>(row), 0);
  for (int k = 0; k < kRowWords; k++) r[k] = 0;
  r[kNext] = -1;
  r[kUserGen] = -1;
  r[kUserSrcEndpoint] = -1;
  r[kUserDstEndpoint] = -1;
  r[kRevNat] = -1;
  *c.F64(static_cast<size_t>(row), kUsed) = kNever;
  return row;
}

// setKey: the tuple words; the upper address words to the side array unless both are
// IPv4-mapped.
inline void SetKey(Tables& c, int32_t row, const Tuple& t) {
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kHead] = t.family | (t.proto << 8);
  w[kPorts] = static_cast<int32_t>((static_cast<uint32_t>(t.sport) << 16) | static_cast<uint32_t>(t.dport));
  w[kSrc3] = t.src[3];
  w[kDst3] = t.dst[3];
  if (t.mapped) {
    w[kBits] &= ~kBitUpper;
  } else {
    w[kBits] |= kBitUpper;
    int32_t* side = c.side + static_cast<size_t>(row) * kSideWords + kSideUpper;
    side[0] = t.src[0];
    side[1] = t.src[1];
    side[2] = t.src[2];
    side[3] = t.dst[0];
    side[4] = t.dst[1];
    side[5] = t.dst[2];
  }
}

// initTimers (ct_create4): created/seen now, flags and closing cleared, reports never, then
// ct_update_timeout with a SYN for TCP.
inline void InitTimers(Tables& c, int32_t row, double now) {
  size_t r = static_cast<size_t>(row);
  int32_t* w = c.W(r, 0);
  bool tcp = (static_cast<uint32_t>(w[kHead]) >> 8) == static_cast<uint32_t>(kProtoTcp);
  *c.F64(r, kCreated) = now;
  *c.F64(r, kSeen) = now;
  w[kBits] &= ~(0xffff00 | kBitTxClosing | kBitRxClosing | kBitSeenNonSyn);
  *c.F64(r, kTxReport) = kNever;
  *c.F64(r, kRxReport) = kNever;
  UpdateTimeout(c, r, tcp, kDirForward, tcp ? kTcpSyn : 0, now);
}

// stamp (before the table's LRUCache exists; CanCreate kept seq below SEQ_LIMIT).
inline void Stamp(Tables& c, int ti, int32_t head) {
  c.seq[ti] += 1;
  *c.W(static_cast<size_t>(head), kLruSeq) = static_cast<int32_t>(c.seq[ti]);
}

// KeyIndex.push without growth: `row` first under `key`; the row that was first before, or -1.
inline int32_t IndexPush(Tables& c, const CreateScalars& s, int ti, int32_t key, int32_t row) {
  int64_t i = SlotOf(c, ti, key);
  int32_t* slots = c.slots[ti];
  int32_t previous = i >= 0 ? static_cast<int32_t>(static_cast<uint32_t>(slots[i]) & kRowMask) : -1;
  uint32_t fp = 0x80u | ((static_cast<uint32_t>(key) >> 24) & 0x7fu);
  slots[i >= 0 ? i : ~i] = static_cast<int32_t>((fp << 24) | static_cast<uint32_t>(row));
  if (i < 0) s.w[kCsIndexSize + ti] += 1;
  return previous;
}

// link: the row first under its key, stamped, used now, counted.
inline void Link(Tables& c, const CreateScalars& s, int ti, int32_t key, int32_t row, double now) {
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kKey] = key;
  w[kTable] = ti;
  w[kNext] = IndexPush(c, s, ti, key, row);
  Stamp(c, ti, row);
  *c.F64(static_cast<size_t>(row), kUsed) = now;
  s.w[kCsCount + ti] += 1;
}

// Conntrack.createRow for a non-RELATED tuple CanCreate allowed (with the plan it filled, or
// nullptr to compute it again): the new connection's row.
inline int32_t Create(Tables& c, CreateScalars& s, const Tuple& t, int32_t key, double now, const CreatePlan* given) {
  CreatePlan computed;
  if (given == nullptr) {
    if (!CanCreate(c, s, t, key, now, &computed)) return -1;
    given = &computed;
  }
  const CreatePlan& p = *given;
  const int32_t row = NewRow(c, s);
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kId] = static_cast<int32_t>(s.w[kCsNextId]);
  s.w[kCsNextId] += 1;
  w[kConn] = -1;
  SetKey(c, row, t);
  InitTimers(c, row, now);
  w[kBits] |= kBitCreating;
  // upsertPair(t, now, row): ct_create4 writes the RELATED entry first.
  if (p.pairRow >= 0) {
    // The value is replaced (fresh timers); an update is a use of the key (useKey stamps the head).
    Stamp(c, p.pi, p.pairHead);
    *c.W(static_cast<size_t>(p.pairRow), kConn) = row;
    InitTimers(c, p.pairRow, now);
  } else {
    Tuple pair;
    PairTupleOf(t, &pair);
    const int32_t n = NewRow(c, s);
    SetKey(c, n, pair);
    *c.W(static_cast<size_t>(n), kId) = 0;
    *c.W(static_cast<size_t>(n), kConn) = row;
    InitTimers(c, n, now);
    Link(c, s, p.pi, p.pairKey, n, now);
    s.w[kCsRelated] += 1;
  }
  // unlinkWhere found nothing and makeRoom evicts nothing (CanCreate); link.
  Link(c, s, p.ti, key, row, now);
  return row;
}

inline int32_t Create(Tables& c, CreateScalars& s, const Tuple& t, int32_t key, double now) { return Create(c, s, t, key, now, nullptr); }

// --- the datapath's writes into a new row (src/datapath/program.ts Datapath.decide)

// A translated connection: REV_NAT, setOrigDst, ORIG_DPORT.
inline void SetTranslated(Tables& c, int32_t row, int32_t revNat, const uint32_t* origDst, int32_t origDport) {
  size_t r = static_cast<size_t>(row);
  *c.W(r, kRevNat) = revNat;
  int32_t* side = c.side + r * kSideWords + kSideOrigDst;
  for (int k = 0; k < 4; k++) side[k] = static_cast<int32_t>(origDst[k]);
  *c.W(r, kOrigDport) = origDport;
}

// rememberLocated: the generation, endpoints and identities (forward direction).
inline void RememberLocated(Tables& c, int32_t row, int32_t gen, int32_t srcEndpoint, int32_t dstEndpoint, uint32_t srcIdentity, uint32_t dstIdentity) {
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kUserGen] = gen;
  w[kUserSrcEndpoint] = srcEndpoint;
  w[kUserDstEndpoint] = dstEndpoint;
  w[kUserSrcIdentity] = static_cast<int32_t>(srcIdentity);
  w[kUserDstIdentity] = static_cast<int32_t>(dstIdentity);
}

// Conntrack.touchRow: the creating packet (BIT_CREATING: only accounted, its timers are
// ct_create4's) here; any other packet through Commit, which mirrors the rest of touchRow.
// touchRow's report answer is not kept (program.ts ignores it on these paths).
inline void TouchRow(Tables& c, int32_t row, int dir, int32_t tcpFlags, int32_t bytes, double now) {
  size_t r = static_cast<size_t>(row);
  int32_t* w = c.W(r, 0);
  if ((w[kBits] & kBitCreating) == 0) {
    Hit hit;
    hit.row = row;
    hit.dir = dir;
    hit.stamp = false;
    Commit(c, hit, true, tcpFlags, bytes, now);
    return;
  }
  *c.F64(r, kSeen) = now;
  int32_t bits = w[kBits];
  if (dir == kDirReply) {
    w[kRxPackets] = static_cast<int32_t>(static_cast<uint32_t>(w[kRxPackets]) + 1u);
    *c.F64(r, kRxBytes) += bytes;
    bits |= kBitSeenReply;
  } else {
    w[kTxPackets] = static_cast<int32_t>(static_cast<uint32_t>(w[kTxPackets]) + 1u);
    *c.F64(r, kTxBytes) += bytes;
  }
  w[kBits] = bits & ~kBitCreating;
}

// dropPacket for a new connection (not --per-packet): the drop reason (-verdict), the stage and
// node (packDropPlace), the rule + 1, then touchRow forward.
inline void MarkDropped(Tables& c, int32_t row, int32_t reason, int32_t place, int32_t rulePlusOne, int32_t tcpFlags, int32_t bytes, double now) {
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kUser0] = reason;
  w[kUser1] = place;
  w[kUser2] = rulePlusOne;
  TouchRow(c, row, kDirForward, tcpFlags, bytes, now);
}

// An allowed new connection: PROXY_PORT, USER1 (proxy stage + 1), then touchRow forward.
inline void MarkAllowed(Tables& c, int32_t row, int32_t proxyPort, int32_t proxyStagePlusOne, int32_t tcpFlags, int32_t bytes, double now) {
  int32_t* w = c.W(static_cast<size_t>(row), 0);
  w[kProxyPort] = proxyPort;
  w[kUser1] = proxyStagePlusOne;
  TouchRow(c, row, kDirForward, tcpFlags, bytes, now);
}

}  // namespace hubcap::fastpath::ct

#endif  // HUBCAP_NATIVE_FASTPATH_CT_CREATE_H_
