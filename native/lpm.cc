// The ipcache's longest-prefix match (lpm.h): updates, the length indexes and the lookups.
#include "lpm.h"

#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hubcap {

// ---------------------------------------------------------------------------------------------
// Dir16Index

Dir16Index::~Dir16Index() { Reset(); }

void Dir16Index::Reset() {
  if (masks_ != nullptr) TrackedFree(masks_, 65536 * sizeof(uint32_t), mem_);
  masks_ = nullptr;
  counts_.Release();
}

bool Dir16Index::Init() {
  if (masks_ != nullptr) return true;
  masks_ = static_cast<uint32_t*>(TrackedAlloc(65536 * sizeof(uint32_t), mem_));
  return masks_ != nullptr;
}

bool Dir16Index::Add(uint32_t value, int len) {
  const uint32_t bit = 1u << (len - 1);
  const uint32_t top = value >> 16;
  if (len <= 16) {
    // Same-length prefixes up to /16 are disjoint: each owns its whole range of top-16 values.
    const uint32_t end = top + (1u << (16 - len));
    for (uint32_t i = top; i < end; i++) masks_[i] |= bit;
    return true;
  }
  if (BumpCount(&counts_, (static_cast<uint32_t>(len) << 16) | top, +1) < 0) return false;
  masks_[top] |= bit;
  return true;
}

void Dir16Index::Remove(uint32_t value, int len) {
  const uint32_t bit = 1u << (len - 1);
  const uint32_t top = value >> 16;
  if (len <= 16) {
    const uint32_t end = top + (1u << (16 - len));
    for (uint32_t i = top; i < end; i++) masks_[i] &= ~bit;
    return;
  }
  if (BumpCount(&counts_, (static_cast<uint32_t>(len) << 16) | top, -1) == 0) masks_[top] &= ~bit;
}

// ---------------------------------------------------------------------------------------------
// IpcacheCore: IPv4

IpcacheCore::IpcacheCore(uint32_t capacity)
    : capacity_(capacity), hosts4_(&mem_), cidrs4_(&mem_), dir4_(&mem_), blocks4_(&mem_), v6_(&mem_), dir6_(&mem_), w0_(&mem_), w0Counts_(&mem_) {}

IpcacheCore::~IpcacheCore() = default;

namespace {

struct Match4 {
  uint64_t want;
  Match4(uint32_t key, int plen) : want(KeyBits4(key, static_cast<uint8_t>(plen), 1)) {}
  bool operator()(const V4Slot& s) const { return KeyWord4(s) == want; }
};

struct Match6 {
  uint32_t m0, m1, m2, m3;
  int plen;
  bool operator()(const V6Slot& s) const {
    return (s.plen == plen) & (s.w[0] == m0) & (s.w[1] == m1) & (s.w[2] == m2) & (s.w[3] == m3);
  }
};

// A fresh slot of either family: the values, the length, in use; the caller fills the key.
template <class Slot>
Slot FreshSlot(int plen, uint32_t identity, uint32_t tunnel, uint8_t flags) {
  Slot fresh;
  memset(static_cast<void*>(&fresh), 0, sizeof(fresh));
  fresh.identity = identity;
  fresh.tunnel = tunnel;
  fresh.flags = flags;
  fresh.plen = static_cast<uint8_t>(plen);
  fresh.used = 1;
  return fresh;
}

// The delete of both families: the slot matching `match` leaves the table, then the index.
template <class Table, class Match, class IndexRemove>
bool EraseSlot(Table& table, uint64_t hash, const Match& match, IndexRemove indexRemove) {
  auto* s = table.Find(hash, match);
  if (s == nullptr) return false;
  table.Erase(s);
  indexRemove();
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Dir24Blocks

bool Dir24Blocks::Init() {
  if (tops_ != nullptr) return true;
  if (!cells_.Extend(256)) return false;
  memset(cells_.data(), 0, 256 * sizeof(uint16_t));  // block 0, read for every /16 without one
  tops_ = static_cast<Top*>(TrackedAlloc(65536 * sizeof(Top), mem_));
  if (tops_ == nullptr) cells_.Release();
  return tops_ != nullptr;
}

void Dir24Blocks::Reset() {
  if (tops_ != nullptr) TrackedFree(tops_, 65536 * sizeof(Top), mem_);
  tops_ = nullptr;
  cells_.Release();
  free_.Release();
  counts_.Release();
}

namespace {

inline uint32_t CountKey24(uint32_t value, int len) { return (static_cast<uint32_t>(len) << 24) | (value >> 8); }

}  // namespace

void Dir24Blocks::Mark(uint32_t block, uint32_t value, int len, bool on) {
  const uint16_t bit = static_cast<uint16_t>(1u << (len - 17));
  uint16_t* cells = &cells_[block * 256];
  const uint32_t first = (value >> 8) & 255;
  const uint32_t end = len <= 24 ? first + (1u << (24 - len)) : first + 1;
  for (uint32_t i = first; i < end; i++) cells[i] = on ? (cells[i] | bit) : (cells[i] & ~bit);
}

void Dir24Blocks::MakeBlock(const V4Table& table, uint32_t top) {
  uint32_t block;
  if (free_.size() != 0) {
    block = free_.back();
    free_.pop_back();
  } else {
    if (cells_.size() / 256 > 0xFFFF || !cells_.Extend(256)) return;  // lookups keep the /16's bits
    block = cells_.size() / 256 - 1;
  }
  memset(&cells_[block * 256], 0, 256 * sizeof(uint16_t));
  const uint32_t base = top << 16;
  // Lengths up to 24: every possible prefix of the /16 (510), looked up in the table.
  for (int len = 17; len <= 24; len++) {
    for (uint32_t v = base, step = 1u << (32 - len); v - base < 65536; v += step) {
      if (table.Find(Hash4(v, len), Match4{v, len}) != nullptr) Mark(block, v, len, true);
    }
  }
  // Lengths 25..31: the per-/24 counts.
  for (int len = 25; len <= 31; len++) {
    for (uint32_t v = base; v - base < 65536; v += 256) {
      const uint32_t key = CountKey24(v, len);
      if (counts_.Find(Mix64(key), [key](const CountSlot32& c) { return c.key == key; }) != nullptr) Mark(block, v, len, true);
    }
  }
  tops_[top].block = static_cast<uint16_t>(block);
}

void Dir24Blocks::DropBlock(uint32_t top) {
  // A block that cannot be listed for reuse stays allocated, unused (only memory is lost).
  if (free_.push_back(tops_[top].block)) tops_[top].block = 0;
}

bool Dir24Blocks::Add(const V4Table& table, uint32_t value, int len) {
  if (len >= 25 && BumpCount(&counts_, CountKey24(value, len), +1) < 0) return false;
  Top& t = tops_[value >> 16];
  t.count++;
  if (t.block == 0 && t.count >= kDense) MakeBlock(table, value >> 16);
  // (Also after MakeBlock: the table does not hold the new prefix yet.)
  if (t.block != 0) Mark(t.block, value, len, true);
  return true;
}

void Dir24Blocks::Remove(uint32_t value, int len) {
  const bool last = len < 25 || BumpCount(&counts_, CountKey24(value, len), -1) == 0;
  Top& t = tops_[value >> 16];
  t.count--;
  if (t.block != 0 && last) Mark(t.block, value, len, false);
  if (t.block != 0 && t.count < kSparse) DropBlock(value >> 16);
}

// The slot matching `match` takes `fresh`'s values; otherwise, room permitting, `fresh` is
// inserted once `indexAdd` has counted its length (undone by `indexRemove` when the insert
// finds no memory), and `afterInsert` may build the family's length index.
template <class Table, class Slot, class Match, class IndexAdd, class IndexRemove, class AfterInsert>
int IpcacheCore::UpsertSlot(Table& table, uint64_t hash, const Match& match, const Slot& fresh, IndexAdd indexAdd,
                            IndexRemove indexRemove, AfterInsert afterInsert) {
  Slot* s = table.Find(hash, match);
  if (s != nullptr) {
    s->identity = fresh.identity;
    s->tunnel = fresh.tunnel;
    s->flags = fresh.flags;
    return kUpsertOk;
  }
  if (size() >= capacity_) {
    overflow_++;
    return kUpsertFull;
  }
  if (!indexAdd()) return kUpsertNoMemory;
  if (!table.Insert(fresh)) {  // a slot pointer (BucketTable) or a bool (TwoChoiceTable)
    indexRemove();
    return kUpsertNoMemory;
  }
  afterInsert();
  return kUpsertOk;
}

int IpcacheCore::Upsert4(uint32_t addr, int plen, uint32_t identity, uint32_t tunnel, uint8_t flags) {
  const uint32_t key = addr & Mask32(plen);
  V4Slot fresh = FreshSlot<V4Slot>(plen, identity, tunnel, flags);
  fresh.addr = key;
  return UpsertSlot(
      Table4(plen), Hash4(key, plen), Match4{key, plen}, fresh, [&] { return IndexAdd4(key, plen); }, [&] { IndexRemove4(key, plen); },
      [&] {
        // Without memory for the index the lookups fall back to probing every length present.
        if (!dir4_.built() && size4() >= kIndexMinEntries) BuildIndex4();
        if (dir4_.built() && !blocks4_.built() && size4() >= kBlocksMinEntries) BuildBlocks4();
      });
}

bool IpcacheCore::Delete4(uint32_t addr, int plen) {
  const uint32_t key = addr & Mask32(plen);
  return EraseSlot(Table4(plen), Hash4(key, plen), Match4{key, plen}, [&] { IndexRemove4(key, plen); });
}

namespace {

// The lengths Dir24Blocks refines.
inline bool BlockLength(int plen) { return plen >= 17 && plen <= 31; }

}  // namespace

bool IpcacheCore::IndexAdd4(uint32_t key, int plen) {
  if (plen > 0 && dir4_.built()) {
    if (!dir4_.Add(key, plen)) return false;
    if (BlockLength(plen) && blocks4_.built() && !blocks4_.Add(cidrs4_, key, plen)) {
      dir4_.Remove(key, plen);
      return false;
    }
  }
  if (count4_[plen]++ == 0 && plen > 0) small4_ |= 1u << (plen - 1);
  return true;
}

void IpcacheCore::IndexRemove4(uint32_t key, int plen) {
  if (--count4_[plen] == 0 && plen > 0) small4_ &= ~(1u << (plen - 1));
  if (plen > 0 && dir4_.built()) dir4_.Remove(key, plen);
  if (BlockLength(plen) && blocks4_.built()) blocks4_.Remove(key, plen);
}

bool IpcacheCore::BuildIndex4() {
  if (!dir4_.Init()) return false;
  bool ok = true;
  ForEach4([&](const V4Slot& s) {
    if (ok && s.plen > 0) ok = dir4_.Add(s.addr, s.plen);
  });
  if (!ok) dir4_.Reset();
  return ok;
}

void IpcacheCore::BuildBlocks4() {
  // Without memory for the blocks the DIR-16 bits alone answer (more probes, same results).
  if (!blocks4_.Init()) return;
  bool ok = true;
  cidrs4_.ForEach([&](const V4Slot& s) {
    if (ok && BlockLength(s.plen)) ok = blocks4_.Add(cidrs4_, s.addr, s.plen);
  });
  if (!ok) blocks4_.Reset();
}

namespace {

constexpr uint32_t kV4PerBucket = V4Table::kPerBucket;
static_assert(kV4PerBucket == 4, "MatchBucket4 compares four slots");

// Bit j set when slot j of a bucket has the key bits `want` (KeyBits4, never an empty slot's).
// Every slot is compared without branches (which one holds the key is random; a mispredicted
// branch costs more than the compares): with SSE2 (baseline on x86-64) the four addresses and
// the four (plen, used) half-words are gathered into two registers and compared at once, about
// a third of the scalar instructions; the scalar loop elsewhere.
#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
inline uint32_t MatchBucket4(const V4Slot* bucket, uint64_t want) {
  const __m128i* p = reinterpret_cast<const __m128i*>(bucket);
  const __m128i lo01 = _mm_unpacklo_epi32(_mm_loadu_si128(p), _mm_loadu_si128(p + 1));      // a0 a1 k0 k1
  const __m128i lo23 = _mm_unpacklo_epi32(_mm_loadu_si128(p + 2), _mm_loadu_si128(p + 3));  // a2 a3 k2 k3
  const __m128i addrs = _mm_unpacklo_epi64(lo01, lo23);
  const __m128i keys = _mm_and_si128(_mm_unpackhi_epi64(lo01, lo23), _mm_set1_epi32(0xFFFF));
  const __m128i eq = _mm_and_si128(_mm_cmpeq_epi32(addrs, _mm_set1_epi32(static_cast<int>(static_cast<uint32_t>(want)))),
                                   _mm_cmpeq_epi32(keys, _mm_set1_epi32(static_cast<int>(want >> 32))));
  return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(eq)));
}
#else
inline uint32_t MatchBucket4(const V4Slot* bucket, uint64_t want) {
  uint32_t hits = 0;
  for (uint32_t j = 0; j < kV4PerBucket; j++) hits |= static_cast<uint32_t>(KeyWord4(bucket[j]) == want) << j;
  return hits;
}
#endif

// The slot of prefix (key, plen) (key masked), or nullptr: TwoChoiceTable::Find with
// MatchBucket4's compare. (Comparing both lines without the branch measured slower: the second
// line is a miss of its own, needed ~13% of the time.)
inline const V4Slot* FindKey4(const V4Table& t, uint32_t key, int plen) {
  if (t.size() == 0) return nullptr;
  const uint64_t h = Hash4(key, plen);
  const uint64_t want = KeyBits4(key, static_cast<uint8_t>(plen), 1);
  const V4Slot* b = t.First(h);
  uint32_t hits = MatchBucket4(b, want);
  if (hits == 0) {
    if (V4Table::Displaced(b, h) == 0) return nullptr;
    b = t.Second(h);
    hits = MatchBucket4(b, want);
    if (hits == 0) return nullptr;
  }
  return &b[__builtin_ctz(hits)];
}

// A /32 probe of one bucket for the host pass, without branches (whether an address is a host
// is random): `*id` gets the identity on a hit and some slot's value on a miss, and the result
// says whether it hit. Writing the miss too is what keeps it branchless (GCC made the
// conditional store a branch, mispredicted ~0.27 times an address in callgrind's model); every
// address it misses is written again later (the second bucket's probe, or pass 2).
inline bool HostProbe4(const V4Slot* bucket, uint32_t addr, int32_t* id) {
  const uint32_t hits = MatchBucket4(bucket, KeyBits4(addr, 32, 1));
  *id = static_cast<int32_t>(bucket[__builtin_ctz(hits | 0x8u) & 3].identity);
  return hits != 0;
}

}  // namespace

const V4Slot* IpcacheCore::Probe4(uint32_t addr, uint32_t lenBits) const {
  // Longest first; the lengths of lenBits are bit L-1.
  while (lenBits != 0) {
    const int b = HighestBit32(lenBits);
    lenBits &= ~(1u << b);
    const int len = b + 1;
    const uint32_t key = addr & Mask32(len);
    const V4Slot* s = FindKey4(Table4(len), key, len);
    if (s != nullptr) return s;
  }
  if (count4_[0] != 0) return FindKey4(cidrs4_, 0, 0);
  return nullptr;
}

const V4Slot* IpcacheCore::Find4(uint32_t addr) const { return Probe4(addr, Lengths4(addr)); }


void IpcacheCore::LookupBatch4(const uint32_t* addrs, int32_t* outId, uint8_t* outPlen, uint32_t n) const {
  // Two passes over chunks of kChunk4 addresses, each a software pipeline so the cache misses of
  // many addresses overlap instead of following one another:
  //  1. every address is looked up as a /32 host (HostPass4); most are hosts and are answered
  //     there, a hit at /32 being the longest match by definition;
  //  2. the rest, CIDR addresses and hosts whose key overflowed past its home bucket, take the
  //     length index (SpillPass4).
  uint16_t spill[kChunk4];
  for (uint32_t base = 0; base < n; base += kChunk4) {
    const uint32_t k = std::min(kChunk4, n - base);
    uint8_t* plen = outPlen != nullptr ? outPlen + base : nullptr;
    // Host hits are /32; the spilled addresses get theirs in pass 2.
    if (plen != nullptr) memset(plen, 32, k);
    const uint32_t m = HostPass4(addrs + base, outId + base, k, spill);
    SpillPass4(addrs + base, spill, m, outId + base, plen);
  }
}

uint32_t IpcacheCore::HostPass4(const uint32_t* addrs, int32_t* __restrict outId, uint32_t n, uint16_t* __restrict spill) const {
  // Two pipelines. First each address's first bucket (of its /32 key) is prefetched D addresses
  // ahead and kept in a ring until compared: most hosts are found there, and most other addresses
  // are settled absent by their class's displaced count of zero; the rest are listed in `second`.
  // Then those have their second bucket prefetched D ahead and compared. Pass 2 gets the
  // addresses found in neither. (`__restrict`: the answers cannot alias the table, so its fields
  // stay in registers.)
  constexpr uint32_t D = kPrefetchDistance4;
  uint32_t m = 0;
  if (hosts4_.size() == 0) {
    for (uint32_t i = 0; i < n; i++) spill[m++] = static_cast<uint16_t>(i);
    return m;
  }
  uint16_t second[kChunk4];
  uint32_t q = 0;
  RunPrefetched<D, const V4Slot*>(
      n,
      [&](uint32_t j) {
        const V4Slot* b = hosts4_.First(Hash4(addrs[j], 32));
        HUBCAP_PREFETCH(b);
        return b;
      },
      [&](uint32_t i, const V4Slot* b) {
        // Both lists are written, one (or neither) advanced.
        const uint32_t miss = !HostProbe4(b, addrs[i], &outId[i]);
        const uint32_t displaced = V4Table::Displaced(b, Hash4(addrs[i], 32)) != 0;
        second[q] = spill[m] = static_cast<uint16_t>(i);
        q += miss & displaced;
        m += miss & (displaced ^ 1);
      });
  RunPrefetched<D, const V4Slot*>(
      q,
      [&](uint32_t j) {
        const V4Slot* b = hosts4_.Second(Hash4(addrs[second[j]], 32));
        HUBCAP_PREFETCH(b);
        return b;
      },
      [&](uint32_t k, const V4Slot* b) {
        const uint32_t i = second[k];
        spill[m] = static_cast<uint16_t>(i);
        m += !HostProbe4(b, addrs[i], &outId[i]);
      });
  return m;
}

void IpcacheCore::SpillPass4(const uint32_t* addrs, const uint16_t* spill, uint32_t m, int32_t* outId, uint8_t* outPlen) const {
  // Each spilled address's lengths (its DIR-16 cell, then its /16's block entry and /24 cell) are
  // read D addresses ahead of its probes, so those loads are in flight while earlier addresses
  // are probed, longest first (pass 1 settled /32). The probes themselves go unprefetched: the
  // CIDR table is several times smaller than the hosts' and mostly cached, ~1.3 probes an address,
  // and prefetching both buckets of each length measured slower (60 -> 76 ns an address at 512k
  // prefixes, 20 -> 33 ns at 1,000) than letting the out-of-order core overlap them.
  constexpr uint32_t D = kPrefetchDistance4;
  uint32_t lens[kChunk4];
  auto lengths = [&](uint32_t j) { lens[j] = Lengths4(addrs[spill[j]]) & ~(1u << 31); };
  for (uint32_t j = 0; j < D && j < m; j++) lengths(j);
  for (uint32_t j = 0; j < m; j++) {
    if (j + D < m) lengths(j + D);
    const uint32_t i = spill[j];
    const V4Slot* s = Probe4(addrs[i], lens[j]);
    outId[i] = s != nullptr ? static_cast<int32_t>(s->identity) : -1;
    if (outPlen != nullptr) outPlen[i] = s != nullptr ? s->plen : 0xFF;
  }
}

// ---------------------------------------------------------------------------------------------
// IpcacheCore: IPv6

int IpcacheCore::Upsert6(const uint32_t* w, int plen, uint32_t identity, uint32_t tunnel, uint8_t flags) {
  const uint32_t m[4] = {w[0] & Mask6(plen, 0), w[1] & Mask6(plen, 1), w[2] & Mask6(plen, 2), w[3] & Mask6(plen, 3)};
  V6Slot fresh = FreshSlot<V6Slot>(plen, identity, tunnel, flags);
  memcpy(fresh.w, m, sizeof(m));
  return UpsertSlot(
      v6_, Hash6(m[0], m[1], m[2], m[3], plen), Match6{m[0], m[1], m[2], m[3], plen}, fresh, [&] { return IndexAdd6(m, plen); },
      [&] { IndexRemove6(m, plen); },
      [&] {
        if (!index6_ && v6_.size() >= kIndexMinEntries) BuildIndex6();
      });
}

bool IpcacheCore::Delete6(const uint32_t* w, int plen) {
  const uint32_t m[4] = {w[0] & Mask6(plen, 0), w[1] & Mask6(plen, 1), w[2] & Mask6(plen, 2), w[3] & Mask6(plen, 3)};
  return EraseSlot(v6_, Hash6(m[0], m[1], m[2], m[3], plen), Match6{m[0], m[1], m[2], m[3], plen}, [&] { IndexRemove6(m, plen); });
}

namespace {

// Word-0 index: one more prefix of length `len` (33..128) under `w0`. False when out of memory.
bool W0Add(BucketTable<W0Ops>* t, BucketTable<CountOps64>* counts, uint32_t w0, int len) {
  const uint64_t ckey = (static_cast<uint64_t>(w0) << 8) | static_cast<uint64_t>(len);
  const int64_t c = BumpCount(counts, ckey, +1);
  if (c < 0) return false;
  W0Slot* g = t->Find(Mix64(w0), [w0](const W0Slot& s) { return s.w0 == w0; });
  if (g == nullptr) {
    W0Slot fresh;
    memset(static_cast<void*>(&fresh), 0, sizeof(fresh));
    fresh.w0 = w0;
    fresh.count = 1;
    g = t->Insert(fresh);
    if (g == nullptr) {
      BumpCount(counts, ckey, -1);
      return false;
    }
  } else {
    g->count++;
  }
  const int b = len - 33;
  g->masks[b >> 5] |= 1u << (b & 31);
  return true;
}

void W0Remove(BucketTable<W0Ops>* t, BucketTable<CountOps64>* counts, uint32_t w0, int len) {
  const uint64_t ckey = (static_cast<uint64_t>(w0) << 8) | static_cast<uint64_t>(len);
  const int64_t c = BumpCount(counts, ckey, -1);
  W0Slot* g = t->Find(Mix64(w0), [w0](const W0Slot& s) { return s.w0 == w0; });
  if (g == nullptr) return;  // unreachable while the index and the table agree
  if (c == 0) {
    const int b = len - 33;
    g->masks[b >> 5] &= ~(1u << (b & 31));
  }
  if (--g->count == 0) t->Erase(g);
}

}  // namespace

bool IpcacheCore::IndexAdd6(const uint32_t* m, int plen) {
  if (index6_) {
    if (plen > 32) {
      if (!W0Add(&w0_, &w0Counts_, m[0], plen)) return false;
    } else if (plen > 0) {
      if (!dir6_.Add(m[0], plen)) return false;
    }
  }
  if (count6_[plen]++ == 0 && plen > 0) small6_[(plen - 1) >> 6] |= 1ULL << ((plen - 1) & 63);
  return true;
}

void IpcacheCore::IndexRemove6(const uint32_t* m, int plen) {
  if (--count6_[plen] == 0 && plen > 0) small6_[(plen - 1) >> 6] &= ~(1ULL << ((plen - 1) & 63));
  if (!index6_ || plen == 0) return;
  if (plen > 32) W0Remove(&w0_, &w0Counts_, m[0], plen);
  else dir6_.Remove(m[0], plen);
}

bool IpcacheCore::BuildIndex6() {
  if (!dir6_.Init()) return false;
  bool ok = true;
  v6_.ForEach([&](const V6Slot& s) {
    if (!ok || s.plen == 0) return;
    ok = s.plen > 32 ? W0Add(&w0_, &w0Counts_, s.w[0], s.plen) : dir6_.Add(s.w[0], s.plen);
  });
  if (!ok) {
    dir6_.Reset();
    w0_.Release();
    w0Counts_.Release();
    return false;
  }
  index6_ = true;
  return true;
}

namespace {

inline const V6Slot* ProbeAt6(const BucketTable<V6Ops>& t, const uint32_t* w, int len) {
  const uint32_t m0 = w[0] & Mask6(len, 0);
  const uint32_t m1 = w[1] & Mask6(len, 1);
  const uint32_t m2 = w[2] & Mask6(len, 2);
  const uint32_t m3 = w[3] & Mask6(len, 3);
  return t.Find(Hash6(m0, m1, m2, m3, len), Match6{m0, m1, m2, m3, len});
}

}  // namespace

const V6Slot* IpcacheCore::Probe6Long(const uint32_t* w, const W0Slot* g) const {
  for (int k = 2; k >= 0; k--) {
    uint32_t bits = g->masks[k];
    while (bits != 0) {
      const int b = HighestBit32(bits);
      bits &= ~(1u << b);
      const V6Slot* s = ProbeAt6(v6_, w, 33 + 32 * k + b);
      if (s != nullptr) return s;
    }
  }
  return nullptr;
}

const V6Slot* IpcacheCore::Probe6Short(const uint32_t* w, uint32_t lenBits) const {
  while (lenBits != 0) {
    const int b = HighestBit32(lenBits);
    lenBits &= ~(1u << b);
    const V6Slot* s = ProbeAt6(v6_, w, b + 1);
    if (s != nullptr) return s;
  }
  if (count6_[0] != 0) return ProbeAt6(v6_, w, 0);
  return nullptr;
}

const V6Slot* IpcacheCore::Find6(const uint32_t* w) const {
  if (index6_) {
    const uint32_t w0 = w[0];
    const W0Slot* g = w0_.Find(Mix64(w0), [w0](const W0Slot& s) { return s.w0 == w0; });
    if (g != nullptr) {
      const V6Slot* s = Probe6Long(w, g);
      if (s != nullptr) return s;
    }
    return Probe6Short(w, dir6_.masks()[w0 >> 16]);
  }
  // Small map: every length present, longest first.
  for (int k = 1; k >= 0; k--) {
    uint64_t bits = small6_[k];
    while (bits != 0) {
      const int b = HighestBit64(bits);
      bits &= ~(1ULL << b);
      const V6Slot* s = ProbeAt6(v6_, w, 64 * k + b + 1);
      if (s != nullptr) return s;
    }
  }
  if (count6_[0] != 0) return ProbeAt6(v6_, w, 0);
  return nullptr;
}

void IpcacheCore::LookupBatch6(const uint32_t* words, int32_t* outId, uint8_t* outPlen, uint32_t n) const {
  // The same pipeline as LookupBatch4, one stage shallower: address i + D has its word-0 group
  // (or, in a small map, its /128 slot) prefetched while address i is resolved.
  constexpr uint32_t D = kPrefetchDistance;
  auto start = [&](uint32_t j) {
    const uint32_t* w = words + 4 * static_cast<size_t>(j);
    if (index6_) w0_.Prefetch(Mix64(w[0]));
    else v6_.Prefetch(Hash6(w[0], w[1], w[2], w[3], 128));
  };
  const uint32_t lead = std::min(D, n);
  for (uint32_t j = 0; j < lead; j++) start(j);
  for (uint32_t i = 0; i < n; i++) {
    if (i + D < n) start(i + D);
    const V6Slot* s = Find6(words + 4 * static_cast<size_t>(i));
    outId[i] = s != nullptr ? static_cast<int32_t>(s->identity) : -1;
    if (outPlen != nullptr) outPlen[i] = s != nullptr ? s->plen : 0xFF;
  }
}

void IpcacheCore::Clear() {
  hosts4_.Release();
  cidrs4_.Release();
  v6_.Release();
  w0_.Release();
  w0Counts_.Release();
  dir4_.Reset();
  blocks4_.Reset();
  dir6_.Reset();
  index6_ = false;
  memset(count4_, 0, sizeof(count4_));
  memset(count6_, 0, sizeof(count6_));
  small4_ = 0;
  small6_[0] = small6_[1] = 0;
  overflow_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Views

namespace {

template <class Slot>
inline const Slot* Pick(const Slot* l, const Slot* s) {
  if (l == nullptr) return s;
  if (s == nullptr || l->plen >= s->plen) return l;
  return s;
}

constexpr uint32_t kViewChunk = 256;

}  // namespace

const V4Slot* FindView4(const IpcacheCore& shared, const IpcacheCore& local, uint32_t addr) {
  const V4Slot* l = local.Find4(addr);
  // A local host entry cannot be beaten.
  if (l != nullptr && l->plen == 32) return l;
  return Pick(l, shared.Find4(addr));
}

const V6Slot* FindView6(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* w) {
  const V6Slot* l = local.Find6(w);
  if (l != nullptr && l->plen == 128) return l;
  return Pick(l, shared.Find6(w));
}

void LookupViewBatch4(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* addrs, int32_t* out, uint32_t n) {
  uint8_t plen[kViewChunk];
  for (uint32_t base = 0; base < n; base += kViewChunk) {
    const uint32_t k = std::min(kViewChunk, n - base);
    shared.LookupBatch4(addrs + base, out + base, plen, k);
    if (local.size() == 0) continue;
    for (uint32_t i = 0; i < k; i++) {
      const V4Slot* l = local.Find4(addrs[base + i]);
      if (l != nullptr && (plen[i] == 0xFF || l->plen >= plen[i])) out[base + i] = static_cast<int32_t>(l->identity);
    }
  }
}

void LookupViewBatch6(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* words, int32_t* out, uint32_t n) {
  uint8_t plen[kViewChunk];
  for (uint32_t base = 0; base < n; base += kViewChunk) {
    const uint32_t k = std::min(kViewChunk, n - base);
    shared.LookupBatch6(words + 4 * base, out + base, plen, k);
    if (local.size() == 0) continue;
    for (uint32_t i = 0; i < k; i++) {
      const V6Slot* l = local.Find6(words + 4 * (base + i));
      if (l != nullptr && (plen[i] == 0xFF || l->plen >= plen[i])) out[base + i] = static_cast<int32_t>(l->identity);
    }
  }
}

}  // namespace hubcap
