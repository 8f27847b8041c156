// A bucketized two-choice (cuckoo) hash table that keeps keys in their first bucket: the IPv4
// ipcache's tables (lpm.h).
//
// Mirrors: nothing in Cilium (the kernel's LPM trie is a different structure); the layout is the
// bucketized cuckoo hashing of MemC3 / DPDK's rte_hash: every key lives in one of two buckets of
// one cache line each, both known from its hash. Inserts fill a key's first bucket while it has
// room, so 83% (at the top load of 0.85) to 94% (at 0.6) of the keys sit there, and each bucket
// counts, inside its own line, the keys of its own that live in their second bucket
// (`displaced`, per class of keys, in the spare bytes of its slots). A lookup reads the first line; only when it misses and its class's count is not
// zero does it read the second.
// Why: a batch of lookups is bound by the cache lines it misses (the fill buffers cap how many
// are in flight), so a host costs 1.06..1.17 lines here against 2 for both buckets always,
// and an absent key (every address under a CIDR, in the /32 pass) 1.12 at most. common.h
// BucketTable's home bucket plus linear overflow needs, at its load of 0.85, a second line for
// ~18% of the keys and a separate count array besides.
//
// Inserting into a full pair moves keys to their other bucket (a random walk, as MemC3, undone
// when it gives up; the table then grows). The load stays between 0.6 (after growing) and 0.85,
// far below where 4-slot two-choice tables fail (~0.98), so walks are short and a failed one
// practically never happens. A count that reaches 255 stays there (absent keys of that class
// then always read the second line: slower, never wrong).
//
// Ops: BucketTable's (Slot of 16 bytes, InitEmpty, Empty, HashOf) plus the byte a slot spares for
// the table: `static uint8_t& Meta(Slot&)` (left alone by everything else).
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

  // A hash's first bucket, from its high half (where a multiplicative hash is strongest), and its
  // second, from a remix of all 64 bits; each mapped onto any number of buckets with Lemire's
  // fastrange. They may coincide. Only for a table with buckets (capacity() != 0).
  inline const Slot* First(uint64_t h) const { return &slots_[static_cast<size_t>(FirstIndex(h)) * kPerBucket]; }
  inline const Slot* Second(uint64_t h) const { return &slots_[static_cast<size_t>(SecondIndex(h)) * kPerBucket]; }
  // Keys of hash `h`'s class whose first bucket is `first` (First(h)) and that live in their
  // second bucket; 255 = maybe more. The classes (two hash bits that choose neither bucket) keep
  // one count each in the spare byte of a slot of the line, so an absent key reads its second
  // line only when keys of its own class were displaced: a quarter as often as with one count.
  static inline uint8_t Displaced(const Slot* first, uint64_t h) { return Ops::Meta(const_cast<Slot&>(first[Class(h)])); }

  // The slot holding a key equal to `match` (a predicate on a slot, combining compares with `&`),
  // or nullptr.
  template <class Match>
  inline Slot* Find(uint64_t h, Match match) const {
    if (buckets_ == 0) return nullptr;
    const Slot* b = First(h);
    uint32_t hits = MatchMask(b, match);
    if (hits == 0) {
      if (Displaced(b, h) == 0) return nullptr;
      b = Second(h);
      hits = MatchMask(b, match);
      if (hits == 0) return nullptr;
    }
    return const_cast<Slot*>(&b[__builtin_ctz(hits)]);
  }

  // Bit j set when slot j of `bucket` is in use and matches. Every slot is compared without
  // branches: which one holds the key is random, and a mispredicted branch costs more.
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
    Leave(BucketOf(s), *s);
    Slot empty;
    Ops::InitEmpty(&empty, 1);
    Put(s, empty);
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
  static inline uint32_t Class(uint64_t h) { return static_cast<uint32_t>(h >> 28) & (kPerBucket - 1); }
  inline uint32_t Range(uint64_t h) const { return static_cast<uint32_t>(((h >> 32) * buckets_) >> 32); }
  inline uint32_t FirstIndex(uint64_t h) const { return Range(h); }
  inline uint32_t SecondIndex(uint64_t h) const { return Range((h ^ (h >> 31)) * 0xD6E8FEB86659FD93ULL); }
  uint32_t BucketOf(const Slot* s) const { return static_cast<uint32_t>((s - slots_) / kPerBucket); }
  Slot* Bucket(uint32_t b) const { return &slots_[static_cast<size_t>(b) * kPerBucket]; }

  static uint32_t Grown(uint32_t buckets) { return buckets + buckets / 2 + 1; }

  // Writes a slot's key and value, keeping the table's byte of the destination.
  static void Put(Slot* dst, const Slot& src) {
    const uint8_t meta = Ops::Meta(*dst);
    *dst = src;
    Ops::Meta(*dst) = meta;
  }

  // The displaced counts as `slot` enters / leaves bucket `b`: counted in its first bucket
  // while it lives in its second.
  void Enter(uint32_t b, const Slot& slot) {
    const uint64_t h = Ops::HashOf(slot);
    const uint32_t first = FirstIndex(h);
    uint8_t& n = Ops::Meta(Bucket(first)[Class(h)]);
    if (b != first && n != 0xFF) n++;
  }
  void Leave(uint32_t b, const Slot& slot) {
    const uint64_t h = Ops::HashOf(slot);
    const uint32_t first = FirstIndex(h);
    uint8_t& n = Ops::Meta(Bucket(first)[Class(h)]);
    if (b != first && n != 0xFF) n--;
  }

  // A slot of bucket `b` holding a key whose first bucket is another, or nullptr (each slot
  // with an equal chance when several do, so walks do not cycle).
  Slot* DisplacedSlot(uint32_t b) {
    Slot* bucket = Bucket(b);
    const uint32_t start = static_cast<uint32_t>(rng_ >> 16);
    for (uint32_t k = 0; k < kPerBucket; k++) {
      Slot* s = &bucket[(start + k) % kPerBucket];
      if (FirstIndex(Ops::HashOf(*s)) != b) return s;
    }
    return nullptr;
  }

  Slot* Free(uint32_t b) const {
    Slot* bucket = Bucket(b);
    for (uint32_t j = 0; j < kPerBucket; j++)
      if (Ops::Empty(bucket[j])) return &bucket[j];
    return nullptr;
  }

  // Places `slot` (buckets allocated): in its first bucket when it has room, else its second,
  // else moving keys to their other bucket; false after kMaxKicks moves, which are then undone
  // (the table is as before).
  bool Place(Slot slot) {
    Slot* moved[kMaxKicks];  // where each move put the slot in hand
    uint32_t from = buckets_;  // the bucket the slot in hand was just moved out of
    for (uint32_t kick = 0;; kick++) {
      const uint64_t h = Ops::HashOf(slot);
      const uint32_t b1 = FirstIndex(h), b2 = SecondIndex(h);
      uint32_t b = b1;
      Slot* free = Free(b1);
      if (free == nullptr) free = Free(b = b2);
      if (free != nullptr) {
        Put(free, slot);
        Enter(b, slot);
        size_++;
        return true;
      }
      if (kick == kMaxKicks) break;
      // Both full: swap with a slot of the bucket the slot in hand did not just leave, its first
      // one when it may; a slot displaced there (whose other bucket is its first) when there is
      // one, so the walk moves keys home rather than out; else a random one.
      rng_ ^= rng_ << 13;
      rng_ ^= rng_ >> 7;
      rng_ ^= rng_ << 17;
      const uint32_t into = b1 != from ? b1 : b2;
      Slot* victim = DisplacedSlot(into);
      if (victim == nullptr) victim = &Bucket(into)[(rng_ >> 8) % kPerBucket];
      const Slot evicted = *victim;
      Leave(into, evicted);
      Put(victim, slot);
      Enter(into, slot);
      slot = evicted;
      from = into;
      moved[kick] = victim;
    }
    for (uint32_t k = kMaxKicks; k-- > 0;) {
      const uint32_t b = BucketOf(moved[k]);
      const Slot back = *moved[k];
      Leave(b, back);
      Put(moved[k], slot);
      Enter(b, slot);
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
