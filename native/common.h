// Shared building blocks of hubcap's native maps: allocation accounting, hashing and the
// bucketed open-addressing table every map is made of.
//
// Mirrors: nothing in Cilium directly. The kernel's maps are BPF hash and LPM-trie maps whose
// memory the kernel accounts per map (`bpftool map show` prints `memlock`); here every map owns
// a MemCounter and every byte it allocates goes through it, so `bytesAllocated()` is exact.
//
// This header is the library part of the addon: no N-API in here, so other native code (the
// replay fast path) can use the maps directly.
#ifndef HUBCAP_NATIVE_COMMON_H_
#define HUBCAP_NATIVE_COMMON_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace hubcap {

// ---------------------------------------------------------------------------------------------
// Allocation accounting.

// Bytes owned by one map (and, through TotalBytes(), by the whole module).
struct MemCounter {
  size_t bytes = 0;
};

// Every tracked byte of the module, all maps together (for the RSS cross-check).
size_t TotalBytes();

// Zero-filled memory of `bytes` bytes, counted in `mem`; nullptr when the system is out of
// memory (callers turn that into a status, never an exception). Large blocks are anonymous
// mappings advised to use transparent huge pages: a random probe into a 20 MB table then misses
// the TLB far less often. Sanitizer builds (HUBCAP_SANITIZE) always use the heap so ASan sees every
// block.
void* TrackedAlloc(size_t bytes, MemCounter* mem);
void TrackedFree(void* p, size_t bytes, MemCounter* mem);

// ---------------------------------------------------------------------------------------------
// Hashing.

// A 64-bit finaliser (the "moremur" constants of Pelle Evensen's mixers): every input bit
// affects every output bit, so sequential addresses and identities spread over the table.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 27;
  x *= 0x3C79AC492BA7B653ULL;
  x ^= x >> 33;
  x *= 0x1C69B3F74AC4AE35ULL;
  x ^= x >> 27;
  return x;
}

inline uint64_t Mix64x2(uint64_t a, uint64_t b) { return Mix64(a ^ Mix64(b + 0x9E3779B97F4A7C15ULL)); }

inline int HighestBit32(uint32_t m) { return 31 - __builtin_clz(m); }
inline int HighestBit64(uint64_t m) { return 63 - __builtin_clzll(m); }

#define HUBCAP_PREFETCH(p) __builtin_prefetch((p), 0, 3)

// Drives a software pipeline over items 0..n-1: `stage1` runs 3D items ahead of the item being
// finished, `stage2` 2D ahead and `stage3` D ahead (each typically resolving what the stage
// before prefetched and prefetching the next line), then `finish(i)` completes item i from
// cached lines; so about 3D cache misses are in flight instead of one at a time.
template <uint32_t D, class Stage1, class Stage2, class Stage3, class Finish>
inline void RunPipeline(uint32_t n, Stage1 stage1, Stage2 stage2, Stage3 stage3, Finish finish) {
  for (uint32_t j = 0; j < 3 * D && j < n; j++) stage1(j);
  for (uint32_t j = 0; j < 2 * D && j < n; j++) stage2(j);
  for (uint32_t j = 0; j < D && j < n; j++) stage3(j);
  for (uint32_t i = 0; i < n; i++) {
    if (i + 3 * D < n) stage1(i + 3 * D);
    if (i + 2 * D < n) stage2(i + 2 * D);
    if (i + D < n) stage3(i + D);
    finish(i);
  }
}

// Drives a one-stage software pipeline over items 0..n-1: `fetch(j)` runs D items ahead of
// `use(i, got)` (D a power of two), typically prefetching a line and returning its address, which
// waits in a ring of D until item j is used; so about D cache misses are in flight.
template <uint32_t D, class T, class Fetch, class Use>
inline void RunPrefetched(uint32_t n, Fetch fetch, Use use) {
  static_assert((D & (D - 1)) == 0, "D must be a power of two");
  T ring[D];
  for (uint32_t j = 0; j < D && j < n; j++) ring[j] = fetch(j);
  for (uint32_t i = 0; i < n; i++) {
    const T got = ring[i & (D - 1)];
    if (i + D < n) ring[i & (D - 1)] = fetch(i + D);
    use(i, got);
  }
}

// ---------------------------------------------------------------------------------------------
// Bucketed open-addressing hash table over an array of fixed-size slots.
//
// Ops describes a slot type (Find's predicates should combine compares with `&`, not `&&`):
//   using Slot = ...;                         // trivially copyable, 16 or 32 bytes
//   static void InitEmpty(Slot* s, size_t n); // mark n slots empty
//   static bool Empty(const Slot& s);
//   static uint64_t HashOf(const Slot& s);    // the hash of the key the slot holds
//
// Slots come in buckets of one cache line (64 bytes, aligned). A key lives in its home bucket or,
// when that is full, in one of the following buckets (linear probing by bucket); each bucket
// counts the keys of its own that overflowed past it (F14's "outbound overflow count"), so a
// lookup reads the home line and stops there unless keys did overflow. Deletion empties the slot
// and decrements the counts on the way: no tombstones and no moves, so a slot pointer stays valid
// until the table grows. The number of buckets is any number (not a power of two): the home of a
// hash is the high half of (hash >> 32) * buckets, Lemire's "fastrange". The load stays between
// 0.6 (just after growing) and 0.85, which keeps a 16-byte-slot table under 27 bytes per entry.
// The counts live in their own byte array (one byte per 64-byte bucket).
template <class Ops>
class BucketTable {
 public:
  using Slot = typename Ops::Slot;
  static constexpr uint32_t kPerBucket = 64 / sizeof(Slot);
  static_assert(sizeof(Slot) * kPerBucket == 64, "a slot must divide a cache line");

  explicit BucketTable(MemCounter* mem) : mem_(mem) {}
  ~BucketTable() { Release(); }
  BucketTable(const BucketTable&) = delete;
  BucketTable& operator=(const BucketTable&) = delete;

  uint32_t size() const { return size_; }
  // Slots (buckets * kPerBucket); slots() indexes 0..capacity()-1.
  uint32_t capacity() const { return buckets_ * kPerBucket; }
  Slot* slots() { return slots_; }
  const Slot* slots() const { return slots_; }
  // Per bucket, how many of its keys overflowed past it (Find reads on; batches read it ahead).
  const uint8_t* overflowCounts() const { return overflow_; }

  inline uint32_t Home(uint64_t h) const { return static_cast<uint32_t>(((h >> 32) * buckets_) >> 32); }

  // Pulls the home bucket of a hash into the cache ahead of a Find (batch lookups).
  inline void Prefetch(uint64_t h) const {
    if (buckets_ != 0) HUBCAP_PREFETCH(&slots_[static_cast<size_t>(Home(h)) * kPerBucket]);
  }

  // Pulls the overflow count of a hash's home bucket (its own byte array) into the cache.
  inline void PrefetchCount(uint64_t h) const {
    if (buckets_ != 0) HUBCAP_PREFETCH(&overflow_[Home(h)]);
  }
  // Pulls the bucket after a hash's home into the cache (where its overflowed keys start).
  inline void PrefetchNext(uint64_t h) const {
    if (buckets_ == 0) return;
    const uint32_t b = Home(h) + 1;
    HUBCAP_PREFETCH(&slots_[static_cast<size_t>(b == buckets_ ? 0 : b) * kPerBucket]);
  }

  // Find limited to the home bucket: the slot, or nullptr with `*more` telling whether keys of
  // that home overflowed past it (then Find must look further).
  template <class Match>
  inline Slot* FindHome(uint64_t h, Match match, bool* more) const {
    *more = false;
    if (buckets_ == 0) return nullptr;
    const uint32_t b = Home(h);
    Slot* bucket = &slots_[static_cast<size_t>(b) * kPerBucket];
    uint32_t hits = 0;
    for (uint32_t j = 0; j < kPerBucket; j++) hits |= static_cast<uint32_t>(!Ops::Empty(bucket[j]) & match(bucket[j])) << j;
    if (hits != 0) return &bucket[__builtin_ctz(hits)];
    *more = overflow_[b] != 0;
    return nullptr;
  }

  // The slot holding a key equal to `match` (a predicate on a slot), or nullptr.
  template <class Match>
  inline Slot* Find(uint64_t h, Match match) const {
    if (buckets_ == 0) return nullptr;
    uint32_t b = Home(h);
    for (;;) {
      Slot* bucket = &slots_[static_cast<size_t>(b) * kPerBucket];
      // Every slot of the line is compared without branches (`&`, not `&&`: which slot holds the
      // key is random, and a mispredicted branch per lookup costs more than the compares).
      uint32_t hits = 0;
      for (uint32_t j = 0; j < kPerBucket; j++) hits |= static_cast<uint32_t>(!Ops::Empty(bucket[j]) & match(bucket[j])) << j;
      if (hits != 0) return &bucket[__builtin_ctz(hits)];
      if (overflow_[b] == 0) return nullptr;
      if (++b == buckets_) b = 0;
    }
  }

  // Inserts a slot whose key is not in the table. Returns where it landed (valid until the table
  // grows), or nullptr when growing failed for lack of memory.
  Slot* Insert(const Slot& slot) {
    if (!Reserve(size_ + 1)) return nullptr;
    return Place(slot);
  }

  // Makes room for `n` entries without growing again. False when out of memory.
  bool Reserve(uint32_t n) {
    if (static_cast<uint64_t>(n) * 20 <= static_cast<uint64_t>(capacity()) * 17) return true;
    uint64_t want = (static_cast<uint64_t>(n) * 10 / 6 + kPerBucket) / kPerBucket;
    if (want < 1) want = 1;
    if (want * kPerBucket > 0xFFFFFFF0ULL) return false;
    return Rehash(static_cast<uint32_t>(want));
  }

  // Removes the entry at `s` (a pointer Find returned).
  void Erase(Slot* s) {
    const uint32_t at = static_cast<uint32_t>((s - slots_) / kPerBucket);
    for (uint32_t b = Home(Ops::HashOf(*s)); b != at; b = b + 1 == buckets_ ? 0 : b + 1) {
      if (overflow_[b] != 0xFF) overflow_[b]--;
    }
    Ops::InitEmpty(s, 1);
    size_--;
  }

  // Drops every entry and the memory.
  void Release() {
    if (slots_ != nullptr) {
      TrackedFree(slots_, static_cast<size_t>(buckets_) * 64, mem_);
      TrackedFree(overflow_, buckets_, mem_);
    }
    slots_ = nullptr;
    overflow_ = nullptr;
    buckets_ = 0;
    size_ = 0;
  }

  template <class Fn>
  void ForEach(Fn fn) const {
    for (uint32_t i = 0, n = capacity(); i < n; i++)
      if (!Ops::Empty(slots_[i])) fn(slots_[i]);
  }

 private:
  Slot* Place(const Slot& slot) {
    uint32_t b = Home(Ops::HashOf(slot));
    for (;;) {
      Slot* bucket = &slots_[static_cast<size_t>(b) * kPerBucket];
      for (uint32_t j = 0; j < kPerBucket; j++) {
        if (Ops::Empty(bucket[j])) {
          bucket[j] = slot;
          size_++;
          return &bucket[j];
        }
      }
      // Saturated counts stay saturated: lookups then always look further, which is only slower.
      if (overflow_[b] != 0xFF) overflow_[b]++;
      if (++b == buckets_) b = 0;
    }
  }

  bool Rehash(uint32_t buckets) {
    Slot* fresh = static_cast<Slot*>(TrackedAlloc(static_cast<size_t>(buckets) * 64, mem_));
    if (fresh == nullptr) return false;
    uint8_t* freshOverflow = static_cast<uint8_t*>(TrackedAlloc(buckets, mem_));
    if (freshOverflow == nullptr) {
      TrackedFree(fresh, static_cast<size_t>(buckets) * 64, mem_);
      return false;
    }
    Ops::InitEmpty(fresh, static_cast<size_t>(buckets) * kPerBucket);
    Slot* old = slots_;
    uint8_t* oldOverflow = overflow_;
    const uint32_t oldBuckets = buckets_;
    slots_ = fresh;
    overflow_ = freshOverflow;
    buckets_ = buckets;
    size_ = 0;
    for (size_t i = 0, n = static_cast<size_t>(oldBuckets) * kPerBucket; i < n; i++)
      if (!Ops::Empty(old[i])) Place(old[i]);
    if (old != nullptr) {
      TrackedFree(old, static_cast<size_t>(oldBuckets) * 64, mem_);
      TrackedFree(oldOverflow, oldBuckets, mem_);
    }
    return true;
  }

  MemCounter* mem_;
  Slot* slots_ = nullptr;
  uint8_t* overflow_ = nullptr;
  uint32_t buckets_ = 0;
  uint32_t size_ = 0;
};

// A growable array of trivially copyable T whose memory is counted.
template <class T>
class TrackedVector {
 public:
  explicit TrackedVector(MemCounter* mem) : mem_(mem) {}
  ~TrackedVector() { Release(); }
  TrackedVector(const TrackedVector&) = delete;
  TrackedVector& operator=(const TrackedVector&) = delete;

  uint32_t size() const { return size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](uint32_t i) { return data_[i]; }
  const T& operator[](uint32_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  void pop_back() { size_--; }
  void clear() { size_ = 0; }

  // False when out of memory (nothing changed).
  bool push_back(const T& v) {
    if (size_ == cap_ && !Grow(cap_ < 8 ? 8 : cap_ + cap_ / 2)) return false;
    data_[size_++] = v;
    return true;
  }

  // Appends `k` elements (unset); false when out of memory (nothing changed).
  bool Extend(uint32_t k) {
    const uint64_t want = static_cast<uint64_t>(size_) + k;
    if (want > 0xFFFFFFF0ULL) return false;
    if (want > cap_) {
      uint64_t cap = cap_ < 8 ? 8 : cap_ + cap_ / 2;
      if (cap < want) cap = want;
      if (cap > 0xFFFFFFF0ULL) cap = want;
      if (!Grow(static_cast<uint32_t>(cap))) return false;
    }
    size_ = static_cast<uint32_t>(want);
    return true;
  }

  void Release() {
    if (data_ != nullptr) TrackedFree(data_, static_cast<size_t>(cap_) * sizeof(T), mem_);
    data_ = nullptr;
    cap_ = size_ = 0;
  }

 private:
  bool Grow(uint32_t cap) {
    T* fresh = static_cast<T*>(TrackedAlloc(static_cast<size_t>(cap) * sizeof(T), mem_));
    if (fresh == nullptr) return false;
    if (size_ != 0) memcpy(static_cast<void*>(fresh), data_, static_cast<size_t>(size_) * sizeof(T));
    if (data_ != nullptr) TrackedFree(data_, static_cast<size_t>(cap_) * sizeof(T), mem_);
    data_ = fresh;
    cap_ = cap;
    return true;
  }

  MemCounter* mem_;
  T* data_ = nullptr;
  uint32_t cap_ = 0;
  uint32_t size_ = 0;
};

// A u32 -> u32 counter table (counts per (length, address bits) in the length indexes).
struct CountSlot32 {
  uint32_t key;  // 0xFFFFFFFF = empty
  uint32_t count;
};
struct CountOps32 {
  using Slot = CountSlot32;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0xFF, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.key == 0xFFFFFFFFu; }
  static uint64_t HashOf(const Slot& s) { return Mix64(s.key); }
};

// A u64 -> u32 counter table.
struct CountSlot64 {
  uint64_t key;  // ~0 = empty
  uint32_t count;
  uint32_t pad;
};
struct CountOps64 {
  using Slot = CountSlot64;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0xFF, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.key == ~0ULL; }
  static uint64_t HashOf(const Slot& s) { return Mix64(s.key); }
};

// Adds `delta` (+1 or -1) to the count of `key`; returns the new count, or -1 when memory ran
// out on an increment.
template <class Table, class Key>
inline int64_t BumpCount(Table* t, Key key, int delta) {
  using Slot = typename Table::Slot;
  uint64_t h = Mix64(key);
  Slot* s = t->Find(h, [key](const Slot& x) { return x.key == key; });
  if (s != nullptr) {
    int64_t n = static_cast<int64_t>(s->count) + delta;
    if (n <= 0) {
      t->Erase(s);
      return 0;
    }
    s->count = static_cast<uint32_t>(n);
    return n;
  }
  if (delta < 0) return 0;
  Slot fresh;
  memset(static_cast<void*>(&fresh), 0, sizeof(fresh));
  fresh.key = key;
  fresh.count = 1;
  return t->Insert(fresh) != nullptr ? 1 : -1;
}

}  // namespace hubcap

#endif  // HUBCAP_NATIVE_COMMON_H_
