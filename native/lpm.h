// The ipcache's longest-prefix match, native: hubcap's C++ counterpart of src/maps/ipcache.ts.
//
// Mirrors: bpf/lib/eps.h (`ipcache_lookup4`, `ipcache_lookup6`) and the LPM-trie map
// `cilium_ipcache_v2` (512,000 entries by default), with the semantics src/maps/ipcache.ts
// states at its top, exactly:
//  - address bits beyond the prefix are ignored (masked) on upsert, delete and lookup;
//  - upsert of an existing (family, prefix) replaces its value; a new prefix when
//    size == capacity fails and counts one overflow (both families share the capacity);
//  - a lookup that matches nothing answers -1.
//
// Layout (no 16M-slot DIR-24-8 table; memory grows with the prefixes):
//  - Hash tables keyed by (masked address, prefix length), holding the value in the slot: 16
//    bytes per IPv4 prefix, 32 per IPv6 prefix, at a load of 0.6..0.85.
//      IPv4: two two-choice tables (two_choice.h), /32 hosts in one and /0../31 CIDRs in the
//        other, so a host probe reads only hosts' lines and an address under a CIDR probes a
//        table several times smaller (mostly cache-resident). A key is in one of its two
//        buckets, ~83% in its first at the top load; a probe reads the second line only when
//        the first misses and keys of its class were displaced from it, so no chains. Keys
//        hash with one multiply (Hash4) and compare as (address, plen|used) pairs, four slots
//        at once with SSE2 (lpm.cc MatchBucket4).
//      IPv6: one common.h BucketTable (home bucket, then linear overflow: one cache line for
//        most keys).
//  - Which lengths to probe, longest first:
//      small maps (< 64 prefixes of a family): every length present (a bit set);
//      IPv4 and IPv6 lengths 1..32: a DIR-16 length index, for each value of the top 16 address
//        bits the set of lengths with a prefix there (256 KiB, built at 64 prefixes); lengths up
//        to 16 are exact (such a prefix covers all of its top-16 values), longer ones are
//        counted per (length, top 16 bits) so a bit is cleared when its last prefix goes;
//      IPv4 lengths 17..31 in a /16 holding many such prefixes (Dir24Blocks, from 16,384 IPv4
//        prefixes): per /24, the lengths covering it (exact) or inside it;
//      IPv6 lengths 33..128: per word 0 (such prefixes keep all of it), the set of lengths
//        present under it, in a hash keyed by word 0.
//    The /0 default is probed last when present.
//  So a host entry costs one probe (one line, ~17% of the time two); an address under a CIDR
//  costs one probe per longer length present in its /24 (dense /16) or /16, then the hit.
//
// Batch lookups are software pipelines: the cache misses of many lookups overlap instead of
// following one another (a random probe into a table larger than the caches costs ~100-300 ns
// alone and ~7-10 ns when many are in flight). IPv4 (LookupBatch4) takes two passes per chunk:
// every address as a /32 host first (its first bucket prefetched D addresses ahead, then the
// second buckets of the few that need them), then only the addresses left, through the length
// index (read D addresses ahead of the probes).
#ifndef HUBCAP_NATIVE_LPM_H_
#define HUBCAP_NATIVE_LPM_H_

#include <cstddef>
#include <cstdint>

#include "common.h"
#include "two_choice.h"

namespace hubcap {

// One IPv4 prefix: 16 bytes. The key (addr, plen, used) is the first 48 bits, so a probe compares
// a slot with one 64-bit load and mask (KeyWord4) instead of three field compares.
struct V4Slot {
  uint32_t addr;  // masked, host byte order (the value of src/net/addr.ts word 3)
  uint8_t plen;   // 0..32
  uint8_t used;   // 0 = empty slot
  uint8_t flags;
  uint8_t pad;  // the table's (V4Ops::Meta)
  uint32_t identity;
  uint32_t tunnel;
};
static_assert(sizeof(V4Slot) == 16 && offsetof(V4Slot, plen) == 4 && offsetof(V4Slot, used) == 5, "KeyBits4's layout");

// One IPv6 prefix: 32 bytes.
struct V6Slot {
  uint32_t w[4];  // masked, each word host byte order of the big-endian address words
  uint32_t identity;
  uint32_t tunnel;
  uint8_t flags;
  uint8_t plen;  // 0..128
  uint8_t used;
  uint8_t pad[5];
};

inline uint32_t Mask32(int len) { return len <= 0 ? 0u : len >= 32 ? 0xFFFFFFFFu : (0xFFFFFFFFu << (32 - len)); }
// The mask of word `k` (0..3) of an IPv6 prefix of length `len`.
inline uint32_t Mask6(int len, int k) { return Mask32(len - 32 * k); }

// The first 8 bytes of a slot holding (addr, plen, used), as KeyWord4 reads them.
inline uint64_t KeyBits4(uint32_t addr, uint8_t plen, uint8_t used) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return addr | (static_cast<uint64_t>(plen) << 32) | (static_cast<uint64_t>(used) << 40);
#else
  V4Slot t{};  // through the struct on other byte orders
  t.addr = addr;
  t.plen = plen;
  t.used = used;
  uint64_t w;
  memcpy(&w, &t, sizeof(w));
  return w;
#endif
}
// A slot's key bits (flags and pad masked off): equal to KeyBits4(key, plen, 1) only for the
// slot holding that prefix, never for an empty one.
inline uint64_t KeyWord4(const V4Slot& s) {
  uint64_t w;
  memcpy(&w, &s, sizeof(w));
  return w & KeyBits4(0xFFFFFFFFu, 0xFF, 0xFF);
}

// One multiply (Fibonacci hashing): the table's home is taken from the high bits
// (BucketTable::Home), where every key bit has reached; a second mixing round (Mix64) costs
// more than the lookups it would save from collisions (the keys are addresses, not adversarial
// input, and the buckets absorb the clustering).
inline uint64_t Hash4(uint32_t addr, int plen) { return ((static_cast<uint64_t>(plen) << 32) | addr) * 0x9E3779B97F4A7C15ULL; }
inline uint64_t Hash6(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3, int plen) {
  return Mix64(Mix64x2((static_cast<uint64_t>(w0) << 32) | w1, (static_cast<uint64_t>(w2) << 32) | w3) ^ static_cast<uint64_t>(plen));
}

struct V4Ops {
  using Slot = V4Slot;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.used == 0; }
  static uint64_t HashOf(const Slot& s) { return Hash4(s.addr, s.plen); }
  // The byte TwoChoiceTable keeps for itself (outside the key bits KeyWord4 compares).
  static uint8_t& Meta(Slot& s) { return s.pad; }
};

// The IPv4 tables (hosts and CIDRs apart, IpcacheCore).
using V4Table = TwoChoiceTable<V4Ops>;

struct V6Ops {
  using Slot = V6Slot;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.used == 0; }
  static uint64_t HashOf(const Slot& s) { return Hash6(s.w[0], s.w[1], s.w[2], s.w[3], s.plen); }
};

// Per word 0 of IPv6 prefixes longer than /32: the lengths 33..128 present under it.
struct W0Slot {
  uint32_t w0;
  uint32_t count;     // 0 = empty slot
  uint32_t masks[3];  // bit b of masks[k]: length 33 + 32k + b
  uint32_t pad[3];    // 32 bytes: two to a cache line
};
struct W0Ops {
  using Slot = W0Slot;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.count == 0; }
  static uint64_t HashOf(const Slot& s) { return Mix64(s.w0); }
};

// The DIR-16 length index over 32-bit values: for each top-16 value, bit L-1 set when some
// prefix of length L (1..32) may cover values starting with it.
class Dir16Index {
 public:
  explicit Dir16Index(MemCounter* mem) : mem_(mem), counts_(mem) {}
  ~Dir16Index();
  // Allocates the 256 KiB table; false when out of memory.
  bool Init();
  // Frees the table and the counts (the index is then unbuilt).
  void Reset();
  bool built() const { return masks_ != nullptr; }
  const uint32_t* masks() const { return masks_; }
  // `value` already masked to `len` (1..32). False when out of memory (nothing changed).
  bool Add(uint32_t value, int len);
  void Remove(uint32_t value, int len);

 private:
  MemCounter* mem_;
  uint32_t* masks_ = nullptr;
  BucketTable<CountOps32> counts_;  // (len << 16 | top16) -> prefixes, for len > 16
};

// Exact IPv4 lengths 17..31 per /24, for the /16s dense with such prefixes (DIR-16-8 where it
// pays). The DIR-16 index only says which of those lengths occur somewhere in a /16: in a /16
// holding dozens of CIDRs every length does, and an address under a /24 would probe 31..25 in
// vain (each a miss that may walk an overflow chain). A block holds, per /24 of its /16, bit
// L-17 when a prefix of length L covers that /24 (L <= 24: exact, same-length prefixes being
// disjoint) or lies inside it (L 25..31: counted per (L, /24) so the bit goes with the last).
// A /16 gets a block (512 bytes) at kDense such prefixes and loses it below kSparse, so blocks
// cost at most 512 / kSparse bytes per prefix of those lengths; the counts about 11 more per
// prefix of lengths 25..31.
class Dir24Blocks {
 public:
  static constexpr uint32_t kDense = 16;
  static constexpr uint32_t kSparse = 8;

  explicit Dir24Blocks(MemCounter* mem) : mem_(mem), cells_(mem), free_(mem), counts_(mem) {}
  ~Dir24Blocks() { Reset(); }
  // Allocates the per-/16 table (256 KiB); false when out of memory.
  bool Init();
  void Reset();
  bool built() const { return tops_ != nullptr; }
  // `lens` (the DIR-16 bits of addr's /16) with bits 16..30 (lengths 17..31) replaced by the
  // /24's exact ones when the /16 has a block. Without a branch (whether an address's /16 has a
  // block is random, and the test waits on the /16 entry's load): a /16 without one reads the
  // all-zero block 0 and keeps its bits.
  inline uint32_t Refine(uint32_t addr, uint32_t lens) const {
    const uint32_t block = tops_[addr >> 16].block;
    const uint32_t cell = cells_[block * 256 + ((addr >> 8) & 255)];
    const uint32_t keep = 0x8000FFFFu | ((block == 0) * 0x7FFF0000u);
    return (lens & keep) | (cell << 16);
  }
  // One more / one fewer prefix `value` (masked) of length `len` (17..31); `table` holds the
  // other prefixes (a new block is filled from it). Add is false when out of memory (nothing
  // changed); a block that cannot be allocated is simply not made.
  bool Add(const V4Table& table, uint32_t value, int len);
  void Remove(uint32_t value, int len);

 private:
  struct Top {
    uint16_t count;  // prefixes of lengths 17..31 in the /16 (at most 2^16 - 2)
    uint16_t block;  // the block's index in cells_, 0 = none (block 0 is all zeros, for Refine)
  };
  void MakeBlock(const V4Table& table, uint32_t top);
  void DropBlock(uint32_t top);
  void Mark(uint32_t block, uint32_t value, int len, bool on);

  MemCounter* mem_;
  Top* tops_ = nullptr;  // 65536
  TrackedVector<uint16_t> cells_;    // 256 per block; block 0 is no /16's (all zeros)
  TrackedVector<uint16_t> free_;     // blocks to reuse
  BucketTable<CountOps32> counts_;  // (len << 24 | /24) -> prefixes, for len 25..31
};

enum UpsertStatus { kUpsertOk = 1, kUpsertFull = 0, kUpsertNoMemory = -1 };

class IpcacheCore {
 public:
  // How many addresses ahead a batch prefetches (powers of two): IPv6, and IPv4 (whose host pass
  // does less per address, so more are needed to keep its misses in flight: 32 measured ~8%
  // faster than 16 at 512k prefixes, 64 no better).
  static constexpr uint32_t kPrefetchDistance = 16;
  static constexpr uint32_t kPrefetchDistance4 = 32;
  // Addresses per LookupChunk4 (its spill list lives on the stack).
  static constexpr uint32_t kChunk4 = 1024;
  // Prefixes of a family from which its length index pays for its 256 KiB.
  static constexpr uint32_t kIndexMinEntries = 64;
  // IPv4 prefixes from which the /24 blocks' per-/16 table (256 KiB) is built: at most 16 bytes
  // a prefix, and no /16 of a smaller map is dense enough to matter.
  static constexpr uint32_t kBlocksMinEntries = 16384;

  explicit IpcacheCore(uint32_t capacity);
  ~IpcacheCore();
  IpcacheCore(const IpcacheCore&) = delete;
  IpcacheCore& operator=(const IpcacheCore&) = delete;

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size4() + v6_.size(); }
  uint32_t overflow() const { return overflow_; }
  size_t bytesAllocated() const { return mem_.bytes; }

  // `addr` / `w` need not be masked. UpsertStatus.
  int Upsert4(uint32_t addr, int plen, uint32_t identity, uint32_t tunnel, uint8_t flags);
  int Upsert6(const uint32_t* w, int plen, uint32_t identity, uint32_t tunnel, uint8_t flags);
  bool Delete4(uint32_t addr, int plen);
  bool Delete6(const uint32_t* w, int plen);
  void Clear();

  // The longest prefix covering the address, or nullptr. Valid until the next change.
  const V4Slot* Find4(uint32_t addr) const;
  const V6Slot* Find6(const uint32_t* w) const;

  // Identities (-1 on a miss) of n addresses; `outPlen` (may be null) gets the matched prefix
  // length (0 on a miss). IPv6 addresses are 4 words each.
  void LookupBatch4(const uint32_t* addrs, int32_t* outId, uint8_t* outPlen, uint32_t n) const;
  void LookupBatch6(const uint32_t* words, int32_t* outId, uint8_t* outPlen, uint32_t n) const;

  template <class Fn>
  void ForEach4(Fn fn) const {
    hosts4_.ForEach(fn);
    cidrs4_.ForEach(fn);
  }
  template <class Fn>
  void ForEach6(Fn fn) const { v6_.ForEach(fn); }

 private:
  const V4Slot* Probe4(uint32_t addr, uint32_t lenBits) const;
  // LookupBatch4's passes over a chunk (lpm.cc): the /32 probe of every address, which lists
  // the indexes of those it did not answer in `spill`, and the length-index probes of those.
  uint32_t HostPass4(const uint32_t* addrs, int32_t* __restrict outId, uint32_t n, uint16_t* __restrict spill) const;
  void SpillPass4(const uint32_t* addrs, const uint16_t* spill, uint32_t m, int32_t* outId, uint8_t* outPlen) const;
  const V6Slot* Probe6Long(const uint32_t* w, const W0Slot* g) const;
  const V6Slot* Probe6Short(const uint32_t* w, uint32_t lenBits) const;
  // The lengths (bit L-1) whose prefix may cover `addr`.
  uint32_t Lengths4(uint32_t addr) const {
    if (!dir4_.built()) return small4_;
    const uint32_t lens = dir4_.masks()[addr >> 16];
    return blocks4_.built() ? blocks4_.Refine(addr, lens) : lens;
  }
  bool IndexAdd4(uint32_t addr, int plen);
  void IndexRemove4(uint32_t addr, int plen);
  bool IndexAdd6(const uint32_t* w, int plen);
  void IndexRemove6(const uint32_t* w, int plen);
  bool BuildIndex4();
  void BuildBlocks4();
  bool BuildIndex6();
  // The upsert both families share (lpm.cc): see its definition.
  template <class Table, class Slot, class Match, class IndexAdd, class IndexRemove, class AfterInsert>
  int UpsertSlot(Table& table, uint64_t hash, const Match& match, const Slot& fresh, IndexAdd indexAdd,
                 IndexRemove indexRemove, AfterInsert afterInsert);

  MemCounter mem_;
  uint32_t capacity_;
  uint32_t overflow_ = 0;

  uint32_t size4() const { return hosts4_.size() + cidrs4_.size(); }
  // The table holding IPv4 prefixes of length `plen`.
  V4Table& Table4(int plen) { return plen == 32 ? hosts4_ : cidrs4_; }
  const V4Table& Table4(int plen) const { return plen == 32 ? hosts4_ : cidrs4_; }

  // IPv4 hosts (/32) and CIDRs (/0../31) apart: a host lookup reads only hosts' lines, and the
  // CIDR probes of an address that is no host go to a table several times smaller (mostly
  // cache-resident: ~12% of the prefixes in the bench's mix).
  V4Table hosts4_;
  V4Table cidrs4_;
  uint32_t count4_[33] = {};
  // Small maps: bit L-1 for lengths 1..32 present (the DIR-16 encoding).
  uint32_t small4_ = 0;
  Dir16Index dir4_;
  Dir24Blocks blocks4_;  // built with dir4_

  BucketTable<V6Ops> v6_;
  uint32_t count6_[129] = {};
  // Small maps: lengths 1..128 present, bit (L-1) & 63 of word (L-1) >> 6.
  uint64_t small6_[2] = {};
  Dir16Index dir6_;          // lengths 1..32 over word 0
  BucketTable<W0Ops> w0_;  // lengths 33..128 per word 0
  BucketTable<CountOps64> w0Counts_;  // (w0 << 8 | L) -> prefixes
  bool index6_ = false;
};

// A node's view (src/maps/ipcache.ts IpcacheView): the entry with the longest prefix over both
// maps, the local one on a tie; nullptr on a miss.
const V4Slot* FindView4(const IpcacheCore& shared, const IpcacheCore& local, uint32_t addr);
const V6Slot* FindView6(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* w);
// Batches of view lookups: identities as int32, -1 on a miss.
void LookupViewBatch4(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* addrs, int32_t* out, uint32_t n);
void LookupViewBatch6(const IpcacheCore& shared, const IpcacheCore& local, const uint32_t* words, int32_t* out, uint32_t n);

}  // namespace hubcap

#endif  // HUBCAP_NATIVE_LPM_H_
