// A bucketized two-choice (cuckoo) hash table: the IPv4 ipcache's tables (lpm.h).
//
// Mirrors: nothing in Cilium (the kernel's LPM trie is a different structure); the layout is the
// bucketized cuckoo hashing of MemC3 / DPDK's rte_hash: every key lives in one of two buckets of
// one cache line each, both known from its hash. A lookup therefore reads exactly two lines,
// which a batch prefetches together, and is decided there: no overflow chain to follow and no
// per-bucket count to read (common.h BucketTable's home bucket plus linear overflow needs, at
// that table's load of 0.85, a third line for ~18% of the keys, and its count array besides).
// Inserting into a full pair moves keys to their other bucket (a random walk, as MemC3); the load
// stays between 0.6 (after growing) and 0.85, far below where 4-slot two-choice tables fail
// (~0.98), so a walk is short and a failed one (then the table grows) practically never happens.
//
// Ops is BucketTable's (Slot of 16 bytes, InitEmpty, Empty, HashOf).
#ifndef HUBCAP_NATIVE_TWO_CHOICE_H_
#define HUBCAP_NATIVE_TWO_CHOICE_H_

#include <cstddef>
#include <cstdint>

#include "common.h"

namespace hubcap {

template <class Ops>
class TwoChoiceTable {
 public:
  using Slot = typename Ops::Slot;
  static constexpr uint32_t kPerBucket = 64 / sizeof(Slot);
  static_assert(sizeof(Slot) * kPerBucket == 64, "a slot must divide a cache line");
  // Moves an insert may make before the table grows instead.
  static constexpr uint32_t kMaxKicks = 256;

  explicit TwoChoiceTable(MemCounter* mem) : mem_(mem) {}
  ~TwoChoiceTable() { Release(); }
  TwoChoiceTable(const TwoChoiceTable&) = delete;
  TwoChoiceTable& operator=(const TwoChoiceTable&) = delete;

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return buckets_ * kPerBucket; }

  // The two buckets of a hash: the first from its high half (where a multiplicative hash is
  // strongest), the second from a remix of all 64 bits, each mapped onto any number of buckets
  // with Lemire's fastrange. They may coincide (one bucket then holds the key's every place).
  struct Pair {
    const Slot* first;
    const Slot* second;
  };
  inline Pair Buckets(uint64_t h) const {
    const uint64_t alt = (h ^ (h >> 31)) * 0xD6E8FEB86659FD93ULL;
    return Pair{&slots_[static_cast<size_t>(Range(h)) * kPerBucket], &slots_[static_cast<size_t>(Range(alt)) * kPerBucket]};
  }
  // Pulls both buckets of a hash into the cache ahead of a Find (batches).
  inline void Prefetch(uint64_t h) const {
    if (buckets_ == 0) return;
    const Pair p = Buckets(h);
    HUBCAP_PREFETCH(p.first);
    HUBCAP_PREFETCH(p.second);
  }

  // The slot holding a key equal to `match` (a predicate on a slot, combining compares with `&`),
  // or nullptr. Every slot of both lines is compared without branches: which one holds the key is
  // random, and a mispredicted branch costs more than the compares.
  template <class Match>
  inline Slot* Find(uint64_t h, Match match) const {
    if (buckets_ == 0) return nullptr;
    const Pair p = Buckets(h);
    const uint32_t hits = MatchMask(p.first, match) | (MatchMask(p.second, match) << kPerBucket);
    if (hits == 0) return nullptr;
    const uint32_t j = __builtin_ctz(hits);
    return const_cast<Slot*>(j < kPerBucket ? &p.first[j] : &p.second[j - kPerBucket]);
  }

  // Bit j set when slot j of `bucket` is in use and matches.
  template <class Match>
  static inline uint32_t MatchMask(const Slot* bucket, Match match) {
    uint32_t hits = 0;
    for (uint32_t j = 0; j < kPerBucket; j++) hits |= static_cast<uint32_t>(!Ops::Empty(bucket[j]) & match(bucket[j])) << j;
    return hits;
  }

  // Inserts a slot whose key is not in the table. Other slots may move: pointers Find returned
  // are invalid afterwards. False when growing failed for lack of memory (nothing changed).
  bool Insert(const Slot& slot) {
    if (!Reserve(size_ + 1)) return false;
    if (Place(slot)) return true;
    // The walk gave up (and was undone): grow, the new slot with the others.
    return Rehash(Grown(buckets_), &slot);
  }

  // Makes room for `n` entries without growing again. False when out of memory.
  bool Reserve(uint32_t n) {
    if (static_cast<uint64_t>(n) * 20 <= static_cast<uint64_t>(capacity()) * 17) return true;
    uint64_t want = (static_cast<uint64_t>(n) * 10 / 6 + kPerBucket) / kPerBucket;
    if (want * kPerBucket > 0xFFFFFFF0ULL) return false;
    return Rehash(static_cast<uint32_t>(want), nullptr);
  }

  // Removes the entry at `s` (a pointer Find returned).
  void Erase(Slot* s) {
    Ops::InitEmpty(s, 1);
    size_--;
  }

  void Release() {
    if (slots_ != nullptr) TrackedFree(slots_, static_cast<size_t>(buckets_) * 64, mem_);
    slots_ = nullptr;
    buckets_ = 0;
    size_ = 0;
  }

  template <class Fn>
  void ForEach(Fn fn) const {
    for (size_t i = 0, n = capacity(); i < n; i++)
      if (!Ops::Empty(slots_[i])) fn(slots_[i]);
  }

 private:
  inline uint32_t Range(uint64_t h) const { return static_cast<uint32_t>(((h >> 32) * buckets_) >> 32); }

  static uint32_t Grown(uint32_t buckets) { return buckets + buckets / 2 + 1; }

  Slot* Free(const Slot* bucket) const {
    for (uint32_t j = 0; j < kPerBucket; j++)
      if (Ops::Empty(bucket[j])) return const_cast<Slot*>(&bucket[j]);
    return nullptr;
  }

  // Places `slot` (buckets allocated), moving keys to their other bucket while both of its own
  // are full; false after kMaxKicks moves, which are then undone (the table is as before).
  bool Place(Slot slot) {
    Slot* moved[kMaxKicks];    // where each move put the slot in hand
    const Slot* from = nullptr;  // the bucket the slot in hand was just moved out of
    for (uint32_t kick = 0;; kick++) {
      const Pair p = Buckets(Ops::HashOf(slot));
      Slot* free = Free(p.first);
      if (free == nullptr) free = Free(p.second);
      if (free != nullptr) {
        *free = slot;
        size_++;
        return true;
      }
      if (kick == kMaxKicks) break;
      // Both full: evict a random slot of the bucket `slot` did not just leave.
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      const Slot* into = p.first == from ? p.second : p.second == from ? p.first : (rng_ & 1) ? p.first : p.second;
      Slot* victim = const_cast<Slot*>(&into[(rng_ >> 8) % kPerBucket]);
      const Slot evicted = *victim;
      *victim = slot;
      slot = evicted;
      from = into;
      moved[kick] = victim;
    }
    for (uint32_t k = kMaxKicks; k-- > 0;) {
      const Slot back = *moved[k];
      *moved[k] = slot;
      slot = back;
    }
    return false;
  }

  // Moves every slot (and `*extra`, when given) into a table of `buckets` buckets, growing
  // further if a walk fails there. False when out of memory (nothing changed).
  bool Rehash(uint32_t buckets, const Slot* extra) {
    for (;;) {
      Slot* fresh = static_cast<Slot*>(TrackedAlloc(static_cast<size_t>(buckets) * 64, mem_));
      if (fresh == nullptr) return false;
      Ops::InitEmpty(fresh, static_cast<size_t>(buckets) * kPerBucket);
      Slot* old = slots_;
      const uint32_t oldBuckets = buckets_, oldSize = size_;
      slots_ = fresh;
      buckets_ = buckets;
      size_ = 0;
      bool ok = extra == nullptr || Place(*extra);
      for (size_t i = 0, n = static_cast<size_t>(oldBuckets) * kPerBucket; ok && i < n; i++)
        if (!Ops::Empty(old[i])) ok = Place(old[i]);
      if (ok) {
        if (old != nullptr) TrackedFree(old, static_cast<size_t>(oldBuckets) * 64, mem_);
        return true;
      }
      // Practically unreachable at these loads: start over, larger, from the old table.
      TrackedFree(fresh, static_cast<size_t>(buckets) * 64, mem_);
      slots_ = old;
      buckets_ = oldBuckets;
      size_ = oldSize;
      if (static_cast<uint64_t>(Grown(buckets)) * kPerBucket > 0xFFFFFFF0ULL) return false;
      buckets = Grown(buckets);
    }
  }

  MemCounter* mem_;
  Slot* slots_ = nullptr;
  uint32_t buckets_ = 0;
  uint32_t size_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace hubcap

#endif  // HUBCAP_NATIVE_TWO_CHOICE_H_
