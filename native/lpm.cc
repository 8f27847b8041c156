// The ipcache's longest-prefix match (lpm.h): updates, the length indexes and the lookups.
#include "lpm.h"

#include <algorithm>

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
    : capacity_(capacity), v4_(&mem_), dir4_(&mem_), v6_(&mem_), dir6_(&mem_), w0_(&mem_), w0Counts_(&mem_) {}

IpcacheCore::~IpcacheCore() = default;

namespace {

struct Match4 {
  uint32_t key;
  int plen;
  bool operator()(const V4Slot& s) const { return (s.addr == key) & (s.plen == plen); }
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
template <class Ops, class Match, class IndexRemove>
bool EraseSlot(BucketTable<Ops>& table, uint64_t hash, const Match& match, IndexRemove indexRemove) {
  auto* s = table.Find(hash, match);
  if (s == nullptr) return false;
  table.Erase(s);
  indexRemove();
  return true;
}

}  // namespace

// The slot matching `match` takes `fresh`'s values; otherwise, room permitting, `fresh` is
// inserted once `indexAdd` has counted its length (undone by `indexRemove` when the insert
// finds no memory), and `afterInsert` may build the family's length index.
template <class Ops, class Slot, class Match, class IndexAdd, class IndexRemove, class AfterInsert>
int IpcacheCore::UpsertSlot(BucketTable<Ops>& table, uint64_t hash, const Match& match, const Slot& fresh, IndexAdd indexAdd,
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
  if (table.Insert(fresh) == nullptr) {
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
      v4_, Hash4(key, plen), Match4{key, plen}, fresh, [&] { return IndexAdd4(key, plen); }, [&] { IndexRemove4(key, plen); },
      [&] {
        // Without memory for the index the lookups fall back to probing every length present.
        if (!dir4_.built() && v4_.size() >= kIndexMinEntries) BuildIndex4();
      });
}

bool IpcacheCore::Delete4(uint32_t addr, int plen) {
  const uint32_t key = addr & Mask32(plen);
  return EraseSlot(v4_, Hash4(key, plen), Match4{key, plen}, [&] { IndexRemove4(key, plen); });
}

bool IpcacheCore::IndexAdd4(uint32_t key, int plen) {
  if (plen > 0 && dir4_.built() && !dir4_.Add(key, plen)) return false;
  if (count4_[plen]++ == 0 && plen > 0) small4_ |= 1u << (plen - 1);
  return true;
}

void IpcacheCore::IndexRemove4(uint32_t key, int plen) {
  if (--count4_[plen] == 0 && plen > 0) small4_ &= ~(1u << (plen - 1));
  if (plen > 0 && dir4_.built()) dir4_.Remove(key, plen);
}

bool IpcacheCore::BuildIndex4() {
  if (!dir4_.Init()) return false;
  bool ok = true;
  v4_.ForEach([&](const V4Slot& s) {
    if (ok && s.plen > 0) ok = dir4_.Add(s.addr, s.plen);
  });
  if (!ok) dir4_.Reset();
  return ok;
}

const V4Slot* IpcacheCore::Probe4(uint32_t addr, uint32_t lenBits) const {
  // Longest first; the lengths of lenBits are bit L-1.
  while (lenBits != 0) {
    const int b = HighestBit32(lenBits);
    lenBits &= ~(1u << b);
    const int len = b + 1;
    const uint32_t key = addr & Mask32(len);
    const V4Slot* s = v4_.Find(Hash4(key, len), Match4{key, len});
    if (s != nullptr) return s;
  }
  if (count4_[0] != 0) return v4_.Find(Hash4(0, 0), Match4{0, 0});
  return nullptr;
}

const V4Slot* IpcacheCore::Find4(uint32_t addr) const { return Probe4(addr, Lengths4(addr)); }

void IpcacheCore::LookupBatch4(const uint32_t* addrs, int32_t* outId, uint8_t* outPlen, uint32_t n) const {
  // A software pipeline of four stages D addresses apart, so about 3D cache misses are in flight
  // instead of one at a time:
  //  1. (i + 3D) the address's length-index cell is prefetched;
  //  2. (i + 2D) its longest length is hashed: home bucket and overflow count prefetched;
  //  3. (i + D) that probe is resolved in the home bucket (most addresses are /32 hosts: done);
  //     otherwise the bucket after it is prefetched when keys overflowed, and so are the home
  //     buckets of the next kMaxAhead lengths present (an address under a /24 in a /16 holding
  //     every length 17..32 would otherwise pay nine misses one after the other);
  //  4. (i) the rest of the probes, from cached lines.
  constexpr uint32_t D = kPrefetchDistance;
  constexpr uint32_t R = 4 * D;
  struct Pending {
    const V4Slot* hit;
    uint64_t hash;  // of the first probe
    uint32_t rest;  // the lengths left after the first probe
    int len;        // of the first probe; 0 = only /0 can answer
    bool chain;     // the first probe continues past its home bucket
  };
  Pending ring[R];
  const uint32_t* dir = dir4_.built() ? dir4_.masks() : nullptr;
  auto stage1 = [&](uint32_t j) {
    if (dir != nullptr) HUBCAP_PREFETCH(&dir[addrs[j] >> 16]);
  };
  auto stage2 = [&](uint32_t j) {
    Pending& p = ring[j & (R - 1)];
    const uint32_t a = addrs[j];
    const uint32_t bits = Lengths4(a);
    p.hit = nullptr;
    p.chain = false;
    if (bits == 0) {
      p.len = 0;
      p.rest = 0;
      return;
    }
    const int b = HighestBit32(bits);
    p.rest = bits & ~(1u << b);
    p.len = b + 1;
    p.hash = Hash4(a & Mask32(p.len), p.len);
    v4_.Prefetch(p.hash);
    v4_.PrefetchCount(p.hash);
  };
  auto stage3 = [&](uint32_t j) {
    Pending& p = ring[j & (R - 1)];
    if (p.len == 0) return;
    const uint32_t a = addrs[j];
    p.hit = v4_.FindHome(p.hash, Match4{a & Mask32(p.len), p.len}, &p.chain);
    if (p.hit != nullptr) return;
    if (p.chain) v4_.PrefetchNext(p.hash);
    uint32_t rest = p.rest;
    for (uint32_t k = 0; k < kMaxAhead && rest != 0; k++) {
      const int b = HighestBit32(rest);
      rest &= ~(1u << b);
      v4_.Prefetch(Hash4(a & Mask32(b + 1), b + 1));
    }
  };
  RunPipeline<D>(n, stage1, stage2, stage3, [&](uint32_t i) {
    const Pending& p = ring[i & (R - 1)];
    const V4Slot* s = p.hit;
    if (s == nullptr) {
      const uint32_t a = addrs[i];
      if (p.chain) s = v4_.Find(p.hash, Match4{a & Mask32(p.len), p.len});
      if (s == nullptr) s = Probe4(a, p.rest);
    }
    outId[i] = s != nullptr ? static_cast<int32_t>(s->identity) : -1;
    if (outPlen != nullptr) outPlen[i] = s != nullptr ? s->plen : 0xFF;
  });
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
  v4_.Release();
  v6_.Release();
  w0_.Release();
  w0Counts_.Release();
  dir4_.Reset();
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
