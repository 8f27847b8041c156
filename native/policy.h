// Per-endpoint policy maps and their two-lookup verdict, native: hubcap's C++ counterpart of
// src/maps/policy-map.ts.
//
// Mirrors: bpf/lib/policy.h (`struct policy_key`, `struct policy_entry`, `__policy_can_access`,
// `__policy_check`) and pkg/maps/policymap, with the semantics src/maps/policy-map.ts states at
// its top, exactly: key bits beyond the prefix ignored; set of an existing key replaces it in
// place; a new key in a full map fails and counts one overflow; the precedence list of
// `PolicyMap.lookup` (numbered the same way in Decide below).
//
// One PolicySetCore holds many maps (one per endpoint), so a batch can mix endpoints and
// 1,000 maps cost no more than one map of the same total size. Layout:
//
//   groups:  Robin Hood hash (mapId << 1 | direction, identity) -> {mask, gid}    16 bytes
//            mask: the proto/port prefix lengths present in the group (bit P, P = 0 | 8..24)
//            gid:  a stable group number; the entries are keyed by it
//   entries: Robin Hood hash (gid, key word) -> the policy_entry value          16 bytes
//            key word: port (bits 0..15), protocol (16..23), P (24..28), masked as the kernel's
//            LPM trie ignores bits beyond the prefix; bit 29 = deny and bit 30 = explicit auth
//            type ride along and are not part of the key
//   counts:  entries per gid (4 bytes per group), so an empty group goes away
//
// A lookup of one (map, identity, direction) is a group probe, then one entry probe per length
// present, longest first, until one hits (the LPM of the kernel's trie over proto/port). The
// any-peer group (identity 0) of each map and direction is cached in the map's record. Mask bits
// are set on insert and cleared when the group empties; a deleted length's bit may linger (it
// costs a probe, never an answer) until RefreshMasks, which runs once deletes reach half the
// entries.
//
// Batch lookups run in groups of kBatchGroup: the group slots of all lookups are prefetched, then
// the first entry probe of each, then the group is resolved, so cache misses overlap.
#ifndef HUBCAP_NATIVE_POLICY_H_
#define HUBCAP_NATIVE_POLICY_H_

#include <cstdint>

#include "common.h"

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

struct PolicyGroupSlot {
  uint32_t identity;
  uint32_t mapDir;  // mapId << 1 | direction
  uint32_t mask;    // bit P for each proto/port prefix length present
  uint32_t gid;     // kNone = empty slot
};

struct PolicyEntrySlot {
  uint32_t gid;  // kNone = empty slot
  uint32_t kw;
  uint32_t cookie;
  uint16_t proxyPort;
  uint8_t prio;  // proxy port priority
  uint8_t auth;  // auth type, 0..127
};

inline int KwPrefix(uint32_t kw) { return static_cast<int>((kw >> 24) & 0x1F); }

// Port mask of a proto/port prefix length.
inline uint32_t PortMask(int p) { return p <= 8 ? 0u : (0xFFFFu << (24 - p)) & 0xFFFFu; }

// The key word of a (protocol, port) at prefix length p, masked.
inline uint32_t KeyWord(int p, uint32_t proto, uint32_t port) {
  if (p < kLpmProtoPrefixBits) return 0;
  return (static_cast<uint32_t>(p) << 24) | ((proto & 0xFF) << 16) | (port & PortMask(p));
}

inline uint64_t GroupHash(uint32_t mapDir, uint32_t identity) { return Mix64((static_cast<uint64_t>(mapDir) << 32) | identity); }
inline uint64_t EntryHash(uint32_t gid, uint32_t kw) { return Mix64(((static_cast<uint64_t>(gid) << 32) | (kw & kKwKeyBits)) ^ 0x5851F42D4C957F2DULL); }

struct PolicyGroupOps {
  using Slot = PolicyGroupSlot;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0xFF, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.gid == kNone; }
  static uint64_t HashOf(const Slot& s) { return GroupHash(s.mapDir, s.identity); }
};

struct PolicyEntryOps {
  using Slot = PolicyEntrySlot;
  static void InitEmpty(Slot* s, size_t n) { memset(static_cast<void*>(s), 0xFF, n * sizeof(Slot)); }
  static bool Empty(const Slot& s) { return s.gid == kNone; }
  static uint64_t HashOf(const Slot& s) { return EntryHash(s.gid, s.kw); }
};

// The answer of one `__policy_can_access` (src/maps/policy-map.ts PolicyVerdict).
struct PolicyResult {
  int32_t verdict;       // < 0 drop code, 0 allow, > 0 proxy port
  uint32_t cookie;       // of the chosen entry, 0 on a miss
  uint8_t matchType;     // PolicyMatch
  uint8_t prefixLen;     // of the chosen entry
  uint8_t authType;      // when the verdict is kDropPolicyAuthRequired, else 0
  uint16_t proxyPort;    // of the chosen entry when read (allow, auth required), else 0
  uint32_t matchedIdentity;
  const PolicyEntrySlot* entry;  // the chosen entry (valid until the next change), or nullptr
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
  static constexpr uint32_t kBatchGroup = 16;

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
  uint32_t TotalEntries() const { return entries_.size(); }
  uint32_t TotalGroups() const { return groups_.size(); }
  size_t bytesAllocated() const { return mem_.bytes; }

  // SetStatus.
  int Set(uint32_t map, const PolicyEntryArgs& e);
  bool Delete(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen);
  const PolicyEntrySlot* Get(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen) const;

  // One LPM lookup of (identity, direction) over proto/port: one `map_lookup_elem`.
  const PolicyEntrySlot* LookupSlot(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port) const;

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

  // Rows (kDumpWords each) of every entry of a map, unordered. `out` must hold MapSize rows.
  // False for an unknown map or when out of memory for the scratch.
  bool DumpMap(uint32_t map, uint32_t* out) const;

  // The index of an entry slot (PolicyResult.entry): valid until the next change.
  uint32_t SlotIndex(const PolicyEntrySlot* s) const { return static_cast<uint32_t>(s - entries_.slots()); }

  // Recomputes every group's length mask from its entries (drops lingering bits).
  bool RefreshMasks();

 private:
  struct MapInfo {
    uint32_t capacity;
    uint32_t size;
    uint32_t overflow;
    uint32_t alive;
    uint32_t anyGid[2];   // the identity-0 group per direction, kNone if none
    uint32_t anyMask[2];  // its mask
  };

  struct Pending;  // batch scratch (policy.cc)
  template <class In, class Out>
  uint32_t RunBatch(const In& in, Out& out, uint32_t n) const;

  PolicyGroupSlot* FindGroup(uint32_t mapDir, uint32_t identity) const;
  PolicyEntrySlot* FindEntry(uint32_t gid, uint32_t kw) const;
  const PolicyEntrySlot* FindInGroup(uint32_t gid, uint32_t mask, uint32_t proto, uint32_t port) const;
  int32_t Decide(const PolicyEntrySlot* l3, const PolicyEntrySlot* l4, uint32_t remote, bool untrackedFragment, PolicyResult* out) const;
  void SyncAnyPeer(uint32_t mapDir, uint32_t identity, const PolicyGroupSlot* g);

  MemCounter mem_;
  RobinHoodTable<PolicyGroupOps> groups_;
  RobinHoodTable<PolicyEntryOps> entries_;
  TrackedVector<uint32_t> gidCount_;  // entries per gid
  TrackedVector<uint32_t> freeGids_;
  TrackedVector<MapInfo> maps_;
  TrackedVector<uint32_t> freeMaps_;
  uint32_t staleDeletes_ = 0;
};

}  // namespace hubcap

#endif  // HUBCAP_NATIVE_POLICY_H_
