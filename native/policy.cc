// Per-endpoint policy maps (policy.h): updates, the LPM over proto/port and the two-lookup
// verdict of bpf/lib/policy.h.
#include "policy.h"

#include <algorithm>

namespace hubcap {

namespace {

// A scratch array for rare whole-table passes (clear, dump, refresh); counted while it lives.
template <class T>
class TempArray {
 public:
  explicit TempArray(size_t n) : n_(n == 0 ? 1 : n) { p_ = static_cast<T*>(TrackedAlloc(n_ * sizeof(T), &mem_)); }
  ~TempArray() { TrackedFree(p_, n_ * sizeof(T), &mem_); }
  TempArray(const TempArray&) = delete;
  TempArray& operator=(const TempArray&) = delete;
  bool ok() const { return p_ != nullptr; }
  T& operator[](size_t i) { return p_[i]; }

 private:
  MemCounter mem_;
  size_t n_;
  T* p_;
};

}  // namespace

PolicySetCore::PolicySetCore() : groups_(&mem_), entries_(&mem_), gidCount_(&mem_), freeGids_(&mem_), maps_(&mem_), freeMaps_(&mem_) {}

PolicySetCore::~PolicySetCore() = default;

// ---------------------------------------------------------------------------------------------
// Maps

int64_t PolicySetCore::CreateMap(uint32_t capacity) {
  MapInfo info;
  info.capacity = capacity;
  info.size = 0;
  info.overflow = 0;
  info.alive = 1;
  info.anyGid[0] = info.anyGid[1] = kNone;
  info.anyMask[0] = info.anyMask[1] = 0;
  if (freeMaps_.size() != 0) {
    const uint32_t id = freeMaps_.back();
    freeMaps_.pop_back();
    maps_[id] = info;
    return id;
  }
  if (maps_.size() >= 0x7FFFFFFFu || !maps_.push_back(info)) return -1;
  return maps_.size() - 1;
}

bool PolicySetCore::DeleteMap(uint32_t id) {
  if (!HasMap(id) || !ClearMap(id)) return false;
  maps_[id].alive = 0;
  freeMaps_.push_back(id);  // out of memory here only loses the id for reuse
  return true;
}

bool PolicySetCore::ClearMap(uint32_t id) {
  if (!HasMap(id)) return false;
  MapInfo& mi = maps_[id];
  if (mi.size == 0) {
    mi.overflow = 0;
    return true;
  }
  // Mark the map's groups, collect their keys, then erase (erasing while scanning would shift
  // entries past the scan).
  const uint32_t ngid = gidCount_.size();
  TempArray<uint8_t> mine(ngid);
  TempArray<PolicyGroupSlot> groupKeys(groups_.size());
  TempArray<PolicyEntrySlot> entryKeys(mi.size);
  if (!mine.ok() || !groupKeys.ok() || !entryKeys.ok()) return false;
  for (uint32_t i = 0; i < ngid; i++) mine[i] = 0;
  uint32_t ng = 0;
  groups_.ForEach([&](const PolicyGroupSlot& g) {
    if ((g.mapDir >> 1) == id) {
      mine[g.gid] = 1;
      groupKeys[ng++] = g;
    }
  });
  uint32_t ne = 0;
  entries_.ForEach([&](const PolicyEntrySlot& e) {
    if (mine[e.gid] != 0 && ne < mi.size) entryKeys[ne++] = e;
  });
  for (uint32_t i = 0; i < ne; i++) {
    PolicyEntrySlot* s = FindEntry(entryKeys[i].gid, entryKeys[i].kw);
    if (s != nullptr) entries_.Erase(s);
  }
  for (uint32_t i = 0; i < ng; i++) {
    PolicyGroupSlot* g = FindGroup(groupKeys[i].mapDir, groupKeys[i].identity);
    if (g == nullptr) continue;
    const uint32_t gid = g->gid;
    groups_.Erase(g);
    gidCount_[gid] = 0;
    freeGids_.push_back(gid);
  }
  mi.size = 0;
  mi.overflow = 0;
  mi.anyGid[0] = mi.anyGid[1] = kNone;
  mi.anyMask[0] = mi.anyMask[1] = 0;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Probes

PolicyGroupSlot* PolicySetCore::FindGroup(uint32_t mapDir, uint32_t identity) const {
  return groups_.Find(GroupHash(mapDir, identity), [=](const PolicyGroupSlot& s) { return s.identity == identity && s.mapDir == mapDir; });
}

PolicyEntrySlot* PolicySetCore::FindEntry(uint32_t gid, uint32_t kw) const {
  kw &= kKwKeyBits;
  return entries_.Find(EntryHash(gid, kw), [=](const PolicyEntrySlot& s) { return s.gid == gid && (s.kw & kKwKeyBits) == kw; });
}

// The LPM within one group: one probe per prefix length present, longest first.
const PolicyEntrySlot* PolicySetCore::FindInGroup(uint32_t gid, uint32_t mask, uint32_t proto, uint32_t port) const {
  while (mask != 0) {
    const int p = HighestBit32(mask);
    mask &= ~(1u << p);
    const PolicyEntrySlot* s = FindEntry(gid, KeyWord(p, proto, port));
    if (s != nullptr) return s;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Updates

void PolicySetCore::SyncAnyPeer(uint32_t mapDir, uint32_t identity, const PolicyGroupSlot* g) {
  if (identity != 0) return;
  MapInfo& mi = maps_[mapDir >> 1];
  mi.anyGid[mapDir & 1] = g != nullptr ? g->gid : kNone;
  mi.anyMask[mapDir & 1] = g != nullptr ? g->mask : 0;
}

int PolicySetCore::Set(uint32_t map, const PolicyEntryArgs& e) {
  if (!HasMap(map)) return kSetNoMap;
  const uint32_t mapDir = (map << 1) | (e.direction & 1);
  const uint32_t kw = KeyWord(e.prefixLen, e.protocol, e.port);
  const uint32_t value = kw | (e.deny ? kKwDeny : 0) | (e.explicitAuth ? kKwExplicitAuth : 0);
  PolicyGroupSlot* g = FindGroup(mapDir, e.identity);
  if (g != nullptr) {
    PolicyEntrySlot* s = FindEntry(g->gid, kw);
    if (s != nullptr) {
      s->kw = value;
      s->cookie = e.cookie;
      s->proxyPort = e.proxyPort;
      s->prio = e.prio;
      s->auth = e.auth;
      return kSetOk;
    }
  }
  if (maps_[map].size >= maps_[map].capacity) {
    maps_[map].overflow++;
    return kSetFull;
  }
  bool newGroup = false;
  uint32_t gid;
  if (g != nullptr) {
    gid = g->gid;
  } else {
    if (freeGids_.size() != 0) {
      gid = freeGids_.back();
      freeGids_.pop_back();
      gidCount_[gid] = 0;
    } else {
      gid = gidCount_.size();
      if (gid >= kNone - 1 || !gidCount_.push_back(0)) return kSetNoMemory;
    }
    PolicyGroupSlot fresh{e.identity, mapDir, 0, gid};
    g = groups_.Insert(fresh);
    if (g == nullptr) {
      freeGids_.push_back(gid);
      return kSetNoMemory;
    }
    newGroup = true;
  }
  PolicyEntrySlot ent{gid, value, e.cookie, e.proxyPort, e.prio, e.auth};
  if (entries_.Insert(ent) == nullptr) {
    if (newGroup) {
      groups_.Erase(g);
      freeGids_.push_back(gid);
    }
    return kSetNoMemory;
  }
  g->mask |= 1u << e.prefixLen;
  gidCount_[gid]++;
  maps_[map].size++;
  SyncAnyPeer(mapDir, e.identity, g);
  return kSetOk;
}

bool PolicySetCore::Delete(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen) {
  if (!HasMap(map)) return false;
  const uint32_t mapDir = (map << 1) | (direction & 1);
  PolicyGroupSlot* g = FindGroup(mapDir, identity);
  if (g == nullptr) return false;
  PolicyEntrySlot* s = FindEntry(g->gid, KeyWord(prefixLen, protocol, port));
  if (s == nullptr) return false;
  entries_.Erase(s);
  maps_[map].size--;
  const uint32_t gid = g->gid;
  if (--gidCount_[gid] == 0) {
    groups_.Erase(g);
    freeGids_.push_back(gid);
    SyncAnyPeer(mapDir, identity, nullptr);
  } else if (++staleDeletes_ > entries_.size() / 2 + 1024) {
    RefreshMasks();
  }
  return true;
}

bool PolicySetCore::RefreshMasks() {
  const uint32_t ngid = gidCount_.size();
  TempArray<uint32_t> pos(ngid);
  if (!pos.ok()) return false;
  PolicyGroupSlot* gs = groups_.slots();
  for (uint32_t i = 0, n = groups_.capacity(); i < n; i++) {
    if (PolicyGroupOps::Empty(gs[i])) continue;
    pos[gs[i].gid] = i;
    gs[i].mask = 0;
  }
  entries_.ForEach([&](const PolicyEntrySlot& e) { gs[pos[e.gid]].mask |= 1u << KwPrefix(e.kw); });
  for (uint32_t m = 0; m < maps_.size(); m++) {
    MapInfo& mi = maps_[m];
    for (int d = 0; d < 2; d++) mi.anyMask[d] = mi.anyGid[d] != kNone ? gs[pos[mi.anyGid[d]]].mask : 0;
  }
  staleDeletes_ = 0;
  return true;
}

const PolicyEntrySlot* PolicySetCore::Get(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port,
                                          int prefixLen) const {
  if (!HasMap(map)) return nullptr;
  const PolicyGroupSlot* g = FindGroup((map << 1) | (direction & 1), identity);
  return g != nullptr ? FindEntry(g->gid, KeyWord(prefixLen, protocol, port)) : nullptr;
}

bool PolicySetCore::DumpMap(uint32_t map, uint32_t* out) const {
  if (!HasMap(map)) return false;
  if (maps_[map].size == 0) return true;
  const uint32_t ngid = gidCount_.size();
  // gid -> group slot of this map (kNone: another map's)
  TempArray<uint32_t> slotOf(ngid);
  const PolicyGroupSlot* gs = groups_.slots();
  const uint32_t limit = maps_[map].size;
  uint32_t row = 0;
  if (!slotOf.ok()) return false;
  for (uint32_t i = 0; i < ngid; i++) slotOf[i] = kNone;
  for (uint32_t i = 0, n = groups_.capacity(); i < n; i++)
    if (!PolicyGroupOps::Empty(gs[i]) && (gs[i].mapDir >> 1) == map) slotOf[gs[i].gid] = i;
  entries_.ForEach([&](const PolicyEntrySlot& e) {
    if (row >= limit || slotOf[e.gid] == kNone) return;
    const PolicyGroupSlot* g = &gs[slotOf[e.gid]];
    uint32_t* r = out + kDumpWords * row++;
    r[0] = g->identity;
    r[1] = ((g->mapDir & 1) << 31) | e.kw;
    r[2] = e.cookie;
    r[3] = static_cast<uint32_t>(e.proxyPort) | (static_cast<uint32_t>(e.prio) << 16) | (static_cast<uint32_t>(e.auth) << 24);
  });
  return true;
}

// ---------------------------------------------------------------------------------------------
// Lookups

const PolicyEntrySlot* PolicySetCore::LookupSlot(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol,
                                                 uint32_t port) const {
  if (!HasMap(map)) return nullptr;
  const PolicyGroupSlot* g = FindGroup((map << 1) | (direction & 1), identity);
  return g != nullptr ? FindInGroup(g->gid, g->mask, protocol & 0xFF, port & 0xFFFF) : nullptr;
}

namespace {

// `__policy_check(policy, policy2)`: the chosen entry's verdict; the auth type comes from the
// chosen entry, or from the other (less specific) one when that one's is greater and the chosen
// entry has no explicit auth type.
inline int32_t Check(const PolicyEntrySlot* s, const PolicyEntrySlot* other, PolicyResult* out) {
  out->entry = s;
  out->prefixLen = static_cast<uint8_t>(KwPrefix(s->kw));
  out->cookie = s->cookie;
  if ((s->kw & kKwDeny) != 0) return out->verdict = kDropPolicyDeny;
  out->proxyPort = s->proxyPort;
  uint8_t auth = s->auth;
  if (other != nullptr && other->auth > auth && (s->kw & kKwExplicitAuth) == 0) auth = other->auth;
  if (auth != 0) {
    out->authType = auth;
    return out->verdict = kDropPolicyAuthRequired;
  }
  return out->verdict = s->proxyPort > 0 ? static_cast<int32_t>(s->proxyPort) : kCtxActOk;
}

inline int32_t CheckL3(const PolicyEntrySlot* s, const PolicyEntrySlot* other, uint32_t remote, PolicyResult* out) {
  const int p = KwPrefix(s->kw);
  out->matchType = p > kLpmProtoPrefixBits ? kMatchL3L4 : p > 0 ? kMatchL3Proto : kMatchL3Only;
  out->matchedIdentity = remote;
  return Check(s, other, out);
}

inline int32_t CheckL4(const PolicyEntrySlot* s, const PolicyEntrySlot* other, PolicyResult* out) {
  const int p = KwPrefix(s->kw);
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
  out->entry = nullptr;
}

}  // namespace

// Precedence when both lookups hit (numbered as in policy.h and src/maps/policy-map.ts):
//  1. A deny is chosen: the L3 (peer) entry's deny wins at once, before the second lookup;
//     then the L4-only (identity 0) entry's deny.
//  2. The entry with the higher proxy port priority.
//  3. On equal priority, the L4-only entry only with a strictly longer proto/port prefix.
//  4. Otherwise the L3 entry.
// Nothing matched: DROP_FRAG_NOSUPPORT for an untracked fragment, else DROP_POLICY.
int32_t PolicySetCore::Decide(const PolicyEntrySlot* l3, const PolicyEntrySlot* l4, uint32_t remote, bool untrackedFragment,
                              PolicyResult* out) const {
  Reset(out);
  // 1. An L3 deny is chosen without the second lookup (l4 is ignored).
  if (l3 != nullptr && (l3->kw & kKwDeny) != 0) return CheckL3(l3, nullptr, remote, out);
  if (l4 != nullptr) {
    if (l3 == nullptr || (l4->kw & kKwDeny) != 0) return CheckL4(l4, l3, out);
    // 2. Higher proxy port priority; 3. equal priority and strictly longer prefix.
    if (l4->prio > l3->prio || (l4->prio == l3->prio && KwPrefix(l4->kw) > KwPrefix(l3->kw))) return CheckL4(l4, l3, out);
  }
  // 4. The L3 entry.
  if (l3 != nullptr) return CheckL3(l3, l4, remote, out);
  return out->verdict = untrackedFragment ? kDropFragNoSupport : kDropPolicy;
}

int32_t PolicySetCore::Lookup(uint32_t map, uint32_t remote, uint32_t direction, uint32_t protocol, uint32_t dport,
                              bool untrackedFragment, PolicyResult* out) const {
  if (!HasMap(map)) return Decide(nullptr, nullptr, remote, untrackedFragment, out);
  const uint32_t dir = direction & 1;
  const uint32_t proto = protocol & 0xFF;
  const uint32_t port = dport & 0xFFFF;
  const PolicyGroupSlot* g = FindGroup((map << 1) | dir, remote);
  const PolicyEntrySlot* l3 = g != nullptr ? FindInGroup(g->gid, g->mask, proto, port) : nullptr;
  const PolicyEntrySlot* l4 = nullptr;
  if (l3 == nullptr || (l3->kw & kKwDeny) == 0) {
    const MapInfo& mi = maps_[map];
    if (mi.anyGid[dir] != kNone) l4 = FindInGroup(mi.anyGid[dir], mi.anyMask[dir], proto, port);
  }
  return Decide(l3, l4, remote, untrackedFragment, out);
}

// ---------------------------------------------------------------------------------------------
// Batches

namespace {

struct PackedIn {
  const uint32_t* p;
  inline uint32_t Map(uint32_t i) const { return p[kPackedInWords * i]; }
  inline uint32_t Remote(uint32_t i) const { return p[kPackedInWords * i + 1]; }
  inline uint32_t Bits(uint32_t i) const { return p[kPackedInWords * i + 2]; }
};

struct PackedOut {
  int32_t* p;
  inline void Put(uint32_t i, const PolicyResult& r) {
    int32_t* o = p + kPackedOutWords * i;
    o[0] = r.verdict;
    o[1] = static_cast<int32_t>(r.cookie);
    o[2] = static_cast<int32_t>(PackInfo(r));
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
  inline void Put(uint32_t i, const PolicyResult& r) {
    verdict[i] = r.verdict;
    if (match != nullptr) match[i] = r.matchType;
    if (cookie != nullptr) cookie[i] = r.cookie;
  }
};

}  // namespace

struct PolicySetCore::Pending {
  uint32_t map, remote, bits;
  uint64_t groupHash;
  uint32_t gid, mask;
  bool valid;
};

template <class In, class Out>
uint32_t PolicySetCore::RunBatch(const In& in, Out& out, uint32_t n) const {
  constexpr uint32_t G = kBatchGroup;
  Pending pend[G];
  PolicyResult r;
  uint32_t unknown = 0;
  for (uint32_t base = 0; base < n; base += G) {
    const uint32_t k = std::min(G, n - base);
    // 1. Read the lookups; prefetch each peer group's slot.
    for (uint32_t i = 0; i < k; i++) {
      Pending& q = pend[i];
      q.map = in.Map(base + i);
      q.remote = in.Remote(base + i);
      q.bits = in.Bits(base + i);
      q.valid = HasMap(q.map);
      if (!q.valid) continue;
      q.groupHash = GroupHash((q.map << 1) | ((q.bits >> 24) & 1), q.remote);
      groups_.Prefetch(q.groupHash);
    }
    // 2. Find the groups; prefetch the first entry probe of the peer and of the any-peer group.
    for (uint32_t i = 0; i < k; i++) {
      Pending& q = pend[i];
      if (!q.valid) continue;
      const uint32_t mapDir = (q.map << 1) | ((q.bits >> 24) & 1);
      const uint32_t remote = q.remote;
      const PolicyGroupSlot* g =
          groups_.Find(q.groupHash, [=](const PolicyGroupSlot& s) { return s.identity == remote && s.mapDir == mapDir; });
      const uint32_t proto = (q.bits >> 16) & 0xFF;
      const uint32_t port = q.bits & 0xFFFF;
      if (g != nullptr) {
        q.gid = g->gid;
        q.mask = g->mask;
        if (q.mask != 0) entries_.Prefetch(EntryHash(q.gid, KeyWord(HighestBit32(q.mask), proto, port)));
      } else {
        q.gid = kNone;
        q.mask = 0;
      }
      const MapInfo& mi = maps_[q.map];
      const uint32_t dir = mapDir & 1;
      if (mi.anyGid[dir] != kNone && mi.anyMask[dir] != 0)
        entries_.Prefetch(EntryHash(mi.anyGid[dir], KeyWord(HighestBit32(mi.anyMask[dir]), proto, port)));
    }
    // 3. Resolve.
    for (uint32_t i = 0; i < k; i++) {
      const Pending& q = pend[i];
      const bool frag = ((q.bits >> 25) & 1) != 0;
      if (!q.valid) {
        unknown++;
        Decide(nullptr, nullptr, q.remote, frag, &r);
        out.Put(base + i, r);
        continue;
      }
      const uint32_t dir = (q.bits >> 24) & 1;
      const uint32_t proto = (q.bits >> 16) & 0xFF;
      const uint32_t port = q.bits & 0xFFFF;
      const PolicyEntrySlot* l3 = q.gid != kNone ? FindInGroup(q.gid, q.mask, proto, port) : nullptr;
      const PolicyEntrySlot* l4 = nullptr;
      if (l3 == nullptr || (l3->kw & kKwDeny) == 0) {
        const MapInfo& mi = maps_[q.map];
        if (mi.anyGid[dir] != kNone) l4 = FindInGroup(mi.anyGid[dir], mi.anyMask[dir], proto, port);
      }
      Decide(l3, l4, q.remote, frag, &r);
      out.Put(base + i, r);
    }
  }
  return unknown;
}

uint32_t PolicySetCore::LookupBatchPacked(const uint32_t* in, int32_t* out, uint32_t n) const {
  PackedIn i{in};
  PackedOut o{out};
  return RunBatch(i, o, n);
}

uint32_t PolicySetCore::LookupBatch(const uint32_t* mapIds, uint32_t map, const uint32_t* remotes, const uint8_t* dirs,
                                    const uint8_t* protos, const uint16_t* dports, int32_t* outVerdict, uint8_t* outMatch,
                                    uint32_t* outCookie, uint32_t n) const {
  SoaIn i{mapIds, map, remotes, dirs, protos, dports};
  SoaOut o{outVerdict, outMatch, outCookie};
  return RunBatch(i, o, n);
}

}  // namespace hubcap
