// The summary port: src/flow/summary.ts FlowSummary.addFinal (+ flushPending) and TopDropped.add
// (+ minimum, siftUp, siftDown, swap) for the final events the fast path produces, and for a new
// connection's events FlowSummary.addPolicyVerdict, add's TRANSLATED branch and addFinal with
// pairOf / PairTable.find / add / place, over FlowSummary's own typed arrays. Every write is the TypeScript one, in the same order, with the
// same double arithmetic (the Float64Array counters) and the same int32 / typed-array-store
// conversions (Int32Array: ToInt32, Uint16Array: ToUint16, Uint8Array: ToUint8).
#include "summary.h"

#include <cmath>

#include "js_number.h"

namespace hubcap::fastpath {

namespace {

// src/datapath/events.ts Verdict and TrafficDirection.
constexpr int32_t kVerdictForwarded = 1;
constexpr int32_t kVerdictDropped = 2;
constexpr int32_t kVerdictAudit = 4;
constexpr int32_t kVerdictRedirected = 5;
constexpr int32_t kDirectionEgress = 2;

// src/flow/summary.ts record mask bits and rule outcomes.
constexpr int32_t kBitRuleBase = 8;     // BIT_RULE_BASE: 8..13 (direction, outcome) counted
constexpr int32_t kBitTranslated = 14;  // BIT_TRANSLATED
constexpr int32_t kOutcomeAllow = 0;    // OUTCOME_ALLOW
constexpr int32_t kOutcomeDeny = 1;     // OUTCOME_DENY
constexpr int32_t kOutcomeAudit = 2;    // OUTCOME_AUDIT
constexpr int64_t kOtherPairs = 0;      // OTHER_PAIRS: the "(other pairs)" row

// addFinal's side of an endpoint: its index, or -1 - identity (a double: identities above
// 2^31 - 1 give sides below INT32_MIN, which no record caches).
inline double SideOf(int32_t endpoint, uint32_t identity) {
  return endpoint >= 0 ? static_cast<double>(endpoint) : -1.0 - static_cast<double>(identity);
}

// addFinal's endpoint pair sides, oriented client -> server (a reply's are swapped).
inline void OrientedSides(const FinalEvent& ev, double* srcSide, double* dstSide) {
  *srcSide = SideOf(ev.srcEndpoint, ev.srcIdentity);
  *dstSide = SideOf(ev.dstEndpoint, ev.dstIdentity);
  if (ev.isReply) {
    const double s = *srcSide;
    *srcSide = *dstSide;
    *dstSide = s;
  }
}

// ConnectionRecords.at for a connection number whose record is in the dense array as bound:
// the record's offset, or -1 when `at` would go elsewhere (zero, negative, fractional or
// >= DENSE_LIMIT numbers: the sparse map) or grow the array first.
inline int64_t DenseRecord(const SummaryTables& t, double conn) {
  if (!(conn > 0 && conn < kSumDenseLimit)) return -1;
  const int64_t c = static_cast<int64_t>(conn);
  if (static_cast<double>(c) != conn) return -1;
  const int64_t off = c * kSumRec;
  if (off + kSumRec > static_cast<int64_t>(t.recordsLength)) return -1;
  return off;
}

// TopDropped.size from the scalar block, or -1 when it is not a slot count of this capacity.
inline int64_t DroppedSize(const SummaryTables& t) {
  const double s = t.scalars[kSumDroppedSize];
  if (!(s >= 0 && s <= static_cast<double>(t.capacity))) return -1;
  const int64_t n = static_cast<int64_t>(s);
  return static_cast<double>(n) == s ? n : -1;
}

// TopDropped.swap. Heap positions are below size <= capacity; the slots read from the heap are
// checked before they index `pos` (a corrupt heap must not write elsewhere).
inline void Swap(SummaryTables& t, size_t a, size_t b) {
  const int32_t sa = t.heap[a];
  const int32_t sb = t.heap[b];
  t.heap[a] = sb;
  t.heap[b] = sa;
  if (static_cast<uint32_t>(sb) < t.capacity) t.pos[sb] = static_cast<int32_t>(a);
  if (static_cast<uint32_t>(sa) < t.capacity) t.pos[sa] = static_cast<int32_t>(b);
  const double ka = t.heapKey[a];
  t.heapKey[a] = t.heapKey[b];
  t.heapKey[b] = ka;
}

// TopDropped.siftUp (4-ary; less(a, b) is heapKey[a] < heapKey[b]).
inline void SiftUp(SummaryTables& t, size_t i) {
  while (i > 0) {
    const size_t parent = (i - 1) >> 2;
    if (!(t.heapKey[i] < t.heapKey[parent])) break;
    Swap(t, i, parent);
    i = parent;
  }
}

// TopDropped.siftDown over the first `size` heap positions.
inline void SiftDown(SummaryTables& t, size_t i, size_t size) {
  const double* key = t.heapKey;
  for (;;) {
    const size_t first = 4 * i + 1;
    if (first >= size) return;
    const size_t last = first + 4 < size ? first + 4 : size;
    size_t m = i;
    double k = key[i];
    for (size_t c = first; c < last; c++) {
      if (key[c] < k) {
        m = c;
        k = key[c];
      }
    }
    if (m == i) return;
    Swap(t, i, m);
    i = m;
  }
}

// TopDropped.minimum: the top's slot once no stale top is left (re-placed as TypeScript does),
// or -1 for a heap that cannot be TopDropped's (a slot out of range, or more re-placements than
// positions: each re-placement settles one position's key, so a real heap needs at most size).
int64_t Minimum(SummaryTables& t, size_t size) {
  if (size == 0) return -1;
  for (size_t rounds = 0; rounds <= size; rounds++) {
    const int32_t top = t.heap[0];
    if (static_cast<uint32_t>(top) >= t.capacity) return -1;
    const double c = t.count[top];
    if (t.heapKey[0] == c) return top;
    t.heapKey[0] = c;
    SiftDown(t, 0, size);
  }
  return -1;
}

// flushPending: the record's pending packets to its pair's row.
inline void FlushPending(SummaryTables& t, int32_t* r) {
  const int32_t pending = r[kSumRPending];
  t.pairPackets[static_cast<int64_t>(r[kSumRPair] - 1) * 8 + (pending & 7)] += static_cast<double>(static_cast<uint32_t>(pending) >> 3);
  r[kSumRPending] = 0;
}

// TopDropped.add for a dropped packet of ev.connection, whose record is at `rec`.
void DroppedAdd(SummaryTables& t, int64_t rec, const FinalEvent& ev, double srcSide, double dstSide) {
  if (t.capacity == 0) return;
  const int32_t tracked = t.records[rec + kSumRDropSlot];
  if (tracked != 0) {
    t.count[tracked - 1] += 1;
    return;
  }
  const size_t size = static_cast<size_t>(DroppedSize(t));
  size_t slot;
  double count = 1;
  const bool fresh = size < t.capacity;
  if (fresh) {
    slot = size;
    t.scalars[kSumDroppedSize] = static_cast<double>(size + 1);
    t.heap[slot] = static_cast<int32_t>(slot);
    t.pos[slot] = static_cast<int32_t>(slot);
    t.heapKey[slot] = 1;
    t.error[slot] = 0;
  } else {
    // Space-Saving: the least counted connection gives its slot, and its count, to this one.
    slot = static_cast<size_t>(Minimum(t, size));
    const int64_t old = DenseRecord(t, t.key[slot]);
    t.records[old + kSumRDropSlot] = 0;
    t.error[slot] = t.count[slot];
    count = t.error[slot] + 1;
    t.heapKey[0] = count;
    t.scalars[kSumDroppedEvictions] += 1;
  }
  t.key[slot] = ev.connection;
  t.records[rec + kSumRDropSlot] = static_cast<int32_t>(slot + 1);
  t.count[slot] = count;
  t.reason[slot] = static_cast<uint16_t>(ev.dropReason);
  t.srcSide[slot] = srcSide;
  t.dstSide[slot] = dstSide;
  const bool reply = ev.isReply;
  t.family[slot] = static_cast<uint8_t>(ev.ipVersion);
  t.proto[slot] = static_cast<uint8_t>(ev.ipProto);
  t.sport[slot] = static_cast<uint16_t>(reply ? ev.dport : ev.sport);
  t.dport[slot] = static_cast<uint16_t>(reply ? ev.sport : ev.dport);
  const uint32_t* a = reply ? ev.dst : ev.src;
  const uint32_t* b = reply ? ev.src : ev.dst;
  uint32_t* w = t.words + slot * 8;
  for (int k = 0; k < 4; k++) w[k] = a[k];
  for (int k = 0; k < 4; k++) w[4 + k] = b[k];
  if (fresh) SiftUp(t, static_cast<size_t>(t.pos[slot]));
  else SiftDown(t, 0, size);
}

}  // namespace

bool SummaryCheckFinal(SummaryTables& t, const FinalEvent& ev, bool findVictim, FinalPlace* place) {
  if (!t.bound || ev.verdict < 0 || ev.verdict > 7) return false;
  const int64_t rec = DenseRecord(t, ev.connection);
  if (rec < 0) return false;
  const int32_t* r = t.records + rec;
  double srcSide, dstSide;
  OrientedSides(ev, &srcSide, &dstSide);
  // addFinal's cached branch only: another pair needs PairTable (pairOf).
  if (r[kSumRPair] == 0 || static_cast<double>(r[kSumRSrcSide]) != srcSide || static_cast<double>(r[kSumRDstSide]) != dstSide) return false;
  const int64_t row = (static_cast<int64_t>(r[kSumRPair]) - 1) * 8;
  if (row < 0 || row + 8 > static_cast<int64_t>(t.pairPacketsLength) || row + 8 > static_cast<int64_t>(t.pairConnectionsLength)) return false;
  if (ev.verdict == kVerdictDropped && t.capacity > 0) {
    const int64_t size = DroppedSize(t);
    if (size < 0) return false;
    const int32_t tracked = r[kSumRDropSlot];
    if (tracked != 0) {
      if (tracked < 1 || static_cast<uint32_t>(tracked) > t.capacity) return false;
    }
  }
  if (place != nullptr) {
    place->rec = rec;
    place->srcSide = srcSide;
    place->dstSide = dstSide;
  }
  return !findVictim || SummaryCheckVictimAt(t, ev, rec);
}

bool SummaryCheckVictim(SummaryTables& t, const FinalEvent& ev) { return SummaryCheckVictimAt(t, ev, DenseRecord(t, ev.connection)); }

bool SummaryCheckVictimAt(SummaryTables& t, const FinalEvent& ev, int64_t rec) {
  if (ev.verdict != kVerdictDropped || t.capacity == 0) return true;
  const int64_t size = DroppedSize(t);
  if (rec < 0 || size < 0) return false;
  if (t.records[rec + kSumRDropSlot] != 0 || static_cast<uint64_t>(size) < t.capacity) return true;
  // The slot the connection would take: its owner's record must be dense (TypeScript's
  // records.at would otherwise reach the sparse map or grow the array).
  const int64_t slot = Minimum(t, static_cast<size_t>(size));
  return slot >= 0 && DenseRecord(t, t.key[slot]) >= 0;
}


// ---- A new connection's events ------------------------------------------------------------------

namespace {

// `(x | 0) === x`: an integer in int32 range (sides are never -0).
inline bool IsInt32(double d) { return d >= -2147483648.0 && d <= 2147483647.0 && d == std::trunc(d); }

// pairHash: Math.imul and the unsigned shifts over the sides folded to int32.
inline uint32_t PairHash(double a, double b) {
  uint32_t h = static_cast<uint32_t>(JsToInt32(a)) * 0x9e3779b1u ^ static_cast<uint32_t>(JsToInt32(b));
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  return h ^ (h >> 13);
}

// addPolicyVerdict's outcome for a verdict, or -1 for the verdicts it ignores.
inline int32_t RuleOutcome(int32_t verdict) {
  switch (verdict) {
    case kVerdictForwarded:
    case kVerdictRedirected:
      return kOutcomeAllow;
    case kVerdictDropped:
      return kOutcomeDeny;
    case kVerdictAudit:
      return kOutcomeAudit;
    default:
      return -1;
  }
}

// PairTable.count from the scalar block, or -1 when it is not a pair count the sides can hold.
inline int64_t PairCount(const SummaryTables& t) {
  const double c = t.scalars[kSumPairCount];
  if (!(c >= 0 && c < static_cast<double>(t.pairSidesLength))) return -1;
  const int64_t n = static_cast<int64_t>(c);
  return static_cast<double>(n) == c ? n : -1;
}

// True when pair `n`'s row (8 verdicts) is inside both pair arrays.
inline bool PairRowInside(const SummaryTables& t, int64_t n) {
  return n >= 0 && (n + 1) * 8 <= static_cast<int64_t>(t.pairPacketsLength) && (n + 1) * 8 <= static_cast<int64_t>(t.pairConnectionsLength);
}

// PairTable.find: the pair's number, -1 when it was never added, or -2 for buckets that cannot be
// PairTable's (a number outside the sides, or no empty bucket on the way: TypeScript keeps them
// at most half full).
int64_t FindPair(const SummaryTables& t, double srcSide, double dstSide) {
  const int32_t* b = t.pairBuckets;
  const size_t mask = t.pairBucketsLength - 1;
  size_t i = PairHash(srcSide, dstSide) & mask;
  for (size_t probes = 0; probes < t.pairBucketsLength; probes++, i = (i + 1) & mask) {
    const int64_t n = static_cast<int64_t>(b[i]) - 1;
    if (n < 0) return -1;
    if (n >= static_cast<int64_t>(t.pairSidesLength)) return -2;
    if (t.pairSrc[n] == srcSide && t.pairDst[n] == dstSide) return n;
  }
  return -2;
}

// pairOf for sides FindPair did not find (checked: the insert needs no growth): PairTable.add
// (+ place), or the "(other pairs)" row once maxPairs pairs exist.
int64_t AddPair(SummaryTables& t, double srcSide, double dstSide) {
  const double count = t.scalars[kSumPairCount];
  if (count >= t.maxPairs) {
    t.scalars[kSumPairsTruncated] = 1;
    return kOtherPairs;
  }
  const int64_t n = static_cast<int64_t>(count) + 1;
  t.scalars[kSumPairCount] = static_cast<double>(n);
  t.pairSrc[n] = srcSide;
  t.pairDst[n] = dstSide;
  int32_t* b = t.pairBuckets;
  const size_t mask = t.pairBucketsLength - 1;
  size_t i = PairHash(t.pairSrc[n], t.pairDst[n]) & mask;
  while (b[i] != 0) i = (i + 1) & mask;
  b[i] = static_cast<int32_t>(n + 1);
  return n;
}

// SummaryCommitNewFinal's writes for the event's record (at `rec`) and oriented sides.
void CommitFinalAt(SummaryTables& t, const FinalEvent& ev, int64_t rec, double srcSide, double dstSide) {
  const int32_t v = ev.verdict;
  t.packets[v] += 1;
  if (ev.inherited) t.scalars[kSumInheritedPackets] += 1;
  int32_t* r = t.records + rec;
  const int32_t mask = r[kSumRMask];
  const int32_t bit = 1 << v;
  const bool firstOfVerdict = (mask & bit) == 0;
  if (firstOfVerdict) {
    r[kSumRMask] = mask | bit;
    t.connections[v] += 1;
  }
  const int32_t reason = ev.dropReason & 0xff;
  if (v == kVerdictDropped) {
    t.dropPackets[reason] += 1;
    if (firstOfVerdict) t.dropConnections[reason] += 1;
  }

  // Endpoint pair, oriented client -> server: the record's, unless this event's sides differ
  // from the ones it was found for.
  int64_t pair;
  bool cached = true;
  if (r[kSumRPair] != 0 && static_cast<double>(r[kSumRSrcSide]) == srcSide && static_cast<double>(r[kSumRDstSide]) == dstSide) {
    pair = static_cast<int64_t>(r[kSumRPair]) - 1;
  } else {
    // The pending packets belong to the pair the record held until now.
    if (r[kSumRPending] != 0) FlushPending(t, r);
    pair = FindPair(t, srcSide, dstSide);
    if (pair < 0) pair = AddPair(t, srcSide, dstSide);
    // Sides are int32 but for identities above 2^31 - 1 (never cached, always looked up).
    cached = IsInt32(srcSide) && IsInt32(dstSide);
    if (cached) {
      r[kSumRPair] = static_cast<int32_t>(pair + 1);
      r[kSumRSrcSide] = static_cast<int32_t>(srcSide);
      r[kSumRDstSide] = static_cast<int32_t>(dstSide);
    }
  }
  if (cached) {
    const int32_t pending = r[kSumRPending];
    if (pending != 0 && (pending & 7) == v && pending < kSumPendingLimit) {
      r[kSumRPending] = pending + 8;
    } else {
      if (pending != 0) FlushPending(t, r);
      r[kSumRPending] = 8 | v;
    }
  } else {
    t.pairPackets[pair * 8 + v] += 1;
  }
  if (firstOfVerdict) t.pairConnections[pair * 8 + v] += 1;

  if (v == kVerdictDropped) DroppedAdd(t, rec, ev, srcSide, dstSide);
}

}  // namespace

bool SummaryCheckPolicyVerdict(const SummaryTables& t, const PolicyVerdictEvent& ev) {
  if (!t.bound || !t.newBound) return false;
  // addPolicyVerdict returns before reading the record for the other verdicts.
  if (RuleOutcome(ev.verdict) < 0) return true;
  return DenseRecord(t, ev.connection) >= 0;
}

void SummaryCommitPolicyVerdict(SummaryTables& t, const PolicyVerdictEvent& ev) {
  const int32_t outcome = RuleOutcome(ev.verdict);
  if (outcome < 0) return;
  const int32_t direction = ev.trafficDirection == kDirectionEgress ? 1 : 0;
  int32_t* r = t.records + DenseRecord(t, ev.connection);
  const int32_t bit = 1 << (kBitRuleBase + direction * 3 + outcome);
  if ((r[kSumRMask] & bit) != 0) return;
  r[kSumRMask] |= bit;
  const int64_t rules = static_cast<int64_t>(t.ruleConnectionsLength / 6) - 1;
  const int64_t slot = ev.rule >= 0 && ev.rule < rules ? static_cast<int64_t>(ev.rule) + 1 : 0;
  t.ruleConnections[slot * 6 + direction * 3 + outcome] += 1;
}

bool SummaryCheckTranslated(const SummaryTables& t, double connection) {
  return t.bound && DenseRecord(t, connection) >= 0;
}

void SummaryCommitTranslated(SummaryTables& t, double connection) {
  int32_t* r = t.records + DenseRecord(t, connection);
  if ((r[kSumRMask] & (1 << kBitTranslated)) == 0) {
    r[kSumRMask] |= 1 << kBitTranslated;
    t.scalars[kSumTranslatedConnections] += 1;
  }
}

bool SummaryCheckNewFinal(SummaryTables& t, const FinalEvent& ev, bool findVictim, FinalPlace* place) {
  if (!t.bound || !t.newBound || ev.verdict < 0 || ev.verdict > 7) return false;
  const int64_t rec = DenseRecord(t, ev.connection);
  if (rec < 0) return false;
  const int32_t* r = t.records + rec;
  double srcSide, dstSide;
  OrientedSides(ev, &srcSide, &dstSide);
  if (r[kSumRPair] != 0 && static_cast<double>(r[kSumRSrcSide]) == srcSide && static_cast<double>(r[kSumRDstSide]) == dstSide) {
    // addFinal's cached branch: the record's pair row.
    if (!PairRowInside(t, static_cast<int64_t>(r[kSumRPair]) - 1)) return false;
  } else {
    // flushPending into the pair the record held until now.
    if (r[kSumRPending] != 0 && !PairRowInside(t, static_cast<int64_t>(r[kSumRPair]) - 1)) return false;
    const int64_t found = FindPair(t, srcSide, dstSide);
    if (found == -2) return false;
    if (found >= 0) {
      if (!PairRowInside(t, found)) return false;
    } else {
      const int64_t count = PairCount(t);
      if (count < 0) return false;
      if (static_cast<double>(count) >= t.maxPairs) {
        if (!PairRowInside(t, kOtherPairs)) return false;
      } else {
        // PairTable.add without growPairs (n < src.length) or rehash (n * 2 <= buckets).
        const int64_t n = count + 1;
        if (n >= static_cast<int64_t>(t.pairSidesLength) || n * 2 > static_cast<int64_t>(t.pairBucketsLength) || !PairRowInside(t, n)) return false;
      }
    }
  }
  if (ev.verdict == kVerdictDropped && t.capacity > 0) {
    if (DroppedSize(t) < 0) return false;
    const int32_t tracked = r[kSumRDropSlot];
    if (tracked != 0 && (tracked < 1 || static_cast<uint32_t>(tracked) > t.capacity)) return false;
  }
  if (place != nullptr) {
    place->rec = rec;
    place->srcSide = srcSide;
    place->dstSide = dstSide;
  }
  return !findVictim || SummaryCheckVictimAt(t, ev, rec);
}

void SummaryCommitNewFinal(SummaryTables& t, const FinalEvent& ev) {
  double srcSide, dstSide;
  OrientedSides(ev, &srcSide, &dstSide);
  CommitFinalAt(t, ev, DenseRecord(t, ev.connection), srcSide, dstSide);
}

// The cached-pair case of SummaryCommitNewFinal (SummaryCheckFinal made sure the record's pair
// applies), from the record and sides SummaryCheckFinal found.
void SummaryCommitFinal(SummaryTables& t, const FinalEvent& ev, const FinalPlace& place) { CommitFinalAt(t, ev, place.rec, place.srcSide, place.dstSide); }

}  // namespace hubcap::fastpath
