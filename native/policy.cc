// Per-endpoint policy maps (policy.h): the group directory, the entry blocks, big groups'
// private tables, the LPM over proto/port and the two-lookup verdict of bpf/lib/policy.h.
#include "policy.h"

#include <algorithm>

#include <atomic>
#include <type_traits>
#include <cstddef>
#include <cstdlib>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if HUBCAP_POLICY_AVX2
#include <immintrin.h>
// The features of the AVX-512 build of the batch loop (Avx512Lanes).
#define HUBCAP_AVX512_TARGET "avx512f,avx512cd,avx512bw,avx512dq,avx512vl,bmi,bmi2,lzcnt,popcnt"
#endif

namespace hubcap {

const PolicyPayload kNoPayload = {0, 0, 0, 0};

const uint16_t kPortMask[32] = {
    0,      0,      0,      0,      0,      0,      0,      0,       // 0..7 (only 0 is valid)
    0,                                                                // 8: protocol only
    0x8000, 0xC000, 0xE000, 0xF000, 0xF800, 0xFC00, 0xFE00, 0xFF00,  // 9..16
    0xFF80, 0xFFC0, 0xFFE0, 0xFFF0, 0xFFF8, 0xFFFC, 0xFFFE, 0xFFFF,  // 17..24
    0,      0,      0,      0,      0,      0,      0,               // 25..31 (unused)
};

alignas(64) const uint32_t kKeyMask[32] = {
    0,          0,          0,          0,          0,          0,          0,          0,           // 0..7
    0x00FF0000,                                                                                      // 8
    0x00FF8000, 0x00FFC000, 0x00FFE000, 0x00FFF000, 0x00FFF800, 0x00FFFC00, 0x00FFFE00, 0x00FFFF00,  // 9..16
    0x00FFFF80, 0x00FFFFC0, 0x00FFFFE0, 0x00FFFFF0, 0x00FFFFF8, 0x00FFFFFC, 0x00FFFFFE, 0x00FFFFFF,  // 17..24
    0,          0,          0,          0,          0,          0,          0,                       // 25..31
};

namespace {

// Entries per block of each size class and its 16-byte arena units: a block is 16 or 32 bytes,
// or whole cache lines (5 entries to a line, 16 to three); the last class is kMaxSmallGroup.
// Every payload starts a multiple of 8 bytes into a block of whole lines (the key words take a
// multiple of 8 bytes there: 20 entries in four lines, not 21), so none straddles two lines.
constexpr uint32_t kClassCap[PolicySetCore::kClasses] = {1, 2, 5, 10, 16, 20, 26, 32};
constexpr uint32_t kClassUnits[PolicySetCore::kClasses] = {1, 2, 4, 8, 12, 16, 20, 24};
static_assert(kClassCap[PolicySetCore::kClasses - 1] == PolicySetCore::kMaxSmallGroup, "the last class holds a full small group");
constexpr bool PayloadsInLines() {
  for (uint32_t c = 0; c < PolicySetCore::kClasses; c++) {
    if (kClassCap[c] * 12 > kClassUnits[c] * 16) return false;       // the block holds its class
    if (kClassUnits[c] >= 4 && kClassCap[c] % 2 != 0 && kClassCap[c] * 12 > 64) return false;  // a payload would straddle
  }
  return true;
}
static_assert(PayloadsInLines(), "blocks hold their entries, no payload straddling two lines");

inline uint32_t ClassFor(uint32_t n) {
  uint32_t c = 0;
  while (kClassCap[c] < n) c++;
  return c;
}

// Bit i set when key word kw[i] (i < n <= 32) covers pp = protocol << 16 | port: the 24 bits
// where they differ, d, are below the prefix, d < 2^(24 - P). Compared eight at a time without
// a branch per entry, so most groups take one step: d converted to float has the exponent
// 127 + log2(d) (0 for d = 0; exact, d < 2^24), so d < 2^(24 - P) exactly when that exponent
// field is below 151 - P. Three implementations of the eight-word step, `Lanes` parameters of
// the lookups: two SSE2 vectors (every x86-64), one AVX2 vector (used only inside functions
// compiled for AVX2, RunBatchAvx2, when the CPU has it), one word at a time elsewhere; and
// Avx512Lanes, sixteen words a step (RunBatchAvx512). Both lookups of `__policy_can_access`, the
// peer group's and the any-peer group's, are this scan of a block.
// The batch's search of a group in its home directory line (four 16-byte slots) is a Lanes step
// too, HomeHits: bit 2k set when slot k's first 8 bytes (mapDir, identity) equal `key`. Word
// compares here; AVX2 compares two slots a vector.
struct WordHome {
  static inline uint32_t HomeHits(const GroupSlot* line, uint64_t key) {
    uint32_t hits = 0;
    for (uint32_t k = 0; k < 4; k++) {
      uint64_t w;
      memcpy(&w, &line[k], sizeof(w));
      hits |= static_cast<uint32_t>(w == key) << (2 * k);
    }
    return hits;
  }
};

#if defined(__SSE2__)
struct Sse2Lanes : WordHome {
  static inline uint32_t Four(const uint32_t* kw, __m128i v) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kw));
    const __m128i d = _mm_and_si128(_mm_xor_si128(x, v), _mm_set1_epi32(0x00FFFFFF));
    const __m128i exp = _mm_srli_epi32(_mm_castps_si128(_mm_cvtepi32_ps(d)), 23);
    const __m128i lim = _mm_sub_epi32(_mm_set1_epi32(151), _mm_and_si128(_mm_srli_epi32(x, 24), _mm_set1_epi32(0x1F)));
    return static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpgt_epi32(lim, exp))));
  }
  static inline uint32_t Eight(const uint32_t* kw, uint32_t pp) {
    const __m128i v = _mm_set1_epi32(static_cast<int>(pp));
    return Four(kw, v) | Four(kw + 4, v) << 4;
  }
};
using PortableEight = Sse2Lanes;
#else
struct ScalarLanes : WordHome {
  static inline uint32_t Eight(const uint32_t* kw, uint32_t pp) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < 8; i++) m |= static_cast<uint32_t>(((kw[i] ^ pp) & kKeyMask[KwPrefix(kw[i])]) == 0) << i;
    return m;
  }
};
using PortableEight = ScalarLanes;
#endif

#if HUBCAP_POLICY_AVX2
struct Avx2Lanes {
  __attribute__((target("avx2"))) static inline uint32_t Eight(const uint32_t* kw, uint32_t pp) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kw));
    const __m256i d = _mm256_and_si256(_mm256_xor_si256(x, _mm256_set1_epi32(static_cast<int>(pp))), _mm256_set1_epi32(0x00FFFFFF));
    const __m256i exp = _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(d)), 23);
    const __m256i lim = _mm256_sub_epi32(_mm256_set1_epi32(151), _mm256_and_si256(_mm256_srli_epi32(x, 24), _mm256_set1_epi32(0x1F)));
    return static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(lim, exp))));
  }
  // Each slot is two 64-bit lanes, its key the even one: bit 2k of the two masks side by side.
  __attribute__((target("avx2"))) static inline uint32_t HomeHits(const GroupSlot* line, uint64_t key) {
    const __m256i k = _mm256_set1_epi64x(static_cast<long long>(key));
    const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(line));
    const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(line + 2));
    const uint32_t a = static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(lo, k))));
    const uint32_t b = static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(hi, k))));
    return (a | b << 4) & 0x55u;
  }
};
#endif

// The first step is taken whatever n (even 0: kw must then point at readable words, kNoKeys), so
// a group of up to eight entries costs no branch. It reads the 32-byte-aligned window holding
// kw[0] (kw is 16-byte aligned; blocks of more than two entries start a line), so it never
// touches a second cache line, only the words of neighbouring blocks or kArenaTail beside a
// one-entry block and the payloads after the key words of others.
template <class Lanes>
__attribute__((always_inline)) inline uint32_t MatchMask(const uint32_t* kw, uint32_t n, uint32_t pp) {
  const uint32_t skip = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(kw) & 31) / 4;  // 0 or 4 words
  uint32_t m = Lanes::Eight(kw - skip, pp) >> skip;
  for (uint32_t k = 8; k < n; k += 8) m |= Lanes::Eight(kw + k, pp) << k;
  return m & static_cast<uint32_t>((uint64_t{1} << n) - 1);
}

// The key words a group without entries points at (MatchMask reads eight, masks them all off).
alignas(32) const uint32_t kNoKeys[8] = {};

// A batch's `Lanes` (RunBatch) over an eight-word step: Match, the entries of a block covering
// pp (MatchMask); HomeHits, the step's own.
template <class Eight>
struct ByEight : Eight {
  static __attribute__((always_inline)) inline uint32_t Match(const uint32_t* kw, uint32_t n, uint32_t pp) { return MatchMask<Eight>(kw, n, pp); }
};
using PortableLanes = ByEight<PortableEight>;
#if HUBCAP_POLICY_AVX2
using Avx2Batch = ByEight<Avx2Lanes>;
#endif

#if HUBCAP_POLICY_AVX2
// The AVX-512 build's Lanes: sixteen key words a step, read with a masked load (the lanes past
// the group's entries are neither read nor matched, so no window and no stand-in keys); the
// prefix test as kKeyMask[P] looked up per lane (one two-table permute: P is the key word's bits
// 24..28, and the permute reads only the low five bits of its index, so the flags above are
// ignored) and ((kw ^ pp) & mask) == 0 as one test.
struct Avx512Lanes {
  __attribute__((target(HUBCAP_AVX512_TARGET))) static inline uint32_t Sixteen(const uint32_t* kw, uint32_t live, __m512i v) {
    const __mmask16 k = static_cast<__mmask16>(live);
    const __m512i x = _mm512_maskz_loadu_epi32(k, kw);
    const __m512i mask = _mm512_permutex2var_epi32(_mm512_loadu_si512(kKeyMask), _mm512_maskz_srli_epi32(k, x, 24), _mm512_loadu_si512(kKeyMask + 16));
    return _mm512_mask_testn_epi32_mask(k, _mm512_xor_si512(x, v), mask);
  }
  // The first step reads the cache line holding kw[0] (its lanes before kw masked off): a masked
  // load still reads every byte it spans, so one from kw itself would cross into the next line
  // (a miss more) for the blocks of one or two entries that do not start a line; the others
  // start one, and a step past sixteen entries starts the next.
  __attribute__((target(HUBCAP_AVX512_TARGET))) static inline uint32_t Match(const uint32_t* kw, uint32_t n, uint32_t pp) {
    const __m512i v = _mm512_set1_epi32(static_cast<int>(pp));
    const uint32_t live = _bzhi_u32(0xFFFFFFFFu, n);  // n <= 32
    const uint32_t skip = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(kw) & 63) / 4;  // 0 when n > 2
    uint32_t m = Sixteen(kw - skip, (live << skip) & 0xFFFF, v) >> skip;
    if (n > 16) m |= Sixteen(kw + 16, live >> 16, v) << 16;
    return m;
  }
  // Slot k's key is 64-bit lane 2k: bit 2k of one compare.
  __attribute__((target(HUBCAP_AVX512_TARGET))) static inline uint32_t HomeHits(const GroupSlot* line, uint64_t key) {
    return _mm512_mask_cmpeq_epi64_mask(0x55, _mm512_load_si512(line), _mm512_set1_epi64(static_cast<long long>(key)));
  }
};
#endif

// c ? a : b without a branch: the compiler turns a ternary on data into a branch when it
// guesses it predictable, and which entry a lookup finds is not. A cmov on x86-64 (asm, which the
// compiler cannot turn into a branch), computed with masks elsewhere.
template <class T>
inline T Pick(bool c, T a, T b) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  asm("test %[c], %[c]\n\tcmovz %[b], %[a]" : [a] "+r"(a) : [b] "r"(b), [c] "r"(c) : "cc");
  return a;
#else
  if constexpr (std::is_pointer<T>::value) {
    const uintptr_t m = uintptr_t{0} - static_cast<uintptr_t>(c);
    return reinterpret_cast<T>((reinterpret_cast<uintptr_t>(a) & m) | (reinterpret_cast<uintptr_t>(b) & ~m));
  } else {
    const T m = T{0} - static_cast<T>(c);
    return (a & m) | (b & ~m);
  }
#endif
}

// The entry of a block of class `cls` (keys == kNoKeys when it is empty) that the lowest bit of
// m names, m the entries covering a lookup: the block is sorted longest prefix first, so that is
// the LPM. Without a branch: a miss (m == 0) reads entry 0 of a "block" of no capacity that is
// kNoPayload itself (its first word, the cookie, is 0): key word 0 and kNoPayload.
__attribute__((always_inline)) inline EntryRef Lowest(const uint32_t* keys, uint32_t cls, uint32_t m) {
  const bool hit = m != 0;
  const uint32_t i = static_cast<uint32_t>(__builtin_ctzll(m | uint64_t{1} << 32)) & 31;
  const uint32_t* base = Pick(hit, keys, &kNoPayload.cookie);
  const uint32_t cap = Pick(hit, kClassCap[cls], 0u);
  return EntryRef{base[i], reinterpret_cast<const PolicyPayload*>(base + cap) + i};
}

// The LPM in a block of `n` entries of class `cls` (keys == kNoKeys when n is 0): the block is
// sorted longest prefix first, so the lowest entry covering pp is the LPM. Without a branch: a
// miss reads key 0 and points at kNoPayload.
template <class Lanes>
__attribute__((always_inline)) inline EntryRef InBlock(const uint32_t* keys, uint32_t n, uint32_t cls, uint32_t pp) {
  return Lowest(keys, cls, MatchMask<Lanes>(keys, n, pp));
}

// A slot's key (its first 8 bytes, mapDir and identity) compared as one word.
struct GroupMatch {
  uint64_t key;
  GroupMatch(uint32_t mapDir, uint32_t identity) {
    const uint32_t w[2] = {mapDir, identity};
    memcpy(&key, w, sizeof(key));
  }
  bool operator()(const GroupSlot& s) const {
    uint64_t k;
    memcpy(&k, &s, sizeof(k));
    return k == key;
  }
};

inline GroupSlot NoGroup() {
  GroupSlot g;
  memset(static_cast<void*>(&g), 0, sizeof(g));
  g.mapDir = kNone;
  return g;
}

}  // namespace

PolicySetCore::PolicySetCore()
    : dir_(&mem_), arena_(&mem_), bigs_(&mem_), freeBigs_(&mem_), maps_(&mem_), anyPeer_(&mem_), freeMaps_(&mem_) {
  for (uint32_t c = 0; c < kClasses; c++) freeHead_[c] = kNone;
}

PolicySetCore::~PolicySetCore() {
  for (uint32_t i = 0; i < bigs_.size(); i++)
    if (bigs_[i].table != nullptr) TrackedFree(bigs_[i].table, static_cast<size_t>(bigs_[i].cap) * sizeof(PolicyValue), &mem_);
}

// ---------------------------------------------------------------------------------------------
// Directory and blocks

GroupSlot* PolicySetCore::FindGroup(uint32_t mapDir, uint32_t identity) const {
  return dir_.Find(GroupHash(mapDir, identity), GroupMatch{mapDir, identity});
}

PolicyPayload* PolicySetCore::Payloads(uint32_t ref, uint32_t cls) const { return reinterpret_cast<PolicyPayload*>(Keys(ref) + kClassCap[cls]); }

void PolicySetCore::PutEntry(const GroupSlot& g, uint32_t i, const PolicyValue& v) {
  Keys(g.ref)[i] = v.kw;
  Payloads(g.ref, g.cls)[i] = v.v;
}

void PolicySetCore::SyncOverflowed(uint32_t from, uint32_t to) {
  GroupSlot* slots = dir_.slots();
  const uint8_t* counts = dir_.overflowCounts();
  const uint32_t buckets = dir_.capacity() / Directory::kPerBucket;
  for (uint32_t b = from;; b = b + 1 == buckets ? 0 : b + 1) {
    slots[static_cast<size_t>(b) * Directory::kPerBucket].overflowed = counts[b] != 0;
    if (b == to) return;
  }
}

bool PolicySetCore::InsertGroup(const GroupSlot& g) {
  // The directory kept at most half as full as BucketTable's own bound: a group then seldom
  // lies past its home line, and a batch seldom needs its chain stage (a dependent line).
  const GroupSlot* before = dir_.slots();
  if (!dir_.Reserve((groups_ + 1) * kDirectorySlack)) return false;
  const GroupSlot* at = dir_.Insert(g);
  if (at == nullptr) return false;
  const uint32_t buckets = dir_.capacity() / Directory::kPerBucket;
  if (dir_.slots() != before) {
    SyncOverflowed(0, buckets - 1);  // rehashed: every slot moved
    return true;
  }
  // The counts from the group's home to where it landed went up; the slot may have landed
  // first in its line (over the line's flag).
  SyncOverflowed(dir_.Home(GroupOps::HashOf(g)), static_cast<uint32_t>((at - dir_.slots()) / Directory::kPerBucket));
  return true;
}

void PolicySetCore::EraseGroup(GroupSlot* s) {
  const uint32_t home = dir_.Home(GroupOps::HashOf(*s));
  const uint32_t at = static_cast<uint32_t>((s - dir_.slots()) / Directory::kPerBucket);
  dir_.Erase(s);
  SyncOverflowed(home, at);
}

bool PolicySetCore::AllocBlock(uint32_t cls, uint32_t* ref) {
  if (freeHead_[cls] != kNone) {
    *ref = freeHead_[cls];
    freeHead_[cls] = Keys(*ref)[0];
    return true;
  }
  // Appended at its alignment: min(units, 4) units (a line for the blocks of whole lines). The
  // units skipped become free blocks of one or two entries. The arena keeps kArenaTail spare
  // units after its last block, which MatchMask may read.
  const uint32_t units = kClassUnits[cls];
  const uint32_t align = units < 4 ? units : 4;
  const uint32_t size = arena_.size();
  const uint32_t at = size == 0 ? 0 : size - kArenaTail;
  const uint32_t pad = (align - (at & (align - 1))) & (align - 1);
  if (!arena_.Extend(at + pad + units + kArenaTail - size)) return false;
  for (uint32_t k = 0; k < pad;) {
    const uint32_t c = ((at + k) & 1) == 0 && k + 2 <= pad ? 1 : 0;
    FreeBlock(at + k, c);
    k += kClassUnits[c];
  }
  *ref = at + pad;
  return true;
}

void PolicySetCore::FreeBlock(uint32_t ref, uint32_t cls) {
  Keys(ref)[0] = freeHead_[cls];
  freeHead_[cls] = ref;
}

void PolicySetCore::FreeGroupEntries(const GroupSlot& g) {
  if (g.cls == kBigClass) FreeBig(g.ref);
  else FreeBlock(g.ref, g.cls);
}

int PolicySetCore::IndexIn(const GroupSlot& g, uint32_t kw) const {
  const uint32_t* k = Keys(g.ref);
  for (uint32_t i = 0; i < g.count; i++)
    if ((k[i] & kKwKeyBits) == kw) return static_cast<int>(i);
  return -1;
}

bool PolicySetCore::ExactIn(const GroupSlot& g, uint32_t kw, PolicyValue* out) const {
  if (g.cls == kBigClass) {
    const PolicyValue* v = BigFind(bigs_[g.ref], kw);
    if (v != nullptr) *out = *v;
    return v != nullptr;
  }
  const int i = IndexIn(g, kw);
  if (i < 0) return false;
  *out = PolicyValue{Keys(g.ref)[i], Payloads(g.ref, g.cls)[i]};
  return true;
}

template <class Lanes>
__attribute__((always_inline)) inline EntryRef PolicySetCore::InGroup(const GroupSlot& g, uint32_t pp) const {
  if (g.cls == kBigClass) return FindInBig(bigs_[g.ref], pp >> 16, pp & 0xFFFF);
  const uint32_t* keys = g.count != 0 ? Keys(g.ref) : kNoKeys;
  return InBlock<Lanes>(keys, g.count, g.cls, pp);
}

void PolicySetCore::RefreshAny(uint32_t mapDir) {
  const GroupSlot* g = FindGroup(mapDir, 0);
  AnyPeer& a = anyPeer_[mapDir];
  a = kNoAnyPeer;
  if (g == nullptr) return;
  a.ref = g->ref;
  a.count = g->count;
  a.cls = g->cls;
  if (g->cls == kBigClass) return;
  // The block's first key word is word `skip` of its line (0 unless a block of one or two
  // entries, which never crosses a line).
  const uint32_t skip = (g->ref & 3) * 4;
  a.live = static_cast<uint32_t>(((uint64_t{1} << g->count) - 1) << skip);
  a.payAdj = static_cast<int8_t>(static_cast<int32_t>(kClassCap[g->cls]) - static_cast<int32_t>(skip));
}

void PolicySetCore::ResetAnyPeer(uint32_t map) {
  for (uint32_t dir = 0; dir < 2; dir++) anyPeer_[(map << 1) | dir] = kNoAnyPeer;
}

// The second lookup of `__policy_can_access`, in the any-peer group's block like any other
// group's (a map without the group reads kNoKeys with no entries: a miss).
template <class Lanes>
__attribute__((always_inline)) inline EntryRef PolicySetCore::AnyLookup(const AnyPeer& any, uint32_t pp) const {
  if (__builtin_expect(any.cls == kBigClass, 0)) return FindInBig(bigs_[any.ref], pp >> 16, pp & 0xFFFF);
  const uint32_t* keys = Pick<const uint32_t*>(any.count != 0, Keys(any.ref), kNoKeys);
  return Lowest(keys, any.cls, Lanes::Match(keys, any.count, pp));
}

// ---------------------------------------------------------------------------------------------
// Big groups: a private linear-probing table per group (power of two, load <= 1/2).

namespace {

inline uint32_t BigSlotOf(uint32_t kw, uint32_t cap) { return static_cast<uint32_t>(Mix64(kw)) & (cap - 1); }

}  // namespace

int64_t PolicySetCore::NewBig(uint32_t identity, uint32_t mapDir) {
  uint32_t i;
  if (freeBigs_.size() != 0) {
    i = freeBigs_.back();
    freeBigs_.pop_back();
  } else {
    BigGroup blank;
    memset(static_cast<void*>(&blank), 0, sizeof(blank));
    if (!bigs_.push_back(blank)) return -1;
    i = bigs_.size() - 1;
  }
  BigGroup& b = bigs_[i];
  memset(static_cast<void*>(&b), 0, sizeof(b));
  b.identity = identity;
  b.mapDir = mapDir;
  bigGroupsLive_++;
  return i;
}

void PolicySetCore::FreeBig(uint32_t i) {
  BigGroup& b = bigs_[i];
  if (b.table != nullptr) TrackedFree(b.table, static_cast<size_t>(b.cap) * sizeof(PolicyValue), &mem_);
  memset(static_cast<void*>(&b), 0, sizeof(b));
  b.mapDir = kNone;
  bigGroupsLive_--;
  freeBigs_.push_back(i);  // out of memory here only loses the record for reuse
}

PolicyValue* PolicySetCore::BigFind(const BigGroup& b, uint32_t kw) const {
  if (b.cap == 0) return nullptr;
  kw &= kKwKeyBits;
  for (uint32_t i = BigSlotOf(kw, b.cap);; i = (i + 1) & (b.cap - 1)) {
    PolicyValue* v = &b.table[i];
    if (v->kw == kNone) return nullptr;
    if ((v->kw & kKwKeyBits) == kw) return v;
  }
}

bool PolicySetCore::BigGrow(BigGroup* b, uint32_t cap) {
  PolicyValue* fresh = static_cast<PolicyValue*>(TrackedAlloc(static_cast<size_t>(cap) * sizeof(PolicyValue), &mem_));
  if (fresh == nullptr) return false;
  for (uint32_t i = 0; i < cap; i++) fresh[i].kw = kNone;
  for (uint32_t i = 0; i < b->cap; i++) {
    const PolicyValue& v = b->table[i];
    if (v.kw == kNone) continue;
    uint32_t k = BigSlotOf(v.kw & kKwKeyBits, cap);
    while (fresh[k].kw != kNone) k = (k + 1) & (cap - 1);
    fresh[k] = v;
  }
  if (b->table != nullptr) TrackedFree(b->table, static_cast<size_t>(b->cap) * sizeof(PolicyValue), &mem_);
  b->table = fresh;
  b->cap = cap;
  return true;
}

// Adds an entry whose key is absent.
bool PolicySetCore::BigInsert(BigGroup* b, const PolicyValue& v) {
  if ((b->count + 1) * 2 > b->cap && !BigGrow(b, b->cap < 16 ? 16 : b->cap * 2)) return false;
  uint32_t i = BigSlotOf(v.kw & kKwKeyBits, b->cap);
  while (b->table[i].kw != kNone) i = (i + 1) & (b->cap - 1);
  b->table[i] = v;
  b->count++;
  const int p = KwPrefix(v.kw);
  if (b->lenCount[p]++ == 0) b->mask |= 1u << p;
  return true;
}

// Removes an entry (linear probing's backward-shift deletion: no tombstones).
bool PolicySetCore::BigErase(BigGroup* b, uint32_t kw) {
  PolicyValue* v = BigFind(*b, kw);
  if (v == nullptr) return false;
  const int p = KwPrefix(v->kw);
  const uint32_t m = b->cap - 1;
  uint32_t i = static_cast<uint32_t>(v - b->table);
  for (uint32_t j = (i + 1) & m; b->table[j].kw != kNone; j = (j + 1) & m) {
    const uint32_t home = BigSlotOf(b->table[j].kw & kKwKeyBits, b->cap);
    // Move j back to i unless its home lies cyclically in (i, j].
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      b->table[i] = b->table[j];
      i = j;
    }
  }
  b->table[i].kw = kNone;
  b->count--;
  if (--b->lenCount[p] == 0) b->mask &= ~(1u << p);
  return true;
}

EntryRef PolicySetCore::FindInBig(const BigGroup& b, uint32_t proto, uint32_t port) const {
  uint32_t mask = b.mask;
  while (mask != 0) {
    const int p = HighestBit32(mask);
    mask &= ~(1u << p);
    const PolicyValue* v = BigFind(b, KeyWord(p, proto, port));
    if (v != nullptr) return EntryRef{v->kw, &v->v};
  }
  return NoEntry();
}

// ---------------------------------------------------------------------------------------------
// Maps

int64_t PolicySetCore::CreateMap(uint32_t capacity) {
  const MapInfo info{capacity, 0, 0, 1};
  if (freeMaps_.size() != 0) {
    const uint32_t id = freeMaps_.back();
    freeMaps_.pop_back();
    maps_[id] = info;  // its AnyPeer records were reset by ClearMap
    return id;
  }
  const uint32_t id = maps_.size();
  if (id >= kMaxMaps) return -1;
  const uint32_t need = 2 * (id + 1);
  if (anyPeer_.size() < need) {
    if (!anyPeer_.Extend(need - anyPeer_.size())) return -1;
    for (uint32_t dir = 0; dir < 2; dir++) anyPeer_[2 * id + dir] = kNoAnyPeer;
  }
  if (!maps_.push_back(info)) return -1;
  return id;
}

bool PolicySetCore::DeleteMap(uint32_t id) {
  if (!ClearMap(id)) return false;
  maps_[id].alive = 0;
  freeMaps_.push_back(id);  // out of memory here only loses the id for reuse
  return true;
}

bool PolicySetCore::ClearMap(uint32_t id) {
  if (!HasMap(id)) return false;
  MapInfo& mi = maps_[id];
  mi.overflow = 0;
  ResetAnyPeer(id);
  if (mi.size == 0) return true;
  // Erasing moves no other slot, so the directory can be swept in place.
  uint32_t erasedEntries = 0;
  GroupSlot* slots = dir_.slots();
  for (uint32_t i = 0, n = dir_.capacity(); i < n; i++) {
    GroupSlot* s = &slots[i];
    if (s->mapDir == kNone || (s->mapDir >> 1) != id) continue;
    erasedEntries += s->cls == kBigClass ? bigs_[s->ref].count : s->count;
    FreeGroupEntries(*s);
    EraseGroup(s);
    groups_--;
  }
  entries_ -= erasedEntries;
  mi.size = 0;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Updates

int PolicySetCore::Set(uint32_t map, const PolicyEntryArgs& e) {
  if (!HasMap(map)) return kSetNoMap;
  const uint32_t mapDir = (map << 1) | (e.direction & 1);
  const uint32_t kw = KeyWord(e.prefixLen, e.protocol, e.port);
  const PolicyValue value{kw | (e.deny ? kKwDeny : 0) | (e.explicitAuth ? kKwExplicitAuth : 0), {e.cookie, e.proxyPort, e.prio, e.auth}};
  GroupSlot* g = FindGroup(mapDir, e.identity);
  if (g != nullptr) {
    if (g->cls == kBigClass) {
      PolicyValue* x = BigFind(bigs_[g->ref], kw);
      if (x != nullptr) {
        *x = value;
        return kSetOk;
      }
    } else {
      const int i = IndexIn(*g, kw);
      if (i >= 0) {
        PutEntry(*g, static_cast<uint32_t>(i), value);
        return kSetOk;
      }
    }
  }
  if (maps_[map].size >= maps_[map].capacity) {
    maps_[map].overflow++;
    return kSetFull;
  }
  if (g == nullptr) {
    uint32_t ref;
    if (!AllocBlock(0, &ref)) return kSetNoMemory;
    GroupSlot fresh = NoGroup();
    fresh.mapDir = mapDir;
    fresh.identity = e.identity;
    fresh.ref = ref;
    fresh.count = 1;
    fresh.cls = 0;
    PutEntry(fresh, 0, value);
    if (!InsertGroup(fresh)) {
      FreeBlock(ref, 0);
      return kSetNoMemory;
    }
    groups_++;
  } else if (g->cls == kBigClass) {
    if (!BigInsert(&bigs_[g->ref], value)) return kSetNoMemory;
  } else if (g->count < kMaxSmallGroup) {
    const uint32_t n = g->count;
    if (n == kClassCap[g->cls]) {
      // The block is full: move to one of the next class (AllocBlock may move the arena).
      const uint32_t cls = g->cls + 1u;
      uint32_t ref;
      if (!AllocBlock(cls, &ref)) return kSetNoMemory;
      memcpy(Keys(ref), Keys(g->ref), static_cast<size_t>(n) * sizeof(uint32_t));
      memcpy(static_cast<void*>(Payloads(ref, cls)), Payloads(g->ref, g->cls), static_cast<size_t>(n) * sizeof(PolicyPayload));
      FreeBlock(g->ref, g->cls);
      g->ref = ref;
      g->cls = static_cast<uint8_t>(cls);
    }
    // Sorted longest prefix first: the new entry goes after the entries at least as long.
    uint32_t* k = Keys(g->ref);
    PolicyPayload* v = Payloads(g->ref, g->cls);
    const int p = KwPrefix(kw);
    uint32_t at = 0;
    while (at < n && KwPrefix(k[at]) >= p) at++;
    memmove(&k[at + 1], &k[at], static_cast<size_t>(n - at) * sizeof(uint32_t));
    memmove(static_cast<void*>(&v[at + 1]), &v[at], static_cast<size_t>(n - at) * sizeof(PolicyPayload));
    PutEntry(*g, at, value);
    g->count = static_cast<uint16_t>(n + 1);
  } else {
    // The group outgrows the blocks: its entries and the new one move to a private table.
    const int64_t bi = NewBig(e.identity, mapDir);
    if (bi < 0) return kSetNoMemory;
    BigGroup* b = &bigs_[static_cast<uint32_t>(bi)];
    bool ok = true;
    for (uint32_t k = 0; k < g->count && ok; k++) {
      const EntryRef x = EntryAt(*g, k);
      ok = BigInsert(b, PolicyValue{x.kw, *x.p});
    }
    if (!ok || !BigInsert(b, value)) {
      FreeBig(static_cast<uint32_t>(bi));
      return kSetNoMemory;
    }
    FreeBlock(g->ref, g->cls);
    g->ref = static_cast<uint32_t>(bi);
    g->cls = kBigClass;
    g->count = 0;
  }
  maps_[map].size++;
  entries_++;
  if (e.identity == 0) RefreshAny(mapDir);
  return kSetOk;
}

bool PolicySetCore::Delete(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen) {
  if (!HasMap(map)) return false;
  const uint32_t mapDir = (map << 1) | (direction & 1);
  const uint32_t kw = KeyWord(prefixLen, protocol, port);
  GroupSlot* g = FindGroup(mapDir, identity);
  if (g == nullptr) return false;
  bool empty;
  if (g->cls == kBigClass) {
    BigGroup& b = bigs_[g->ref];
    if (!BigErase(&b, kw)) return false;
    empty = b.count == 0;
  } else {
    const int i = IndexIn(*g, kw);
    if (i < 0) return false;
    const uint32_t at = static_cast<uint32_t>(i);
    const size_t after = static_cast<size_t>(g->count - at - 1);
    uint32_t* k = Keys(g->ref);
    PolicyPayload* v = Payloads(g->ref, g->cls);
    memmove(&k[at], &k[at + 1], after * sizeof(uint32_t));
    memmove(static_cast<void*>(&v[at]), &v[at + 1], after * sizeof(PolicyPayload));
    g->count--;
    empty = g->count == 0;
  }
  if (empty) {
    FreeGroupEntries(*g);
    EraseGroup(g);
    groups_--;
  }
  maps_[map].size--;
  entries_--;
  if (identity == 0) RefreshAny(mapDir);
  return true;
}

bool PolicySetCore::Get(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen,
                        PolicyValue* out) const {
  if (!HasMap(map)) return false;
  const GroupSlot* g = FindGroup((map << 1) | (direction & 1), identity);
  return g != nullptr && ExactIn(*g, KeyWord(prefixLen, protocol, port), out);
}

bool PolicySetCore::DumpMap(uint32_t map, uint32_t* out) const {
  if (!HasMap(map)) return false;
  const uint32_t limit = maps_[map].size;
  uint32_t row = 0;
  auto put = [&](uint32_t identity, uint32_t mapDir, const PolicyValue& v) {
    if (row >= limit) return;
    uint32_t* r = out + kDumpWords * row++;
    r[0] = identity;
    r[1] = ((mapDir & 1) << 31) | v.kw;
    r[2] = v.v.cookie;
    r[3] = static_cast<uint32_t>(v.v.proxyPort) | (static_cast<uint32_t>(v.v.prio) << 16) | (static_cast<uint32_t>(v.v.auth) << 24);
  };
  dir_.ForEach([&](const GroupSlot& s) {
    if ((s.mapDir >> 1) != map) return;
    if (s.cls != kBigClass) {
      for (uint32_t k = 0; k < s.count; k++) {
        const EntryRef x = EntryAt(s, k);
        put(s.identity, s.mapDir, PolicyValue{x.kw, *x.p});
      }
      return;
    }
    const BigGroup& big = bigs_[s.ref];
    for (uint32_t i = 0; i < big.cap; i++)
      if (big.table[i].kw != kNone) put(s.identity, s.mapDir, big.table[i]);
  });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Lookups

bool PolicySetCore::LookupSlot(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port,
                               PolicyValue* out) const {
  if (!HasMap(map)) return false;
  const GroupSlot* g = FindGroup((map << 1) | (direction & 1), identity);
  if (g == nullptr) return false;
  const EntryRef x = InGroup<PortableLanes>(*g, ((protocol & 0xFF) << 16) | (port & 0xFFFF));
  if (x.hit()) *out = PolicyValue{x.kw, *x.p};
  return x.hit();
}

namespace {

// `__policy_check(policy, policy2)`: the chosen entry's verdict; the auth type comes from the
// chosen entry, or from the other (less specific) one when that one's is greater and the chosen
// entry has no explicit auth type.
inline int32_t Check(EntryRef s, EntryRef other, PolicyResult* out) {
  out->hit = true;
  out->prefixLen = static_cast<uint8_t>(KwPrefix(s.kw));
  out->cookie = s.p->cookie;
  if ((s.kw & kKwDeny) != 0) return out->verdict = kDropPolicyDeny;
  out->proxyPort = s.p->proxyPort;
  uint8_t auth = s.p->auth;
  if (other.hit() && other.p->auth > auth && (s.kw & kKwExplicitAuth) == 0) auth = other.p->auth;
  if (auth != 0) {
    out->authType = auth;
    return out->verdict = kDropPolicyAuthRequired;
  }
  return out->verdict = s.p->proxyPort > 0 ? static_cast<int32_t>(s.p->proxyPort) : kCtxActOk;
}

inline int32_t CheckL3(EntryRef s, EntryRef other, uint32_t remote, PolicyResult* out) {
  const int p = KwPrefix(s.kw);
  out->matchType = p > kLpmProtoPrefixBits ? kMatchL3L4 : p > 0 ? kMatchL3Proto : kMatchL3Only;
  out->matchedIdentity = remote;
  return Check(s, other, out);
}

inline int32_t CheckL4(EntryRef s, EntryRef other, PolicyResult* out) {
  const int p = KwPrefix(s.kw);
  out->matchType = p == 0 ? kMatchAll : p <= kLpmProtoPrefixBits ? kMatchProtoOnly : kMatchL4Only;
  out->matchedIdentity = 0;
  return Check(s, other, out);
}

inline void Reset(PolicyResult* out) {
  out->verdict = 0;
  out->cookie = 0;
  out->matchType = kMatchNone;
  out->prefixLen = 0;
  out->authType = 0;
  out->proxyPort = 0;
  out->matchedIdentity = 0;
  out->hit = false;
}

// Precedence 2 and 3 (Decide): the L4-only entry over the L3 one.
inline bool L4Wins(EntryRef l3, EntryRef l4) {
  return l4.p->prio > l3.p->prio || (l4.p->prio == l3.p->prio && KwPrefix(l4.kw) > KwPrefix(l3.kw));
}

}  // namespace

// Precedence when both lookups hit (numbered as in policy.h and src/maps/policy-map.ts):
//  1. A deny is chosen: the L3 (peer) entry's deny wins at once, before the second lookup;
//     then the L4-only (identity 0) entry's deny.
//  2. The entry with the higher proxy port priority.
//  3. On equal priority, the L4-only entry only with a strictly longer proto/port prefix.
//  4. Otherwise the L3 entry.
// Nothing matched: DROP_FRAG_NOSUPPORT for an untracked fragment, else DROP_POLICY.
int32_t PolicySetCore::Decide(EntryRef l3, EntryRef l4, uint32_t remote, bool untrackedFragment, PolicyResult* out) const {
  Reset(out);
  // 1. An L3 deny is chosen without the second lookup (l4 is ignored).
  if (l3.hit() && (l3.kw & kKwDeny) != 0) return CheckL3(l3, NoEntry(), remote, out);
  if (l4.hit()) {
    if (!l3.hit() || (l4.kw & kKwDeny) != 0) return CheckL4(l4, l3, out);
    // 2. Higher proxy port priority; 3. equal priority and strictly longer prefix.
    if (L4Wins(l3, l4)) return CheckL4(l4, l3, out);
  }
  // 4. The L3 entry.
  if (l3.hit()) return CheckL3(l3, l4, remote, out);
  return out->verdict = untrackedFragment ? kDropFragNoSupport : kDropPolicy;
}

int32_t PolicySetCore::Lookup(uint32_t map, uint32_t remote, uint32_t direction, uint32_t protocol, uint32_t dport,
                              bool untrackedFragment, PolicyResult* out) const {
  const EntryRef none = NoEntry();
  if (!HasMap(map)) return Decide(none, none, remote, untrackedFragment, out);
  const uint32_t mapDir = (map << 1) | (direction & 1);
  const uint32_t pp = ((protocol & 0xFF) << 16) | (dport & 0xFFFF);
  const GroupSlot* g = FindGroup(mapDir, remote);
  const EntryRef l3 = g != nullptr ? InGroup<PortableLanes>(*g, pp) : none;
  const EntryRef l4 = !l3.hit() || (l3.kw & kKwDeny) == 0 ? AnyLookup<PortableLanes>(anyPeer_[mapDir], pp) : none;
  return Decide(l3, l4, remote, untrackedFragment, out);
}

// ---------------------------------------------------------------------------------------------
// Batches

namespace {

// The batch's answer of one lookup: Decide and PackInfo in one pass, inlined, without the
// fields a batch does not return (the same precedence, numbered as in Decide).
// Match types by (chosen from the peer lookup, prefix length 0 | 8 | longer).
constexpr uint8_t kMatchOf[2][3] = {{kMatchAll, kMatchProtoOnly, kMatchL4Only}, {kMatchL3Only, kMatchL3Proto, kMatchL3L4}};
// The same by (chosen from the peer lookup, prefix length 0..31): one load in the batch's answer.
struct MatchByPrefix {
  uint8_t of[2][32];
  constexpr MatchByPrefix() : of() {
    for (uint32_t peer = 0; peer < 2; peer++)
      for (uint32_t p = 0; p < 32; p++) of[peer][p] = kMatchOf[peer][(p > 0) + (p > kLpmProtoPrefixBits)];
  }
};
constexpr MatchByPrefix kMatchByPrefix;

struct BatchAnswer {
  int32_t verdict;
  uint32_t cookie;
  uint32_t info;  // PackInfo
  uint8_t matchType;
};

// Which entry is chosen branches (a deny or an any-peer entry winning is the rare case); whether
// anything matched (a quarter of lookups miss, unpredictably) and the fields of the answer are
// selects: with nothing matched, s is the L3 miss (key word 0, kNoPayload) and its answer is
// replaced at the end.
__attribute__((always_inline)) inline void Answer(EntryRef l3, EntryRef l4, bool untrackedFragment, BatchAnswer* a) {
  EntryRef s = l3;
  EntryRef other = l4;
  bool peer = true;
  if ((l3.kw & kKwDeny) != 0) {
    other = NoEntry();  // 1. the L3 deny (kw is 0 on a miss)
  } else if (l4.hit() && (!l3.hit() || (l4.kw & kKwDeny) != 0 || L4Wins(l3, l4))) {
    s = l4;  // 1. the L4 deny; 2. higher priority; 3. strictly longer prefix
    other = l3;
    peer = false;
  }  // else 4. the L3 entry, or nothing matched
  const uint32_t p = static_cast<uint32_t>(KwPrefix(s.kw));
  const uint32_t match = kMatchByPrefix.of[peer][p];
  const bool deny = (s.kw & kKwDeny) != 0;
  const uint32_t own = s.p->auth, lesser = other.p->auth;  // kNoPayload's is 0
  const uint32_t auth = (lesser > own) & ((s.kw & kKwExplicitAuth) == 0) ? lesser : own;
  const uint32_t proxy = s.p->proxyPort;
  const int32_t allowed = auth != 0 ? kDropPolicyAuthRequired : static_cast<int32_t>(proxy);
  const int32_t verdict = deny ? kDropPolicyDeny : allowed;
  const uint32_t info = match | (p << 4) | (deny ? 0u : (auth << 9) | (proxy << 16));
  const bool matched = s.hit();
  const int32_t dropped = untrackedFragment ? kDropFragNoSupport : kDropPolicy;
  a->verdict = matched ? verdict : dropped;
  a->cookie = s.p->cookie;  // 0 when nothing matched
  a->info = matched ? info : 0u;
  a->matchType = static_cast<uint8_t>(matched ? match : static_cast<uint32_t>(kMatchNone));
}

struct PackedIn {
  const uint32_t* p;
  inline uint32_t Map(uint32_t i) const { return p[kPackedInWords * i]; }
  inline uint32_t Remote(uint32_t i) const { return p[kPackedInWords * i + 1]; }
  inline uint32_t Bits(uint32_t i) const { return p[kPackedInWords * i + 2]; }
};

struct PackedOut {
  int32_t* p;
  inline void Put(uint32_t i, const BatchAnswer& a) {
    int32_t* o = p + kPackedOutWords * i;
    o[0] = a.verdict;
    o[1] = static_cast<int32_t>(a.cookie);
    o[2] = static_cast<int32_t>(a.info);
  }
};

struct SoaIn {
  const uint32_t* mapIds;
  uint32_t map;
  const uint32_t* remotes;
  const uint8_t* dirs;
  const uint8_t* protos;
  const uint16_t* dports;
  inline uint32_t Map(uint32_t i) const { return mapIds != nullptr ? mapIds[i] : map; }
  inline uint32_t Remote(uint32_t i) const { return remotes[i]; }
  inline uint32_t Bits(uint32_t i) const {
    return static_cast<uint32_t>(dports[i]) | (static_cast<uint32_t>(protos[i]) << 16) | (static_cast<uint32_t>(dirs[i] & 1) << 24);
  }
};

struct SoaOut {
  int32_t* verdict;
  uint8_t* match;
  uint32_t* cookie;
  inline void Put(uint32_t i, const BatchAnswer& a) {
    verdict[i] = a.verdict;
    if (match != nullptr) match[i] = a.matchType;
    if (cookie != nullptr) cookie[i] = a.cookie;
  }
};

// One lookup in flight: 64 bytes.
struct Flight {
  const uint32_t* keys;   // the peer group's key words (stage 2)
  const void* any;        // the map's AnyPeer record for the direction (stage 1)
  const PolicyPayload* p3;  // the two lookups' entries (stage 3): payload and key word
  const PolicyPayload* p4;
  uint32_t mapDir;  // kVoidMapDir: an unknown map
  uint32_t remote;
  uint32_t bits;  // the input's third word
  uint32_t kw3, kw4;
  uint32_t home;   // the peer group's home directory line (stage 1)
  uint16_t count;  // entries of the peer group's block (0: no group, or a big one)
  uint8_t cls;     // its size class, kBigClass for a big group (then keys is its BigGroup)
};
static_assert(sizeof(Flight) <= 64, "a lookup in flight fills one line");

// The mapDir of a lookup naming an unknown map: no map's (ids stay below kMaxMaps) and not an
// empty slot's kNone, so its group is never found and it reads no map's records.
constexpr uint32_t kVoidMapDir = 0xFFFFFFFEu;
static_assert(((PolicySetCore::kMaxMaps - 1) << 1 | 1) < kVoidMapDir, "no map's mapDir is the void one");
// The slot a lookup whose peer has no group reads: no entries.
const GroupSlot kNoGroupSlot = {kNone, 0, 0, 0, 0, 0};

// The stages of a batch are each called from a few places in the pipeline's loops; inlined, the
// steady-state loop has no calls.
#define HUBCAP_INLINE __attribute__((always_inline))

// RunPipeline (common.h) with the steady state free of bounds checks: stage k of 3 runs
// (4 - k)·D items ahead of `finish`.
template <uint32_t O1, uint32_t O2, uint32_t O3, class S1, class S2, class S3, class Finish>
inline void RunPipeline4(uint32_t n, S1 s1, S2 s2, S3 s3, Finish finish) {
  static_assert(O1 > O2 && O2 > O3 && O3 > 0, "each stage runs behind the one before");
  for (uint32_t j = 0; j < O1 && j < n; j++) s1(j);
  for (uint32_t j = 0; j < O2 && j < n; j++) s2(j);
  for (uint32_t j = 0; j < O3 && j < n; j++) s3(j);
  uint32_t i = 0;
  for (; i + O1 < n; i++) {
    s1(i + O1);
    s2(i + O2);
    s3(i + O3);
    finish(i);
  }
  for (; i < n; i++) {
    if (i + O2 < n) s2(i + O2);
    if (i + O3 < n) s3(i + O3);
    finish(i);
  }
}

}  // namespace

template <class Lanes, class In, class Out>
__attribute__((always_inline)) inline uint32_t PolicySetCore::RunBatch(const In& in, Out& out, uint32_t n) const {
  // Four stages D = kPrefetchDistance lookups apart: (1) hash the peer group of lookup i + 3D
  // and prefetch its directory line and the map's AnyPeer record;
  // (2) find the group of lookup i + 2D in its home line (HomeHits) and prefetch the lines of its
  // block's key words and of the any-peer group's; a group past its home line (the line's keys
  // overflowed: rare at the directory's load) is looked for at once; (3) both lookups of i + D
  // from their cached key words, whose entries' payload lines are prefetched; (4) the answer of
  // lookup i. No step waits for a line fetched in the same step, and whether a group exists or
  // anything matched is a select. Batch calls this only with a directory (so with an arena:
  // Keys(0) is readable).
  constexpr uint32_t O1 = 3 * kPrefetchDistance, O2 = 2 * kPrefetchDistance, O3 = kPrefetchDistance;
  constexpr uint32_t R = 4 * kPrefetchDistance;  // ring: stage 1 runs O1 ahead (a power of two)
  static_assert(R > O1, "the ring holds every lookup in flight");
  Flight ring[R];
  uint32_t unknown = 0;
  const uint32_t mapCount = maps_.size();
  const MapInfo* maps = maps_.data();
  const AnyPeer* anyPeer = anyPeer_.data();
  const GroupSlot* slots = dir_.slots();
  auto stage1 = [&](uint32_t j) HUBCAP_INLINE {
    Flight& q = ring[j & (R - 1)];
    const uint32_t map = in.Map(j);
    q.remote = in.Remote(j);
    q.bits = in.Bits(j);
    const bool known = map < mapCount && maps[map].alive != 0;
    unknown += !known;
    const uint32_t mapDir = (map << 1) | ((q.bits >> 24) & 1);
    q.mapDir = known ? mapDir : kVoidMapDir;
    q.home = dir_.Home(GroupHash(q.mapDir, q.remote));
    HUBCAP_PREFETCH(slots + static_cast<size_t>(q.home) * Directory::kPerBucket);
    const AnyPeer* any = Pick(known, anyPeer + (known ? mapDir : 0), &kNoAnyPeer);
    HUBCAP_PREFETCH(any);
    q.any = any;
  };
  auto stage2 = [&](uint32_t j) HUBCAP_INLINE {
    Flight& q = ring[j & (R - 1)];
    // The any-peer group's key words (the record is cached now; a big group's table is not
    // prefetched).
    const AnyPeer& any = *static_cast<const AnyPeer*>(q.any);
    HUBCAP_PREFETCH(Keys(any.ref));
    HUBCAP_PREFETCH(Keys(any.ref) + any.count - (any.count != 0));
    static_assert(Directory::kPerBucket == 4, "HomeHits reads four slots");
    const GroupSlot* line = slots + static_cast<size_t>(q.home) * Directory::kPerBucket;
    const uint32_t hits = Lanes::HomeHits(line, GroupMatch(q.mapDir, q.remote).key);
    const GroupSlot* g = Pick(hits != 0, &line[__builtin_ctz(hits | 0x100) / 2 & 3], &kNoGroupSlot);
    if (__builtin_expect((hits == 0) & (line[0].overflowed != 0), 0)) {
      const GroupSlot* f = dir_.Find(GroupHash(q.mapDir, q.remote), GroupMatch(q.mapDir, q.remote));
      if (f != nullptr) g = f;
    }
    q.cls = g->cls;
    q.count = g->count;  // 0 for a big group
    if (__builtin_expect(g->cls == kBigClass, 0)) {
      q.keys = reinterpret_cast<const uint32_t*>(&bigs_[g->ref]);
      return;
    }
    q.keys = Keys(g->ref);  // no group: unit 0 (count 0: none of its words match)
    HUBCAP_PREFETCH(q.keys);
    // Key words of more than 16 entries span two lines (no group: keys is unit 0, not before it).
    HUBCAP_PREFETCH(q.keys + q.count - (q.count != 0));
  };
  auto stage3 = [&](uint32_t j) HUBCAP_INLINE {
    Flight& q = ring[j & (R - 1)];
    const uint32_t pp = q.bits & 0x00FFFFFF;
    EntryRef l3;
    if (__builtin_expect(q.cls == kBigClass, 0)) l3 = FindInBig(*reinterpret_cast<const BigGroup*>(q.keys), pp >> 16, pp & 0xFFFF);
    else l3 = Lowest(q.keys, q.cls, Lanes::Match(q.keys, q.count, pp));
    HUBCAP_PREFETCH(l3.p);
    // The any-peer lookup is made even when an L3 deny will ignore it: one branch fewer.
    const EntryRef l4 = AnyLookup<Lanes>(*static_cast<const AnyPeer*>(q.any), pp);
    HUBCAP_PREFETCH(l4.p);
    q.kw3 = l3.kw;
    q.p3 = l3.p;
    q.kw4 = l4.kw;
    q.p4 = l4.p;
  };
  BatchAnswer r;
  RunPipeline4<O1, O2, O3>(n, stage1, stage2, stage3, [&](uint32_t i) HUBCAP_INLINE {
    const Flight& q = ring[i & (R - 1)];
    Answer(EntryRef{q.kw3, q.p3}, EntryRef{q.kw4, q.p4}, ((q.bits >> 25) & 1) != 0, &r);
    out.Put(i, r);
  });
  return unknown;
}

#if HUBCAP_POLICY_AVX2
// ---------------------------------------------------------------------------------------------
// The AVX-512 batch: RunBatch's four stages over chunks of sixteen lookups. Of RunBatch's
// time, the instructions were most: over 10^3 entries, every line cached, a batch took ~85% of
// its time over 10^6. So the stages that do not follow pointers are vector code across a chunk,
// one 32-bit lane a lookup: the first (reading the inputs, checking the maps, the hash and the
// home line) and the last (Answer's precedence as masks and blends, the payloads gathered). The
// two that follow pointers (the group in its directory line; the scans of the two groups) stay
// one lookup at a time, interleaved lookup by lookup with the prefetches of the home lines so that
// the misses are spread over a round as in RunBatch (issued sixteen at once, they queued and the
// loop was slower than RunBatch at 10^6). Chunk c + 3 is hashed while chunk c is answered: 48
// lookups in flight, as in RunBatch.

// GCC 12 reports the pass-through operand the AVX-512 shift and gather intrinsics leave
// undefined (_mm512_undefined_epi32) as maybe used uninitialized once they are inlined: a false
// positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define HUBCAP_WIDE __attribute__((target(HUBCAP_AVX512_TARGET), always_inline)) inline
#define HUBCAP_WIDE_LAMBDA __attribute__((target(HUBCAP_AVX512_TARGET), always_inline))

namespace {

constexpr uint32_t kWide = 16;

// Permutation indexes between the packed layout (3 words a lookup, 48 words a chunk in three
// vectors) and one vector per field: `in1`/`in2` pick word 3k + f into lane k of field f (the
// first from the first two vectors, the second fills the lanes from the third); `out1`/`out2`
// the other way, verdict and cookie first, then the info word.
struct WideIndexes {
  uint32_t in1[3][16], in2[3][16], out1[3][16], out2[3][16];
  constexpr WideIndexes() : in1(), in2(), out1(), out2() {
    for (uint32_t f = 0; f < 3; f++)
      for (uint32_t k = 0; k < 16; k++) {
        const uint32_t w = 3 * k + f;
        in1[f][k] = w < 32 ? w : 0;
        in2[f][k] = w < 32 ? k : 16 + (w - 32);
      }
    for (uint32_t r = 0; r < 3; r++)
      for (uint32_t m = 0; m < 16; m++) {
        const uint32_t w = 16 * r + m, field = w % 3, lane = w / 3;
        out1[r][m] = field == 0 ? lane : field == 1 ? 16 + lane : 0;
        out2[r][m] = field == 2 ? 16 + lane : m;
      }
  }
};
alignas(64) constexpr WideIndexes kWideIndexes;

HUBCAP_WIDE __m512i Index16(const uint32_t* row) { return _mm512_loadu_si512(row); }

// The lanes of the first `cnt` lookups of a chunk.
HUBCAP_WIDE __mmask16 LiveLanes(uint32_t cnt) { return static_cast<__mmask16>(_bzhi_u32(0xFFFFu, cnt)); }

HUBCAP_WIDE void Load16(const PackedIn& in, uint32_t at, uint32_t cnt, __m512i* map, __m512i* remote, __m512i* bits) {
  const uint32_t* p = in.p + static_cast<size_t>(kPackedInWords) * at;
  const uint64_t words = (uint64_t{1} << (kPackedInWords * cnt)) - 1;  // masked-off words are not read
  const __m512i a = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(words), p);
  const __m512i b = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(words >> 16), p + 16);
  const __m512i c = _mm512_maskz_loadu_epi32(static_cast<__mmask16>(words >> 32), p + 32);
  __m512i* field[3] = {map, remote, bits};
  for (uint32_t f = 0; f < 3; f++)
    *field[f] = _mm512_permutex2var_epi32(_mm512_permutex2var_epi32(a, Index16(kWideIndexes.in1[f]), b), Index16(kWideIndexes.in2[f]), c);
}

HUBCAP_WIDE void Load16(const SoaIn& in, uint32_t at, uint32_t cnt, __m512i* map, __m512i* remote, __m512i* bits) {
  alignas(64) uint32_t m[kWide] = {}, r[kWide] = {}, b[kWide] = {};
  for (uint32_t k = 0; k < cnt; k++) {
    m[k] = in.Map(at + k);
    r[k] = in.Remote(at + k);
    b[k] = in.Bits(at + k);
  }
  *map = _mm512_load_si512(m);
  *remote = _mm512_load_si512(r);
  *bits = _mm512_load_si512(b);
}

HUBCAP_WIDE void Store16(PackedOut& out, uint32_t at, uint32_t cnt, __m512i verdict, __m512i cookie, __m512i info, __m512i) {
  int32_t* p = out.p + static_cast<size_t>(kPackedOutWords) * at;
  const uint64_t words = (uint64_t{1} << (kPackedOutWords * cnt)) - 1;
  for (uint32_t r = 0; r < 3; r++) {
    const __m512i vc = _mm512_permutex2var_epi32(verdict, Index16(kWideIndexes.out1[r]), cookie);
    _mm512_mask_storeu_epi32(p + 16 * r, static_cast<__mmask16>(words >> (16 * r)),
                             _mm512_permutex2var_epi32(vc, Index16(kWideIndexes.out2[r]), info));
  }
}

HUBCAP_WIDE void Store16(SoaOut& out, uint32_t at, uint32_t cnt, __m512i verdict, __m512i cookie, __m512i, __m512i match) {
  const __mmask16 live = LiveLanes(cnt);
  _mm512_mask_storeu_epi32(out.verdict + at, live, verdict);
  if (out.match != nullptr) _mm512_mask_cvtepi32_storeu_epi8(out.match + at, live, match);
  if (out.cookie != nullptr) _mm512_mask_storeu_epi32(out.cookie + at, live, cookie);
}

// GroupHash32 of sixteen lookups.
HUBCAP_WIDE __m512i HashSixteen(__m512i mapDir, __m512i identity) {
  __m512i x = _mm512_xor_si512(_mm512_mullo_epi32(identity, _mm512_set1_epi32(static_cast<int>(kGroupHashId))),
                               _mm512_mullo_epi32(mapDir, _mm512_set1_epi32(static_cast<int>(kGroupHashMap))));
  x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
  return _mm512_mullo_epi32(x, _mm512_set1_epi32(static_cast<int>(kGroupHashMix)));
}

// BucketTable::Home of sixteen 32-bit hashes: the high half of h * buckets.
HUBCAP_WIDE __m512i HomeSixteen(__m512i h, uint32_t buckets) {
  const __m512i nb = _mm512_set1_epi32(static_cast<int>(buckets));
  const __m512i even = _mm512_srli_epi64(_mm512_mul_epu32(h, nb), 32);
  const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(h, 32), nb);
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

// Word `word` (0: cookie; 1: proxy port, priority, auth type) of the payloads of sixteen
// entries (the lanes of `live`).
HUBCAP_WIDE __m512i GatherPayload(const PolicyPayload* const* p, __mmask16 live, uint32_t word) {
  const __m512i off = _mm512_set1_epi64(static_cast<long long>(4 * word));
  const __m512i lo = _mm512_add_epi64(_mm512_loadu_si512(p), off);
  const __m512i hi = _mm512_add_epi64(_mm512_loadu_si512(p + 8), off);
  const __m256i a = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), static_cast<__mmask8>(live), lo, nullptr, 1);
  const __m256i b = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), static_cast<__mmask8>(live >> 8), hi, nullptr, 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

// The entries covering a lookup (v: pp in every lane) among the key words of a block, `live`
// its lanes counted from the start of the cache line holding its first key word: bit k for
// word k of that line. The masked load reads that line (a second one past sixteen lanes only).
HUBCAP_WIDE uint32_t WideScan(const uint32_t* line, uint32_t live, __m512i v) {
  uint32_t m = Avx512Lanes::Sixteen(line, live & 0xFFFF, v);
  if (live > 0xFFFF) m |= Avx512Lanes::Sixteen(line + 16, live >> 16, v) << 16;
  return m;
}

// Answer (the same precedence, numbered as in Decide) for sixteen lookups, as masks and blends.
// hit3/hit4: the lookups whose peer / any-peer lookup matched; kw3/kw4 their key words (0 on a
// miss); the payload words from GatherPayload (all zero, as kNoPayload's, on a miss).
HUBCAP_WIDE void AnswerSixteen(__mmask16 hit3, __mmask16 hit4, __m512i kw3, __m512i kw4, __m512i c3, __m512i c4, __m512i w3, __m512i w4, __m512i bits,
                               __m512i* verdict, __m512i* cookie, __m512i* info, __m512i* match) {
  const __m512i denyBit = _mm512_set1_epi32(static_cast<int>(kKwDeny));
  const __m512i ff = _mm512_set1_epi32(0xFF);
  const __m512i x1f = _mm512_set1_epi32(0x1F);
  const __mmask16 deny3 = _mm512_test_epi32_mask(kw3, denyBit), deny4 = _mm512_test_epi32_mask(kw4, denyBit);
  const __m512i prio3 = _mm512_and_si512(_mm512_srli_epi32(w3, 16), ff), prio4 = _mm512_and_si512(_mm512_srli_epi32(w4, 16), ff);
  const __m512i len3 = _mm512_and_si512(_mm512_srli_epi32(kw3, 24), x1f), len4 = _mm512_and_si512(_mm512_srli_epi32(kw4, 24), x1f);
  // 2. and 3.: L4Wins.
  const __mmask16 l4wins = _mm512_cmpgt_epu32_mask(prio4, prio3) | (_mm512_cmpeq_epi32_mask(prio4, prio3) & _mm512_cmpgt_epu32_mask(len4, len3));
  // 1. an L3 deny is chosen; else the L4 entry when the L3 one missed, or on its deny, 2. or 3.
  const __mmask16 choose4 = static_cast<__mmask16>(~deny3 & hit4 & (~hit3 | deny4 | l4wins));
  const __m512i s = _mm512_mask_blend_epi32(choose4, kw3, kw4);
  const __m512i sw = _mm512_mask_blend_epi32(choose4, w3, w4);
  // The other entry's payload word: the L3 entry's when the L4 one is chosen, none after an L3
  // deny, else the L4 entry's.
  const __m512i ow = _mm512_mask_blend_epi32(choose4, _mm512_maskz_mov_epi32(static_cast<__mmask16>(~deny3), w4), w3);
  const __m512i len = _mm512_and_si512(_mm512_srli_epi32(s, 24), x1f);
  // Match types: kMatchOf[peer][(len > 0) + (len > 8)], peer = !choose4.
  const __m512i table = _mm512_setr_epi32(kMatchAll, kMatchProtoOnly, kMatchL4Only, kMatchL3Only, kMatchL3Proto, kMatchL3L4, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0);
  const __m512i one = _mm512_set1_epi32(1);
  __m512i idx = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~choose4), _mm512_set1_epi32(3));
  idx = _mm512_mask_add_epi32(idx, _mm512_cmpgt_epu32_mask(len, _mm512_setzero_si512()), idx, one);
  idx = _mm512_mask_add_epi32(idx, _mm512_cmpgt_epu32_mask(len, _mm512_set1_epi32(kLpmProtoPrefixBits)), idx, one);
  const __m512i m = _mm512_permutexvar_epi32(idx, table);
  const __mmask16 deny = _mm512_test_epi32_mask(s, denyBit);
  const __m512i own = _mm512_srli_epi32(sw, 24), lesser = _mm512_srli_epi32(ow, 24);
  const __mmask16 takeLesser =
      _mm512_cmpgt_epu32_mask(lesser, own) & static_cast<__mmask16>(~_mm512_test_epi32_mask(s, _mm512_set1_epi32(static_cast<int>(kKwExplicitAuth))));
  const __m512i auth = _mm512_mask_blend_epi32(takeLesser, own, lesser);
  const __m512i proxy = _mm512_and_si512(sw, _mm512_set1_epi32(0xFFFF));
  const __mmask16 authed = _mm512_test_epi32_mask(auth, auth);
  const __m512i allowed = _mm512_mask_blend_epi32(authed, proxy, _mm512_set1_epi32(kDropPolicyAuthRequired));
  const __m512i v = _mm512_mask_blend_epi32(deny, allowed, _mm512_set1_epi32(kDropPolicyDeny));
  const __m512i readAll = _mm512_or_si512(_mm512_slli_epi32(auth, 9), _mm512_slli_epi32(proxy, 16));
  const __m512i in = _mm512_or_si512(_mm512_or_si512(m, _mm512_slli_epi32(len, 4)), _mm512_maskz_mov_epi32(static_cast<__mmask16>(~deny), readAll));
  const __mmask16 matched = static_cast<__mmask16>(choose4 | hit3);  // choose4 only with hit4
  const __mmask16 frag = _mm512_test_epi32_mask(bits, _mm512_set1_epi32(1 << 25));
  const __m512i dropped = _mm512_mask_blend_epi32(frag, _mm512_set1_epi32(kDropPolicy), _mm512_set1_epi32(kDropFragNoSupport));
  *verdict = _mm512_mask_blend_epi32(matched, dropped, v);
  *cookie = _mm512_mask_blend_epi32(choose4, c3, c4);  // 0 when nothing matched (kNoPayload's)
  *info = _mm512_maskz_mov_epi32(matched, in);
  *match = _mm512_maskz_mov_epi32(matched, m);
}

}  // namespace

template <class In, class Out>
__attribute__((target(HUBCAP_AVX512_TARGET), flatten)) uint32_t PolicySetCore::RunBatchWide(const In& in, Out& out, uint32_t n) const {
  constexpr uint32_t R = 4 * kWide;  // the ring: chunk c + 3 is hashed while chunk c is answered
  struct alignas(64) Ring {
    uint32_t bits[R], kw3[R], kw4[R], m3[R], m4[R];
    uint64_t key[R], info[R];
    const GroupSlot* line[R];
    const AnyPeer* any[R];
    const PolicyPayload* p3[R];
    const PolicyPayload* p4[R];
  } ring;
  uint32_t unknown = 0;
  const uint32_t mapCount = maps_.size();
  const MapInfo* maps = maps_.data();
  const AnyPeer* anyPeer = anyPeer_.data();
  const GroupSlot* slots = dir_.slots();
  const uint32_t buckets = dir_.capacity() / Directory::kPerBucket;
  const int32_t chunks = static_cast<int32_t>((n + kWide - 1) / kWide);
  // Stage 1, vector: inputs, known maps (MapInfo.alive, word 3 of a record, gathered), mapDir,
  // hash and home line (prefetched in `prefetch`, one lookup at a time).
  auto stage1 = [&](uint32_t c) HUBCAP_WIDE_LAMBDA {
    const uint32_t at = c * kWide, cnt = std::min(kWide, n - at), o = (c % 4) * kWide;
    const __mmask16 live = LiveLanes(cnt);
    __m512i map, remote, bits;
    Load16(in, at, cnt, &map, &remote, &bits);
    const __mmask16 inRange = _mm512_mask_cmplt_epu32_mask(live, map, _mm512_set1_epi32(static_cast<int>(mapCount)));
    const __m512i alive = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), inRange, _mm512_add_epi32(_mm512_slli_epi32(map, 2), _mm512_set1_epi32(3)),
                                                      maps, 4);
    const __mmask16 known = _mm512_mask_test_epi32_mask(inRange, alive, alive);
    unknown += static_cast<uint32_t>(__builtin_popcount(live & ~known & 0xFFFFu));
    const __m512i own = _mm512_or_si512(_mm512_slli_epi32(map, 1), _mm512_and_si512(_mm512_srli_epi32(bits, 24), _mm512_set1_epi32(1)));
    const __m512i mapDir = _mm512_mask_blend_epi32(known, _mm512_set1_epi32(static_cast<int>(kVoidMapDir)), own);
    _mm512_store_si512(ring.bits + o, bits);
    // Per lookup as 64-bit lanes, eight a vector: the slot key (mapDir, identity) HomeHits
    // compares, the home line's address and the AnyPeer record's (kNoAnyPeer for an unknown map).
    const __m512i slots64 = _mm512_set1_epi64(static_cast<long long>(reinterpret_cast<uintptr_t>(slots)));
    const __m512i any64 = _mm512_set1_epi64(static_cast<long long>(reinterpret_cast<uintptr_t>(anyPeer)));
    const __m512i none64 = _mm512_set1_epi64(static_cast<long long>(reinterpret_cast<uintptr_t>(&kNoAnyPeer)));
    const __m512i home = HomeSixteen(HashSixteen(mapDir, remote), buckets);
    auto half = [&](uint32_t h, __m256i md, __m256i id, __m256i hm) HUBCAP_WIDE_LAMBDA {
      const __m512i key = _mm512_or_si512(_mm512_cvtepu32_epi64(md), _mm512_slli_epi64(_mm512_cvtepu32_epi64(id), 32));
      _mm512_store_si512(ring.key + o + 8 * h, key);
      _mm512_store_si512(ring.line + o + 8 * h, _mm512_add_epi64(slots64, _mm512_slli_epi64(_mm512_cvtepu32_epi64(hm), 6)));
      const __mmask8 k = static_cast<__mmask8>(known >> (8 * h));
      _mm512_store_si512(ring.any + o + 8 * h, _mm512_mask_add_epi64(none64, k, any64, _mm512_slli_epi64(_mm512_cvtepu32_epi64(md), 4)));
    };
    half(0, _mm512_castsi512_si256(mapDir), _mm512_castsi512_si256(remote), _mm512_castsi512_si256(home));
    half(1, _mm512_extracti64x4_epi64(mapDir, 1), _mm512_extracti64x4_epi64(remote, 1), _mm512_extracti64x4_epi64(home, 1));
  };
  // The home line of lookup j and the AnyPeer record.
  auto prefetch = [&](uint32_t j) HUBCAP_WIDE_LAMBDA {
    HUBCAP_PREFETCH(ring.line[j]);
    HUBCAP_PREFETCH(ring.any[j]);
  };
  // Stage 2, per lookup: RunBatch's, the group's slot found in its home line by one compare of
  // the four slot keys and its second half (ref, count, class) taken out by a compress (all zero
  // without the group: no entries).
  static_assert(offsetof(GroupSlot, ref) == 8 && offsetof(GroupSlot, count) == 12 && offsetof(GroupSlot, cls) == 14 && sizeof(GroupSlot) == 16,
                "a slot's second half is ref, count, class");
  auto stage2 = [&](uint32_t j) HUBCAP_WIDE_LAMBDA {
    const AnyPeer& any = *ring.any[j];
    HUBCAP_PREFETCH(Keys(any.ref));
    const GroupSlot* line = ring.line[j];
    const uint64_t key = ring.key[j];
    const __m512i l = _mm512_load_si512(line);
    const __mmask8 hits = _mm512_mask_cmpeq_epi64_mask(0x55, l, _mm512_set1_epi64(static_cast<long long>(key)));
    uint64_t info = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm512_castsi512_si128(_mm512_maskz_compress_epi64(static_cast<__mmask8>(hits << 1), l))));
    if (__builtin_expect((hits == 0) & (line[0].overflowed != 0), 0)) {
      const GroupSlot* f = dir_.Find(GroupHash(static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)), GroupMatch(static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)));
      if (f != nullptr) memcpy(&info, &f->ref, sizeof(info));
    }
    ring.info[j] = info;
    // A big group's ref is no arena unit: these prefetch lines it will not read (rare).
    const uint32_t* keys = Keys(static_cast<uint32_t>(info));
    HUBCAP_PREFETCH(keys);
    // Key words of more than 16 entries span two lines.
    HUBCAP_PREFETCH(keys + ((info >> 32) & 0xFFF0u));
  };
  // Stage 3, per lookup: both scans from the start of the line holding a block's first key word
  // (WideScan), keeping the entries that matched (m3, m4: 0 on a miss, then stage 4 ignores the
  // key word and payload kept, those of whatever entry or word the line starts with).
  auto stage3 = [&](uint32_t j) HUBCAP_WIDE_LAMBDA {
    const uint32_t pp = ring.bits[j] & 0x00FFFFFF;
    const __m512i v = _mm512_set1_epi32(static_cast<int>(pp));
    // The slot's second half: ref, count, class.
    const uint64_t info = ring.info[j];
    const uint32_t gref = static_cast<uint32_t>(info), gcount = static_cast<uint32_t>(info >> 32) & 0xFFFF, gcls = static_cast<uint32_t>(info >> 48) & 0xFF;
    const PolicyPayload* p3;
    if (__builtin_expect(gcls == kBigClass, 0)) {
      const EntryRef l3 = FindInBig(bigs_[gref], pp >> 16, pp & 0xFFFF);
      ring.kw3[j] = l3.kw;
      ring.m3[j] = l3.hit();
      p3 = l3.p;
    } else {
      const uint32_t skip = (gref & 3) * 4;
      const uint32_t live = _bzhi_u32(0xFFFFFFFFu, gcount) << skip;
      const uint32_t* line = Keys(gref & ~3u);
      const uint32_t m = WideScan(line, live, v);
      const uint32_t i = _tzcnt_u32(m) & 31;
      ring.kw3[j] = line[i];
      ring.m3[j] = m;
      p3 = reinterpret_cast<const PolicyPayload*>(line + kClassCap[gcls] - skip + 2 * i);
    }
    HUBCAP_PREFETCH(p3);
    ring.p3[j] = p3;
    const AnyPeer& any = *ring.any[j];
    const PolicyPayload* p4;
    if (__builtin_expect(any.cls == kBigClass, 0)) {
      const EntryRef l4 = FindInBig(bigs_[any.ref], pp >> 16, pp & 0xFFFF);
      ring.kw4[j] = l4.kw;
      ring.m4[j] = l4.hit();
      p4 = l4.p;
    } else {
      const uint32_t* line = Keys(any.ref & ~3u);
      const uint32_t m = WideScan(line, any.live, v);
      const uint32_t i = _tzcnt_u32(m) & 31;
      ring.kw4[j] = line[i];
      ring.m4[j] = m;
      p4 = reinterpret_cast<const PolicyPayload*>(line + any.payAdj + 2 * i);
    }
    HUBCAP_PREFETCH(p4);
    ring.p4[j] = p4;
  };
  // Stage 4, vector: the payload words gathered, AnswerSixteen, the chunk's answers written.
  auto finish = [&](uint32_t c) HUBCAP_WIDE_LAMBDA {
    const uint32_t at = c * kWide, cnt = std::min(kWide, n - at), o = (c % 4) * kWide;
    const __mmask16 live = LiveLanes(cnt);
    // A lookup that matched nothing: key word 0 and kNoPayload's (all zero) words.
    const __m512i m3 = _mm512_load_si512(ring.m3 + o), m4 = _mm512_load_si512(ring.m4 + o);
    const __mmask16 hit3 = _mm512_mask_test_epi32_mask(live, m3, m3), hit4 = _mm512_mask_test_epi32_mask(live, m4, m4);
    const __m512i kw3 = _mm512_maskz_load_epi32(hit3, ring.kw3 + o), kw4 = _mm512_maskz_load_epi32(hit4, ring.kw4 + o);
    __m512i verdict, cookie, info, match;
    AnswerSixteen(hit3, hit4, kw3, kw4, GatherPayload(ring.p3 + o, hit3, 0), GatherPayload(ring.p4 + o, hit4, 0), GatherPayload(ring.p3 + o, hit3, 1),
                  GatherPayload(ring.p4 + o, hit4, 1), _mm512_load_si512(ring.bits + o), &verdict, &cookie, &info, &match);
    Store16(out, at, cnt, verdict, cookie, info, match);
  };
  // Lookups of a chunk (0 past the last one).
  auto size = [&](int32_t c) { return c >= 0 && c < chunks ? std::min(kWide, n - static_cast<uint32_t>(c) * kWide) : 0u; };
  // Each round: chunk c + 3 hashed; then, lookup by lookup (the prefetches spread over the round
  // as in RunBatch, not in bursts of sixteen), its home lines prefetched, stage 2 of chunk c + 2
  // and stage 3 of chunk c + 1; then chunk c answered. Rounds of three full chunks (all but the
  // first three and the last three) take a loop without the checks.
  for (int32_t c = -3; c < chunks; c++) {
    if (c + 3 < chunks) stage1(static_cast<uint32_t>(c + 3));
    const uint32_t n1 = size(c + 3), n2 = size(c + 2), n3 = size(c + 1);
    const uint32_t o1 = static_cast<uint32_t>(c + 3) % 4 * kWide, o2 = static_cast<uint32_t>(c + 2) % 4 * kWide, o3 = static_cast<uint32_t>(c + 1) % 4 * kWide;
    if ((n1 & n2 & n3) == kWide) {
      for (uint32_t k = 0; k < kWide; k++) {
        prefetch(o1 + k);
        stage2(o2 + k);
        stage3(o3 + k);
      }
    } else {
      for (uint32_t k = 0; k < kWide; k++) {
        if (k < n1) prefetch(o1 + k);
        if (k < n2) stage2(o2 + k);
        if (k < n3) stage3(o3 + k);
      }
    }
    if (c >= 0) finish(static_cast<uint32_t>(c));
  }
  return unknown;
}
#pragma GCC diagnostic pop
#endif

namespace {

// The builds of the batch loop (BatchSimd): the widest the CPU has, unless HUBCAP_POLICY_SIMD
// (portable | avx2 | avx512) asks for a narrower one to test or compare it. Decided once.

bool CpuHas(int level) {
#if HUBCAP_POLICY_AVX2
  __builtin_cpu_init();
  if (level >= PolicySetCore::kSimdAvx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("bmi2");
  if (level >= PolicySetCore::kSimdAvx2) return __builtin_cpu_supports("avx2") != 0;
#endif
  return level == PolicySetCore::kSimdPortable;
}

int DefaultSimd() {
  int want = PolicySetCore::kSimdAvx512;
  const char* env = getenv("HUBCAP_POLICY_SIMD");
  if (env != nullptr && strcmp(env, "portable") == 0) want = PolicySetCore::kSimdPortable;
  if (env != nullptr && strcmp(env, "avx2") == 0) want = PolicySetCore::kSimdAvx2;
  while (!CpuHas(want)) want--;
  return want;
}

std::atomic<int> g_batchSimd{-1};  // -1 undecided, else a PolicySetCore::kSimd* level

}  // namespace

int PolicySetCore::BatchSimd() {
  int v = g_batchSimd.load(std::memory_order_relaxed);
  if (v < 0) {
    v = DefaultSimd();
    g_batchSimd.store(v, std::memory_order_relaxed);
  }
  return v;
}

bool PolicySetCore::SetBatchSimd(int level) {
  if (level < kSimdPortable || level > kSimdAvx512 || !CpuHas(level)) return false;
  g_batchSimd.store(level, std::memory_order_relaxed);
  return true;
}

#if HUBCAP_POLICY_AVX2
// The batch compiled for AVX2, and for AVX-512: flattened, so every helper (the Lanes among them)
// is inlined and compiled for the target with it.
template <class In, class Out>
__attribute__((target("avx2"), flatten)) uint32_t PolicySetCore::RunBatchAvx2(const In& in, Out& out, uint32_t n) const {
  return RunBatch<Avx2Batch>(in, out, n);
}
template <class In, class Out>
__attribute__((target(HUBCAP_AVX512_TARGET), flatten)) uint32_t PolicySetCore::RunBatchAvx512(const In& in, Out& out, uint32_t n) const {
  // The wide loop gathers MapInfo.alive with 32-bit indexes (4 * map + 3).
  if (maps_.size() > (1u << 28)) return RunBatch<Avx512Lanes>(in, out, n);
  return RunBatchWide(in, out, n);
}
#endif

template <class In, class Out>
uint32_t PolicySetCore::Batch(const In& in, Out& out, uint32_t n) const {
  if (dir_.slots() == nullptr) {
    // No group was ever written (any-peer groups are in the directory too): every lookup misses.
    uint32_t unknown = 0;
    BatchAnswer r;
    for (uint32_t i = 0; i < n; i++) {
      unknown += !HasMap(in.Map(i));
      Answer(NoEntry(), NoEntry(), ((in.Bits(i) >> 25) & 1) != 0, &r);
      out.Put(i, r);
    }
    return unknown;
  }
#if HUBCAP_POLICY_AVX2
  const int simd = BatchSimd();
  if (simd == kSimdAvx512) return RunBatchAvx512(in, out, n);
  if (simd == kSimdAvx2) return RunBatchAvx2(in, out, n);
#endif
  return RunBatch<PortableLanes>(in, out, n);
}

uint32_t PolicySetCore::LookupBatchPacked(const uint32_t* in, int32_t* out, uint32_t n) const {
  PackedIn i{in};
  PackedOut o{out};
  return Batch(i, o, n);
}

uint32_t PolicySetCore::LookupBatch(const uint32_t* mapIds, uint32_t map, const uint32_t* remotes, const uint8_t* dirs,
                                    const uint8_t* protos, const uint16_t* dports, int32_t* outVerdict, uint8_t* outMatch,
                                    uint32_t* outCookie, uint32_t n) const {
  SoaIn i{mapIds, map, remotes, dirs, protos, dports};
  SoaOut o{outVerdict, outMatch, outCookie};
  return Batch(i, o, n);
}

}  // namespace hubcap
