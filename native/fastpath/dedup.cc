// src/datapath/dedup.ts Deduplicator in C++, over the Deduplicator's own arrays (see dedup.h).
// Every function below mirrors the TypeScript one of the same name (noted as "dedup.ts name"),
// with JavaScript's number semantics: int32 words where TypeScript computes with | 0, >>>,
// Math.imul or stores into an Int32Array (ToInt32, JsToInt32 below), doubles where it computes
// with plain numbers (times, ages, the observation point).
#include "dedup.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "hash.h"
#include "js_number.h"

// The time arithmetic must round exactly as JavaScript's: no fused multiply-add of
// (sec - s) * 1e9 + (nsec - n).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace hubcap::fastpath {
namespace {

// dedup.ts constants.
constexpr int K = kDedupRecordWords;
constexpr int WAYS = kDedupWays;
constexpr int POINTS = kDedupPoints;
constexpr int HEAD_BYTES = 64;
constexpr int TAIL_BYTES = 32;
constexpr int HDR = kDedupHeaderWords;
constexpr int H_SEC = 4;
constexpr int H_NSEC = 8;
constexpr int H_REF = 12;
constexpr uint32_t REF_ROW = (1u << 25) - 1;
constexpr int REF_POINTS = 29;
constexpr int REF_NEXT = 25;
constexpr int ROW = kDedupRowWords;
constexpr int R_SEC = K;
constexpr int R_NSEC = K + 1;
constexpr int R_POINTS = K + 2;
constexpr double TWO32 = 4294967296.0;
constexpr double kInfinity = std::numeric_limits<double>::infinity();

inline int32_t I32(uint32_t x) { return static_cast<int32_t>(x); }
inline uint32_t U32(int32_t x) { return static_cast<uint32_t>(x); }

// dedup.ts hashWords.
inline int32_t HashWords(int32_t w0, int32_t w4, int32_t w8, int32_t w9, int32_t w10x11, int32_t w12x20, int32_t w14) {
  const int32_t h = Murmur3Round(Murmur3Round(Murmur3Round(Murmur3Round(0x2f1e3d4c, w0), w4), w8), w9);
  return Murmur3Finish(Murmur3Round(Murmur3Round(h, w10x11), w12x20) ^ w14) | 1;
}

// dedup.ts recordHash.
inline int32_t RecordHash(const int32_t* r) { return HashWords(r[0], r[4], r[8], r[9], r[10] ^ r[11], r[12] ^ r[20], r[14]); }

// fillRow's word 0 (kinds and flags) and word 9 (ports) for a fast-path packet.
inline int32_t RowWord0(const FastPacket& p) {
  return I32(U32(p.ipVersion) | (U32(p.ipProto) << 8) | (U32(p.kind) << 16) |
             /* isFragment: 0 << 24, fragMore: 0 << 25 */ (p.hasPorts != 0 ? 1u << 26 : 0u)
             /* hasIcmpInner: 0 << 27 */);
}
inline int32_t RowWord9(const FastPacket& p) { return I32((U32(p.sport) << 16) | U32(p.dport)); }

// dedup.ts fillRow for a fast-path packet: not a fragment (isFragment, fragMore false,
// fragOffset 0), no ICMP quote (hasIcmpInner false, icmpInner* 0). Its hash (recordHash of the
// row) is the key's, computed apart (KeyOf): a batch knows it from the look-ahead (DedupPrefetch),
// with the words the hash and the row share.
inline void FillRow(int32_t* r, const FastPacket& p, const DedupKey& key) {
  r[0] = key.word0;
  r[1] = I32(p.src[0]);
  r[2] = I32(p.src[1]);
  r[3] = I32(p.src[2]);
  r[4] = I32(p.src[3]);
  r[5] = I32(p.dst[0]);
  r[6] = I32(p.dst[1]);
  r[7] = I32(p.dst[2]);
  r[8] = I32(p.dst[3]);
  r[9] = key.word9;
  r[10] = p.ipId;
  r[11] = I32(p.tcpSeq);
  r[12] = I32(p.tcpAck);
  r[13] = I32(U32(p.tcpFlags) | (U32(p.tcpWindow) << 16));
  r[14] = p.ipLength;
  r[15] = I32(/* fragOffset: 0 | */ (U32(p.l4Length) & 0xffffu) << 16);
  r[16] = I32((U32(p.icmpType) & 0xffu) | ((U32(p.icmpCode) & 0xffu) << 8) | ((U32(p.icmpId) & 0xffffu) << 16));
  r[17] = I32((U32(p.icmpSeq) & 0xffffu) /* | icmpInnerProto (0) << 16 */);
  r[18] = 0;  // (icmpInnerSport << 16) | icmpInnerDport
  r[19] = 0;  // hasIcmpInner false
  r[20] = key.content;
}

// dedup.ts hashBytes: murmur3 rounds over d[from, to), big-endian words, then the rest.
inline int32_t HashBytes(const uint8_t* d, int64_t from, int64_t to, int32_t h) {
  int64_t i = from;
  for (; i + 4 <= to; i += 4) {
    h = Murmur3Round(h, I32((U32(d[i]) << 24) | (U32(d[i + 1]) << 16) | (U32(d[i + 2]) << 8) | U32(d[i + 3])));
  }
  uint32_t k = 0;
  for (; i < to; i++) k = (k << 8) | d[i];
  return to > from ? Murmur3Round(h, I32(k ^ static_cast<uint32_t>(to - from))) : h;
}

// dedup.ts contentHash over frame[0, p.captureLength) (the frame's offset is 0 here, and
// captureLength is both the frame's caplen and the end of its data, as DecodedPacket.captureEnd
// is), for a packet that is not a fragment.
int32_t ContentHash(const FastPacket& p, const uint8_t* frame) {
  const int64_t start = p.l4Offset;
  if (start < 0) return 0;
  int64_t end = start + static_cast<int64_t>(p.l4Length);
  if (end > p.captureLength) end = p.captureLength;
  if (end <= start) return 1;
  int64_t cs = -1;
  int64_t ce = -1;
  // !(isFragment && fragOffset !== 0): always.
  const int32_t k = p.kind;
  if (k == kKindTcp) cs = start + 16;
  else if (k == kKindUdp) cs = start + 6;
  else if (k == kKindIcmp || k == kKindIcmpv6) cs = start + 2;
  if (cs >= 0) ce = cs + 2;
  else if (k == kKindSctp) {
    cs = start + 8;
    ce = start + 12;
  }
  int32_t h = Murmur3Round(0x6a09e667, static_cast<int32_t>(end - start));
  const int64_t headEnd = end < start + HEAD_BYTES ? end : start + HEAD_BYTES;
  if (cs < 0) h = HashBytes(frame, start, headEnd, h);
  else {
    h = HashBytes(frame, start, cs < headEnd ? cs : headEnd, h);
    if (ce < headEnd) h = HashBytes(frame, ce, headEnd, h);
  }
  const int64_t tailStart = end - TAIL_BYTES > headEnd ? end - TAIL_BYTES : headEnd;
  return Murmur3Finish(HashBytes(frame, tailStart, end, h));
}

// dedup.ts contentOf, the frame being there.
inline int32_t ContentOf(const FastPacket& p, const uint8_t* frame) { return p.kind == kKindTcp ? 0 : ContentHash(p, frame); }

// The packet's DedupKey: its content (ContentOf), the recordHash of the row FillRow writes for it
// (from the packet's fields, no row needed) and the words the two share.
inline DedupKey KeyOf(const FastPacket& p, const uint8_t* frame) {
  DedupKey k;
  k.content = ContentOf(p, frame);
  k.word0 = RowWord0(p);
  k.word9 = RowWord9(p);
  k.hash = HashWords(k.word0, I32(p.src[3]), I32(p.dst[3]), k.word9, p.ipId ^ I32(p.tcpSeq), I32(p.tcpAck) ^ k.content, p.ipLength);
  return k;
}


// dedup.ts pointOf, and the (point / TWO32) | 0, point | 0 its callers take (encap 0).
inline void PointOf(const FastPacket& p, int32_t interfaceId, int32_t* hi, int32_t* lo) {
  const uint32_t ifPlus = U32(p.ifIndex) + 1u;
  const uint32_t iface = interfaceId == 0 ? ifPlus : ifPlus ^ (U32(interfaceId) * 0x9e3779b1u);
  const int32_t low = I32(((U32(p.sllPacketType) + 1u) & 0xffu) | (0u /* encap */ << 8) | ((U32(p.vlan0) + 1u) << 10));
  // point = (iface & 0x3fffffff) * 2^23 + low is an integer of magnitude below 2^53, exact as a
  // double, so the same value in int64 gives the same halves: (point / 2^32) | 0 truncates
  // toward zero as integer division does, point | 0 is its low 32 bits. (Integer arithmetic:
  // the double conversions cost ~20 instructions a packet.)
  const int64_t point = static_cast<int64_t>(static_cast<uint64_t>(iface & 0x3fffffffu) << 23) + low;
  *hi = static_cast<int32_t>(point / 4294967296LL);
  *lo = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(point)));
}

// dedup.ts sameRecord.
inline bool SameRecord(const int32_t* a, const int32_t* b) {
  for (int i = 0; i < K; i++)
    if (a[i] != b[i]) return false;
  return true;
}

// dedup.ts seenAt.
inline bool SeenAt(const int32_t* points, uint32_t n, int32_t hi, int32_t lo) {
  for (uint32_t i = 0; i < n; i++)
    if (points[2 * i] == hi && points[1 + 2 * i] == lo) return true;
  return false;
}

// dedup.ts oldestWay.
inline int OldestWay(const int32_t* t, int32_t b, double sec, double nsec) {
  int victim = 0;
  double victimAge = -1;
  int32_t victimHash = 0;
  for (int w = 0; w < WAYS; w++) {
    const double dt = (sec - t[b + H_SEC + w]) * 1e9 + (nsec - t[b + H_NSEC + w]);
    const double age = dt < 0 ? 0 : dt;
    const int32_t hw = t[b + w];
    if (age > victimAge || (age == victimAge && hw < victimHash)) {
      victim = w;
      victimAge = age;
      victimHash = hw;
    }
  }
  return victim;
}

// The Deduplicator's methods over the table, its mutable fields in a DedupState.
class Dedup {
 public:
  Dedup(DedupTable& t, DedupState& s)
      : headers_(t.headers),
        rows_(t.rows),
        links_(t.links),
        bucketMask_(t.bucketMask),
        slots_(t.slots),
        ringRows_(t.ringRows),
        mask_(U32(t.ringRows) - 1u),
        pendingLimit_(t.pendingLimit),
        windowNs_(t.windowNs),
        s_(s) {}

  // dedup.ts isDuplicate (after its ipVersion test).
  // `key` is KeyOf(p, frame): it depends on the packet and frame alone, so it is computed once
  // for keepPending's fillRow and the one below (by DedupPrefetch, in a batch).
  bool IsDuplicate(const FastPacket& p, const DedupKey& key, double tsSec, double tsNsec, int32_t interfaceId) {
    int32_t pointHi;
    int32_t pointLo;
    PointOf(p, interfaceId, &pointHi, &pointLo);
    if (s_.single && KeepPending(p, tsSec, tsNsec, pointHi, pointLo, key)) return false;
    if (s_.epoch < 0) s_.epoch = tsSec;
    const uint32_t row = s_.cursor;
    if (links_[row] != 0) Spill(row);
    FillRow(rows_ + static_cast<size_t>(row) * ROW, p, key);
    if (Probe(row, key.hash, tsSec - s_.epoch, tsNsec, pointHi, pointLo)) return true;
    s_.cursor = (row + 1u) & mask_;
    return false;
  }

 private:
  int32_t* RowAt(uint32_t row) const { return rows_ + static_cast<size_t>(row) * ROW; }

  // dedup.ts keepPending.
  bool KeepPending(const FastPacket& p, double tsSec, double tsNsec, int32_t pointHi, int32_t pointLo, const DedupKey& key) {
    if (s_.epoch < 0) s_.epoch = tsSec;
    const double sec = tsSec - s_.epoch;
    if (!s_.pendingSeen) {
      s_.pendingSeen = true;
      s_.firstHi = pointHi;
      s_.firstLo = pointLo;
      s_.maxSec = sec;
      s_.maxNsec = tsNsec;
    }
    if (pointHi == s_.firstHi && pointLo == s_.firstLo && Keep(sec, tsNsec)) {
      // No way refers to a ring row before the first flush: nothing to spill.
      int32_t* r = RowAt(s_.cursor);
      FillRow(r, p, key);
      r[R_SEC] = JsToInt32(sec);
      r[R_NSEC] = JsToInt32(tsNsec);
      s_.pendingCount++;
      s_.cursor = (s_.cursor + 1u) & mask_;
      return true;
    }
    Flush();
    return false;
  }

  // dedup.ts keep.
  bool Keep(double sec, double nsec) {
    const double back = (s_.maxSec - sec) * 1e9 + (s_.maxNsec - nsec);
    if (back > windowNs_) return false;
    if (back < 0) {
      s_.maxSec = sec;
      s_.maxNsec = nsec;
    }
    const double limit = 2 * windowNs_;
    while (s_.pendingCount > 0) {
      const int32_t* r = RowAt((s_.cursor - U32(s_.pendingCount)) & mask_);
      if ((s_.maxSec - r[R_SEC]) * 1e9 + (s_.maxNsec - r[R_NSEC]) <= limit) break;
      s_.pendingCount--;
    }
    return s_.pendingCount < pendingLimit_;
  }

  // dedup.ts flush.
  void Flush() {
    s_.single = false;
    for (int32_t i = s_.pendingCount; i > 0; i--) {
      const uint32_t row = (s_.cursor - U32(i)) & mask_;
      const int32_t* r = RowAt(row);
      Probe(row, RecordHash(r), r[R_SEC], r[R_NSEC], s_.firstHi, s_.firstLo);
    }
    s_.pendingCount = 0;
  }

  // dedup.ts spill.
  void Spill(uint32_t row) {
    const int32_t slot = links_[row] - 1;
    links_[row] = 0;
    // A link names one of the table's ways (checked so that no array contents make this write
    // elsewhere; the Deduplicator's own never fail it).
    if (slot < 0 || slot >= slots_) return;
    const uint32_t to = U32(ringRows_) + U32(slot);
    std::memmove(RowAt(to), RowAt(row), ROW * sizeof(int32_t));
    const size_t h = static_cast<size_t>(U32(slot) >> 2) * HDR + H_REF + (slot & (WAYS - 1));
    headers_[h] = I32((U32(headers_[h]) & ~REF_ROW) | to);
  }

  // dedup.ts probe (inlined: it runs for every packet; ProbeHit, for the rare hash match, is not).
  __attribute__((always_inline)) bool Probe(uint32_t row, int32_t h, double sec, double tsNsec, int32_t pointHi, int32_t pointLo) {
    int32_t* t = headers_;
    const uint32_t bucket = (U32(h) >> 1) & U32(bucketMask_);
    const size_t b = static_cast<size_t>(bucket) * HDR;
    const int32_t h0 = t[b];
    const int32_t h1 = t[b + 1];
    const int32_t h2 = t[b + 2];
    const int32_t h3 = t[b + 3];
    if (h0 == h || h1 == h || h2 == h || h3 == h) return ProbeHit(bucket, h, row, sec, tsNsec, pointHi, pointLo);
    int victim = 0;
    if (h0 == 0) victim = 0;
    else if (h1 == 0) victim = 1;
    else if (h2 == 0) victim = 2;
    else if (h3 == 0) victim = 3;
    else {
      const int next = static_cast<int>((U32(t[b + H_REF]) >> REF_NEXT) & (WAYS - 1));
      // dedup.ts computes the next way's age (an) apart; it is the same expression as that
      // way's entry here, so it is read from the array.
      double age[WAYS];
      for (int w = 0; w < WAYS; w++) age[w] = (sec - t[b + H_SEC + w]) * 1e9 + (tsNsec - t[b + H_NSEC + w]);
      const double an = age[next];
      int younger = 0;
      for (int w = 0; w < WAYS; w++) younger += static_cast<int>(age[w] < an);
      victim = an > 0 && younger == WAYS - 1 ? next : OldestWay(t, static_cast<int32_t>(b), sec, tsNsec);
    }
    Store(bucket, victim, h, sec, tsNsec, pointHi, pointLo, row);
    t[b + H_REF] = I32((U32(t[b + H_REF]) & ~(3u << REF_NEXT)) | ((U32(victim + 1) & (WAYS - 1)) << REF_NEXT));
    return false;
  }

  // dedup.ts probeHit.
  bool ProbeHit(uint32_t bucket, int32_t h, uint32_t row, double sec, double tsNsec, int32_t pointHi, int32_t pointLo) {
    const int32_t* r = RowAt(row);
    int32_t* t = headers_;
    const size_t b = static_cast<size_t>(bucket) * HDR;
    const uint32_t allRows = U32(ringRows_) + U32(slots_);
    int victim = 0;
    double victimAge = -1;
    int32_t victimHash = 0;
    for (int w = 0; w < WAYS; w++) {
      const int32_t hw = t[b + w];
      if (hw == 0) {
        if (victimAge != kInfinity) {
          victim = w;
          victimAge = kInfinity;  // an empty way beats any occupied one
        }
        continue;
      }
      const double dt = (sec - t[b + H_SEC + w]) * 1e9 + (tsNsec - t[b + H_NSEC + w]);
      if (hw == h) {
        const uint32_t ref = U32(t[b + H_REF + w]);
        const uint32_t refRow = ref & REF_ROW;
        // refRow < allRows: always for the Deduplicator's own arrays (checked so that no
        // contents make this read elsewhere).
        if (refRow < allRows) {
          int32_t* o = RowAt(refRow);
          if (SameRecord(o, r)) {
            const uint32_t n = (ref >> REF_POINTS) + 1u;
            // n <= POINTS but with the sign bit of ref set, which the Deduplicator never sets
            // (bits 29-30); seenAt reads no further than the row's points in any case.
            if (dt <= windowNs_ && dt >= -windowNs_ && !SeenAt(o + R_POINTS, n < POINTS ? n : POINTS, pointHi, pointLo)) {
              if (n < POINTS) {
                o[R_POINTS + 2 * n] = pointHi;
                o[R_POINTS + 1 + 2 * n] = pointLo;
                t[b + H_REF + w] = I32(ref + (1u << REF_POINTS));
              }
              s_.dupCount++;
              return true;
            }
            // Outside the window, or again at a point it was seen at: a new packet.
            Store(bucket, w, h, sec, tsNsec, pointHi, pointLo, row);
            return false;
          }
        }
      }
      // The oldest way goes; among equally old ones the lower hash.
      const double age = dt < 0 ? 0 : dt;
      if (victimAge != kInfinity && (age > victimAge || (age == victimAge && hw < victimHash))) {
        victim = w;
        victimAge = age;
        victimHash = hw;
      }
    }
    Store(bucket, victim, h, sec, tsNsec, pointHi, pointLo, row);
    return false;
  }

  // dedup.ts store.
  void Store(uint32_t bucket, int w, int32_t h, double sec, double nsec, int32_t pointHi, int32_t pointLo, uint32_t row) {
    int32_t* t = headers_;
    const size_t b = static_cast<size_t>(bucket) * HDR;
    if (t[b + w] != 0) {
      const uint32_t old = U32(t[b + H_REF + w]) & REF_ROW;
      if (old < U32(ringRows_)) links_[old] = 0;
    }
    t[b + w] = h;
    t[b + H_SEC + w] = JsToInt32(sec);
    t[b + H_NSEC + w] = JsToInt32(nsec);
    t[b + H_REF + w] = I32((U32(t[b + H_REF + w]) & (3u << REF_NEXT)) | row);
    links_[row] = I32(1u + bucket * WAYS + U32(w));
    int32_t* o = RowAt(row) + R_POINTS;
    o[0] = pointHi;
    o[1] = pointLo;
  }

  int32_t* const headers_;
  int32_t* const rows_;
  int32_t* const links_;
  const int32_t bucketMask_;
  const int32_t slots_;
  const int32_t ringRows_;
  const uint32_t mask_;
  const int32_t pendingLimit_;
  const double windowNs_;
  // The mutable fields, the batch's (DedupLoad / DedupSave).
  DedupState& s_;
};

bool IsWholeIn(double x, double lo, double hi) { return x >= lo && x <= hi && std::trunc(x) == x; }

}  // namespace

bool DedupBind(DedupTable& t, int32_t* headers, size_t headersLength, int32_t* rows, size_t rowsLength, int32_t* links,
               size_t linksLength, double bucketMask, double ringRows, double pendingLimit, double windowNs, double* block,
               size_t blockLength, double at) {
  t = DedupTable();
  // dedup.ts constructor: 4..2^24 ways, a ring of 2..MAX_RING rows, both powers of two.
  if (!IsWholeIn(bucketMask, 0, (1 << 22) - 1) || !IsWholeIn(ringRows, 2, kDedupMaxRing)) return false;
  const uint32_t buckets = static_cast<uint32_t>(bucketMask) + 1u;
  const uint32_t ring = static_cast<uint32_t>(ringRows);
  if ((buckets & (buckets - 1u)) != 0 || (ring & (ring - 1u)) != 0) return false;
  const uint32_t slots = buckets * WAYS;
  if (ring + slots - 1u > REF_ROW) return false;
  if (!IsWholeIn(pendingLimit, 0, ring - 1u) || !(windowNs >= 0) || !std::isfinite(windowNs)) return false;
  if (headersLength != static_cast<size_t>(buckets) * HDR || rowsLength != (static_cast<size_t>(ring) + slots) * ROW ||
      linksLength != ring || headers == nullptr || rows == nullptr || links == nullptr) {
    return false;
  }
  if (block == nullptr || !IsWholeIn(at, 0, 9.0e15) || at + kDedupScalarWords > static_cast<double>(blockLength)) return false;
  t.headers = headers;
  t.rows = rows;
  t.links = links;
  t.bucketMask = static_cast<int32_t>(bucketMask);
  t.slots = static_cast<int32_t>(slots);
  t.ringRows = static_cast<int32_t>(ring);
  t.pendingLimit = static_cast<int32_t>(pendingLimit);
  t.windowNs = windowNs;
  t.scalars = block + static_cast<size_t>(at);
  t.bound = true;
  return true;
}

void DedupLoad(const DedupTable& t, DedupState* out) {
  const double* s = t.scalars;
  // The cursor is always a ring row; masked so that no block makes it index elsewhere.
  out->cursor = U32(JsToInt32(s[kDedupCursor])) & (U32(t.ringRows) - 1u);
  out->single = s[kDedupSingle] != 0;
  out->firstHi = JsToInt32(s[kDedupFirstHi]);
  out->firstLo = JsToInt32(s[kDedupFirstLo]);
  out->pendingSeen = s[kDedupPendingSeen] != 0;
  out->pendingCount = JsToInt32(s[kDedupPendingCount]);
  out->maxSec = s[kDedupMaxSec];
  out->maxNsec = s[kDedupMaxNsec];
  out->epoch = s[kDedupEpoch];
  out->dupCount = s[kDedupDupCount];
}

void DedupSave(const DedupTable& t, const DedupState& st) {
  double* s = t.scalars;
  s[kDedupCursor] = static_cast<double>(st.cursor);
  s[kDedupSingle] = st.single ? 1 : 0;
  s[kDedupFirstHi] = st.firstHi;
  s[kDedupFirstLo] = st.firstLo;
  s[kDedupPendingSeen] = st.pendingSeen ? 1 : 0;
  s[kDedupPendingCount] = st.pendingCount;
  s[kDedupMaxSec] = st.maxSec;
  s[kDedupMaxNsec] = st.maxNsec;
  s[kDedupEpoch] = st.epoch;
  s[kDedupDupCount] = st.dupCount;
}

DedupKey DedupPrefetch(const DedupTable& t, const FastPacket& p, const uint8_t* frame) {
  const DedupKey k = KeyOf(p, frame);
  const uint32_t bucket = (U32(k.hash) >> 1) & U32(t.bucketMask);
  __builtin_prefetch(t.headers + static_cast<size_t>(bucket) * HDR, 1, 3);
  return k;
}

void DedupPrefetchRing(const DedupTable& t, const DedupState& s) {
  const int32_t* r = t.rows + static_cast<size_t>((s.cursor + kDedupRingAhead) & (U32(t.ringRows) - 1u)) * ROW;
  __builtin_prefetch(r, 1, 3);
  __builtin_prefetch(r + 16, 1, 3);
}

bool DedupIsDuplicate(DedupTable& t, DedupState& s, const FastPacket& p, const DedupKey& key, double tsSec, double tsNsec, int32_t interfaceId) {
  if (p.ipVersion == 0) return false;
  return Dedup(t, s).IsDuplicate(p, key, tsSec, tsNsec, interfaceId);
}

bool DedupIsDuplicate(DedupTable& t, const FastPacket& p, const uint8_t* frame, double tsSec, double tsNsec, int32_t interfaceId) {
  DedupState s;
  DedupLoad(t, &s);
  const DedupKey key = KeyOf(p, frame);
  const bool dup = DedupIsDuplicate(t, s, p, key, tsSec, tsNsec, interfaceId);
  DedupSave(t, s);
  return dup;
}

}  // namespace hubcap::fastpath
