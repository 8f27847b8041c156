// Per-endpoint policy maps and their two-lookup verdict, native: hubcap's C++ counterpart of
// src/maps/policy-map.ts.
//
// Mirrors: bpf/lib/policy.h (`struct policy_key`, `struct policy_entry`, `__policy_can_access`,
// `__policy_check`) and pkg/maps/policymap, with the semantics src/maps/policy-map.ts states at
// its top, exactly: key bits beyond the prefix ignored; set of an existing key replaces it in
// place; a new key in a full map fails and counts one overflow; the precedence list of
// `PolicyMap.lookup` (numbered the same way in Decide, policy.cc).
//
// One PolicySetCore holds many maps (one per endpoint), so a batch can mix endpoints and
// 1,000 maps cost no more than one map of the same total size.
//
// Layout. A lookup of one (map, direction, identity) is the LPM over the protocol/port entries of
// that "group" (the kernel's trie walk over the key's last 24 bits). Groups are small in
// practice (an identity allowed on a few ports), so:
//
//   directory: a bucketed hash (common.h BucketTable, four 16-byte slots to a cache line) of the
//           groups keyed by (mapId << 1 | direction, identity): where the group's entries are and
//           how many. Reserved for kDirectorySlack times its groups, so a group is nearly always
//           in its home line: finding it reads one line.
//   blocks: the entries of a small group (<= kMaxSmallGroup) are one block of 12 bytes an entry
//           in an arena, of a size class whose block fills whole cache lines (1, 2, 5, 10, 16, 20,
//           26, 32 entries: 16 and 32 bytes, then 1..6 lines, aligned so; free blocks of a class
//           are chained for reuse): the class's capacity of 4-byte key words, then as many 8-byte
//           payloads (PolicyPayload). Sorted by prefix length, longest first: the first entry whose
//           key covers (protocol, port) is the longest prefix match, found by comparing eight
//           key words at a time (sixteen with AVX-512) without a branch per entry (MatchMask,
//           Avx512Lanes, policy.cc) and taking the lowest match. A block of up to five entries is
//           one line; a batch reads a bigger one's key lines (one up to 16 entries) and then the
//           matched payload's line.
//   big groups: a group that grows past kMaxSmallGroup moves to a private open-addressing table
//           keyed by the key word (a power of two, load <= 1/2), with an entry count per prefix
//           length; its lookup probes the lengths present, longest first.
//   any-peer groups: every lookup of a map also reads its identity-0 group (L4-only rules,
//           `__policy_can_access`'s second `map_lookup_elem` with the identity zeroed), so a
//           16-byte record per map and direction (AnyPeer, indexed by mapDir) keeps where that
//           group's entries are (a copy of its directory slot's ref, count and class, and the
//           AVX-512 scan's lane mask and payload offset, refreshed whenever they change:
//           RefreshAny) and the second lookup needs no probe; it scans the
//           group's block like any other, and the block stays hot (every lookup of the map and
//           direction reads it). Merging the any-peer entries into every peer group instead
//           would save that scan but cost the any-peer group's size again in each of the map's
//           groups (24 entries a direction in the benchmark's one-map layout, beside 300,000 peer
//           groups), far past the memory budget.
//
//   key word: port (bits 0..15), protocol (16..23), P (24..28), masked as the kernel's LPM trie
//   ignores bits beyond the prefix; bit 29 = deny and bit 30 = explicit auth type ride along and
//   are not part of the key.
//
// Batch lookups are a software pipeline of four stages D lookups apart (RunBatch): the directory
// line of a lookup and the map's AnyPeer record are prefetched; then its group is found in that
// line and the lines of its block's key words (and the any-peer group's) prefetched (a group
// whose keys overflowed its home line, rare at the directory's load, is looked up further at
// once; the line's first slot tells whether any did, GroupSlot::overflowed, so no other line is
// read to know: reading a separate array of the counts was ~2% slower at 10^6); then the two
// lookups are made from cached lines and the matched payloads' lines prefetched; then the
// answer: many cache misses are in flight instead of one at a time, and a big group costs its
// key lines and one payload line, not its whole block. Once its lines are cached a lookup is
// compute bound, so the resolving avoids branches on data (which entry matched, whether the
// group exists, whether anything matched): a miss reads stand-ins (kNoGroupSlot, kNoKeys,
// kNoPayload) instead, and an unknown map a mapDir no group has (kVoidMapDir). At 10^6 entries a
// lookup misses about two and a quarter lines (directory, key words, payload), which on this
// kind of VM cost ~10 ns each even with many in flight (random lines of a 32 MB table); still
// most of a lookup's time is its instructions (over 10^3 entries, all cached, ~75% of the time
// over 10^6).
// The loop has three builds, the widest the CPU has chosen at run time (BatchSimd): AVX-512
// (sixteen key words a step, read with a masked load of the line holding the first: a masked
// load still reads every byte it spans, and one reaching into the next line costs a miss more;
// the home line's four slots in one compare), AVX2 (eight key words in one vector, the 32-byte
// window holding the first) and the portable one (two SSE2 vectors; a word at a time off x86).
// The AVX-512 build also runs the stages over chunks of sixteen lookups (RunBatchWide): the
// first and the last stage, which follow no pointer, are vector code across the chunk, one
// lookup a lane (hashing, GroupHash32, is 32-bit multiplies for that; the first also makes each
// lookup's slot key and line addresses, the last turns the match masks into hits, so the middle
// stages use no stand-ins: a group is taken out of its home line by a compress, zero without
// one, and a miss keeps whatever key word it read, ignored); the lookup was mostly instructions,
// not misses (over 10^3 entries, all cached, it took ~85% of its time over 10^6), and this made
// it ~0.8x as long over 10^3 entries, ~0.9x over 10^6; trimmed since to ~150 instructions a
// lookup (from ~240; counted by single-stepping, callgrind has no AVX-512), which is ~0.65x as
// long over 10^3 entries, ~0.75x over 10^5, ~0.9x over 512k and ~0.93x over 10^6 (in-process A/B
// run both ways round): there the lines a lookup misses (~2.2, ~10 ns each on this VM even with
// many in flight) bound it more than its instructions. A filter of the groups present (a blocked
// Bloom filter, ~2 bytes a group, tested in stage 1 so that the ~1/4 of lookups whose peer has no
// group skip their home line) was slower (~1.04-1.1x at 10^6, commit 187fba1): its own random line
// a lookup, from a 0.3-0.5 MB table, and ~7 instructions cost more than the lines it saved.
// Storing groups of one or two entries inline in their home line (two slots holding the key and a
// class-1 block, when the line has a free pair; commit c513031) was slower too: 141k of 307k
// groups went inline at 10^6, but the same code with inline groups switched off ran as fast
// (A/B both ways round, ~1.0-1.02x), so the block line it saves for ~15% of lookups buys nothing
// measurable on this VM, while telling the two forms apart cost ~29 instructions a lookup
// (~1.22x at 10^3, ~1.15x at 10^6) and the directory, reserved by slots, ~7 bytes an entry.
#ifndef HUBCAP_NATIVE_POLICY_H_
#define HUBCAP_NATIVE_POLICY_H_

#include <cstdint>

#include "common.h"

// Batches have AVX2 and AVX-512 builds of their loop, chosen at run time (x86-64 with GCC or
// Clang).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HUBCAP_POLICY_AVX2 1
#else
#define HUBCAP_POLICY_AVX2 0
#endif

namespace hubcap {

// bpf/lib/drop_reasons.h, as src/maps/codes.ts.
constexpr int32_t kCtxActOk = 0;
constexpr int32_t kDropPolicy = -133;
constexpr int32_t kDropFragNoSupport = -157;
constexpr int32_t kDropPolicyDeny = -181;
constexpr int32_t kDropPolicyAuthRequired = -189;

// Policy match types (src/maps/codes.ts POLICY_MATCH_*).
enum PolicyMatch : uint8_t {
  kMatchNone = 0,
  kMatchL3Only = 1,
  kMatchL3L4 = 2,
  kMatchL4Only = 3,
  kMatchAll = 4,
  kMatchL3Proto = 5,
  kMatchProtoOnly = 6,
};

constexpr int kLpmProtoPrefixBits = 8;
constexpr uint32_t kNone = 0xFFFFFFFFu;

constexpr uint32_t kKwKeyBits = 0x1FFFFFFFu;
constexpr uint32_t kKwDeny = 1u << 29;
constexpr uint32_t kKwExplicitAuth = 1u << 30;

inline int KwPrefix(uint32_t kw) { return static_cast<int>((kw >> 24) & 0x1F); }

// Port mask of a proto/port prefix length (0 for lengths up to 8).
extern const uint16_t kPortMask[32];
// The bits of (protocol << 16 | port) a key word of prefix length p keeps: an entry covers a
// lookup when ((kw ^ (proto << 16 | port)) & kKeyMask[P]) == 0.
extern const uint32_t kKeyMask[32];

// The key word of a (protocol, port) at prefix length p (0 | 8..24), masked.
inline uint32_t KeyWord(int p, uint32_t proto, uint32_t port) {
  if (p < kLpmProtoPrefixBits) return 0;
  return (static_cast<uint32_t>(p) << 24) | ((proto & 0xFF) << 16) | (port & kPortMask[p]);
}

// The directory hash of a group, 32 bits (BucketTable::Home reads only the high half of
// GroupHash, where they are put): two 32-bit multiplies around an xor-shift, every key bit
// reaching the high bits Home uses. 32-bit lanes so that the AVX-512 batch hashes sixteen
// lookups in three vector multiplies (HashSixteen, policy.cc) the same way.
constexpr uint32_t kGroupHashId = 0x9E3779B1u;
constexpr uint32_t kGroupHashMap = 0x85EBCA77u;
constexpr uint32_t kGroupHashMix = 0xC2B2AE3Du;
inline uint32_t GroupHash32(uint32_t mapDir, uint32_t identity) {
  uint32_t x = (identity * kGroupHashId) ^ (mapDir * kGroupHashMap);
  x ^= x >> 15;
  return x * kGroupHashMix;
}
inline uint64_t GroupHash(uint32_t mapDir, uint32_t identity) { return static_cast<uint64_t>(GroupHash32(mapDir, identity)) << 32; }

// The value of a policy_entry: 8 bytes (its key word lives apart, see the layout above).
struct PolicyPayload {
  uint32_t cookie;
  uint16_t proxyPort;
  uint8_t prio;  // proxy port priority
  uint8_t auth;  // auth type, 0..127
};

// A policy_entry value with its key word: 12 bytes (big groups' tables, Get's answer).
struct PolicyValue {
  uint32_t kw;  // key word and flags; kNone = empty (big-group tables)
  PolicyPayload v;
};

// The value a miss points at (all zero): an answer reads a value without a branch.
extern const PolicyPayload kNoPayload;

// An entry a lookup found: its key word (flags included) and value; a miss is NoEntry().
struct EntryRef {
  uint32_t kw;
  const PolicyPayload* p;
  bool hit() const { return p != &kNoPayload; }
};
inline EntryRef NoEntry() { return EntryRef{0, &kNoPayload}; }

// One group in the directory: 16 bytes.
struct GroupSlot {
  uint32_t mapDir;    // mapId << 1 | direction; kNone = empty slot
  uint32_t identity;  // the peer identity (0: the any-peer group)
  uint32_t ref;       // small group: arena unit of its block (Block()); big group: index in the big groups
  uint16_t count;     // entries of a small group
  uint8_t cls;        // size class of the block; kBigClass for a big group
  // In a line's first slot: 1 when groups of this home line overflowed past it (a copy of the
  // line's BucketTable overflow count being nonzero, kept by SyncOverflowed), so a batch learns
  // whether to look further from the line itself; 0 in the other slots.
  uint8_t overflowed;
};
constexpr uint8_t kBigClass = 0xFF;

struct GroupOps {
  using Slot = GroupSlot;
  static void InitEmpty(Slot* s, size_t n) {
    for (size_t i = 0; i < n; i++) s[i].mapDir = kNone;
  }
  static bool Empty(const Slot& s) { return s.mapDir == kNone; }
  static uint64_t HashOf(const Slot& s) { return GroupHash(s.mapDir, s.identity); }
};

// A group that outgrew its block: a private open-addressing table of its entries.
struct BigGroup {
  PolicyValue* table;  // cap slots, kw kNone = empty; nullptr = a free record
  uint32_t cap;        // a power of two
  uint32_t count;
  uint32_t mask;  // bit P for each prefix length present (exact: from lenCount)
  uint32_t identity;
  uint32_t mapDir;
  uint32_t lenCount[25];
};

// The answer of one `__policy_can_access` (src/maps/policy-map.ts PolicyVerdict).
struct PolicyResult {
  int32_t verdict;     // < 0 drop code, 0 allow, > 0 proxy port
  uint32_t cookie;     // of the chosen entry, 0 on a miss
  uint8_t matchType;   // PolicyMatch
  uint8_t prefixLen;   // of the chosen entry
  uint8_t authType;    // when the verdict is kDropPolicyAuthRequired, else 0
  uint16_t proxyPort;  // of the chosen entry when read (allow, auth required), else 0
  uint32_t matchedIdentity;
  bool hit;  // an entry was chosen
};

// The packed batch layout: 3 words in, 3 words out per lookup.
//   in:  [mapId, remote identity, dport | protocol << 16 | direction << 24 | untracked fragment << 25]
//   out: [verdict, cookie, matchType | prefixLen << 4 | authType << 9 | proxyPort << 16]
constexpr uint32_t kPackedInWords = 3;
constexpr uint32_t kPackedOutWords = 3;
inline uint32_t PackInfo(const PolicyResult& r) {
  return static_cast<uint32_t>(r.matchType) | (static_cast<uint32_t>(r.prefixLen) << 4) | (static_cast<uint32_t>(r.authType) << 9) |
         (static_cast<uint32_t>(r.proxyPort) << 16);
}

enum SetStatus { kSetOk = 1, kSetFull = 0, kSetNoMemory = -1, kSetNoMap = -2 };

// One policy_entry to write (src/maps/policy-map.ts PolicyEntry).
struct PolicyEntryArgs {
  uint32_t identity;
  uint32_t direction;  // 0 ingress, 1 egress
  uint32_t protocol;
  uint32_t port;
  int prefixLen;  // 0 | 8..24
  bool deny;
  uint16_t proxyPort;
  uint8_t prio;
  uint8_t auth;
  bool explicitAuth;
  uint32_t cookie;
};

// One row of DumpMap: 4 words.
//   [identity, direction << 31 | key word (with the deny and explicit-auth bits), cookie,
//    proxyPort | prio << 16 | auth << 24]
constexpr uint32_t kDumpWords = 4;

class PolicySetCore {
 public:
  // How many lookups apart the stages of a batch are (a power of two).
  static constexpr uint32_t kPrefetchDistance = 16;
  // The directory reserves room for this many times its groups (see Set).
  static constexpr uint32_t kDirectorySlack = 2;
  // Spare 16-byte units after the arena's last block (MatchMask reads past a block's keys).
  static constexpr uint32_t kArenaTail = 1;
  // Entries a group keeps in a block before it moves to a private table.
  static constexpr uint32_t kMaxSmallGroup = 32;
  // Block size classes (entries), the last one kMaxSmallGroup.
  static constexpr uint32_t kClasses = 8;
  // Map ids stay below this (mapDir = id << 1 | direction never reaches kNone).
  static constexpr uint32_t kMaxMaps = 0x7FFFFFFFu;

  PolicySetCore();
  ~PolicySetCore();
  PolicySetCore(const PolicySetCore&) = delete;
  PolicySetCore& operator=(const PolicySetCore&) = delete;

  // A new empty map; its id (>= 0), or -1 when out of memory.
  int64_t CreateMap(uint32_t capacity);
  // Removes a map and its entries; its id may be reused. False for an unknown map or when out
  // of memory for the scratch of the pass (nothing changed then).
  bool DeleteMap(uint32_t id);
  bool HasMap(uint32_t id) const { return id < maps_.size() && maps_[id].alive != 0; }
  // Drops every entry of a map and its overflow count (PolicyMap.clear()). False for an unknown
  // map or when out of memory for the scratch of the pass (nothing changed then).
  bool ClearMap(uint32_t id);

  uint32_t MapCapacity(uint32_t id) const { return maps_[id].capacity; }
  uint32_t MapSize(uint32_t id) const { return maps_[id].size; }
  uint32_t MapOverflow(uint32_t id) const { return maps_[id].overflow; }
  uint32_t TotalEntries() const { return entries_; }
  uint32_t TotalGroups() const { return groups_; }
  uint32_t BigGroups() const { return bigGroupsLive_; }
  size_t bytesAllocated() const { return mem_.bytes; }

  // SetStatus.
  int Set(uint32_t map, const PolicyEntryArgs& e);
  bool Delete(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen);
  // The entry with exactly this key into *out; false when there is none.
  bool Get(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen, PolicyValue* out) const;

  // One LPM lookup of (identity, direction) over proto/port: one `map_lookup_elem`; the entry
  // into *out, false on a miss.
  bool LookupSlot(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, PolicyValue* out) const;

  // `__policy_can_access` (the two lookups and `__policy_check`). Returns out->verdict. An unknown
  // map answers as an empty one.
  int32_t Lookup(uint32_t map, uint32_t remote, uint32_t direction, uint32_t protocol, uint32_t dport, bool untrackedFragment,
                 PolicyResult* out) const;

  // Batches. Both return the number of lookups that named an unknown map (answered as empty).
  uint32_t LookupBatchPacked(const uint32_t* in, int32_t* out, uint32_t n) const;
  // Struct of arrays; `mapIds` may be null (then every lookup is in `map`); outMatch and
  // outCookie may be null.
  uint32_t LookupBatch(const uint32_t* mapIds, uint32_t map, const uint32_t* remotes, const uint8_t* dirs, const uint8_t* protos,
                       const uint16_t* dports, int32_t* outVerdict, uint8_t* outMatch, uint32_t* outCookie, uint32_t n) const;

  // The build of the batch loop every set runs: the widest the CPU has (AVX-512: F, CD, BW, DQ,
  // VL; else AVX2; else portable), unless HUBCAP_POLICY_SIMD=portable|avx2 asks for a narrower
  // one. SetBatchSimd switches for every set (tests compare the builds); false for a build the
  // CPU lacks.
  enum : int { kSimdPortable = 0, kSimdAvx2 = 1, kSimdAvx512 = 2 };
  static int BatchSimd();
  static bool SetBatchSimd(int level);

  // Rows (kDumpWords each) of every entry of a map, unordered. `out` must hold MapSize rows.
  bool DumpMap(uint32_t map, uint32_t* out) const;

 private:
  // 16 bytes: a batch finds a map's record with a shift.
  struct MapInfo {
    uint32_t capacity;
    uint32_t size;
    uint32_t overflow;
    uint32_t alive;
  };
  // The identity-0 group of one map and direction (anyPeer_[mapDir]), 16 bytes: a copy of its
  // directory slot's entries (ref, count, cls; all 0 without the group), and what the AVX-512
  // batch's scan of it needs precomputed (RefreshAny), since only the port differs from one
  // lookup of the map to the next: `live`, the lanes of its key words counted from the start of
  // the cache line holding the first (ref & ~3 units), and `payAdj`, where entry lane k's
  // payload is, 2k + payAdj words from that line.
  struct AnyPeer {
    uint32_t ref;
    uint32_t live;
    uint16_t count;
    uint8_t cls;
    int8_t payAdj;
    uint32_t pad;
  };
  static constexpr AnyPeer kNoAnyPeer = {0, 0, 0, 0, 0, 0};

  // The batch loop, its MatchMask step `Lanes` (policy.cc), and its builds: Batch picks one.
  template <class Lanes, class In, class Out>
  uint32_t RunBatch(const In& in, Out& out, uint32_t n) const;
  template <class In, class Out>
  uint32_t RunBatchAvx2(const In& in, Out& out, uint32_t n) const;
  template <class In, class Out>
  uint32_t RunBatchAvx512(const In& in, Out& out, uint32_t n) const;
  // The AVX-512 build's loop: RunBatch's stages over chunks of sixteen lookups, the first (hash)
  // and the last (answer) as vector code across the chunk (policy.cc).
  template <class In, class Out>
  uint32_t RunBatchWide(const In& in, Out& out, uint32_t n) const;
  template <class In, class Out>
  uint32_t Batch(const In& in, Out& out, uint32_t n) const;
  // The identity-0 lookup of `__policy_can_access`; pp = protocol << 16 | port.
  template <class Lanes>
  inline EntryRef AnyLookup(const AnyPeer& any, uint32_t pp) const;

  GroupSlot* FindGroup(uint32_t mapDir, uint32_t identity) const;
  // Directory inserts and erases that keep each line's `overflowed` flag (GroupSlot); false when
  // out of memory.
  bool InsertGroup(const GroupSlot& g);
  void EraseGroup(GroupSlot* s);
  void SyncOverflowed(uint32_t fromBucket, uint32_t toBucket);
  // The LPM of one group (a directory slot or a copy of one); pp = protocol << 16 | port.
  template <class Lanes>
  inline EntryRef InGroup(const GroupSlot& g, uint32_t pp) const;
  EntryRef FindInBig(const BigGroup& b, uint32_t proto, uint32_t port) const;
  // Where the entry of a small group with exactly this key word (masked) is, or -1.
  int IndexIn(const GroupSlot& g, uint32_t kw) const;
  // The entry of a group with exactly this key word (masked) into *out; false when absent.
  bool ExactIn(const GroupSlot& g, uint32_t kw, PolicyValue* out) const;
  void RefreshAny(uint32_t mapDir);
  int32_t Decide(EntryRef l3, EntryRef l4, uint32_t remote, bool untrackedFragment, PolicyResult* out) const;

  // Blocks: the arena unit of a free block of class `cls`; false when out of memory.
  bool AllocBlock(uint32_t cls, uint32_t* ref);
  void FreeBlock(uint32_t ref, uint32_t cls);
  // Frees a group's entries (block or big table); the slot itself stays.
  void FreeGroupEntries(const GroupSlot& g);

  // Big groups.
  int64_t NewBig(uint32_t identity, uint32_t mapDir);
  void FreeBig(uint32_t index);
  bool BigInsert(BigGroup* b, const PolicyValue& v);
  bool BigErase(BigGroup* b, uint32_t kw);
  PolicyValue* BigFind(const BigGroup& b, uint32_t kw) const;
  bool BigGrow(BigGroup* b, uint32_t cap);

  MemCounter mem_;
  using Directory = BucketTable<GroupOps>;
  Directory dir_;
  // 16-byte units; a block of c units starts at a multiple of min(c, 4) units, so a block of up
  // to five entries never straddles two cache lines.
  struct alignas(16) ArenaUnit {
    uint32_t w[4];
  };
  TrackedVector<ArenaUnit> arena_;
  // A block: the key words of its class's capacity, then as many payloads.
  uint32_t* Keys(uint32_t ref) const { return reinterpret_cast<uint32_t*>(const_cast<ArenaUnit*>(arena_.data()) + ref); }
  PolicyPayload* Payloads(uint32_t ref, uint32_t cls) const;
  EntryRef EntryAt(const GroupSlot& g, uint32_t i) const { return EntryRef{Keys(g.ref)[i], Payloads(g.ref, g.cls) + i}; }
  // Writes entry i of a small group.
  void PutEntry(const GroupSlot& g, uint32_t i, const PolicyValue& v);
  uint32_t freeHead_[kClasses];  // free blocks per class, chained through their first word
  uint32_t entries_ = 0;
  uint32_t groups_ = 0;
  uint32_t bigGroupsLive_ = 0;
  TrackedVector<BigGroup> bigs_;
  TrackedVector<uint32_t> freeBigs_;
  TrackedVector<MapInfo> maps_;
  TrackedVector<AnyPeer> anyPeer_;  // by mapDir; may hold records past 2 * maps_.size()
  void ResetAnyPeer(uint32_t map);
  TrackedVector<uint32_t> freeMaps_;
};
}  // namespace hubcap

#endif  // HUBCAP_NATIVE_POLICY_H_
