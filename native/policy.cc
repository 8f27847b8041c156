// Per-endpoint policy maps (policy.h): the lines of small groups, big groups' private tables,
// the LPM over proto/port and the two-lookup verdict of bpf/lib/policy.h.
#include "policy.h"

#include <algorithm>

namespace hubcap {

const uint16_t kPortMask[32] = {
    0,      0,      0,      0,      0,      0,      0,      0,       // 0..7 (only 0 is valid)
    0,                                                                // 8: protocol only
    0x8000, 0xC000, 0xE000, 0xF000, 0xF800, 0xFC00, 0xFE00, 0xFF00,  // 9..16
    0xFF80, 0xFFC0, 0xFFE0, 0xFFF0, 0xFFF8, 0xFFFC, 0xFFFE, 0xFFFF,  // 17..24
    0,      0,      0,      0,      0,      0,      0,               // 25..31 (31: big marker)
};

struct PolicySetCore::GroupScan {
  uint32_t small = 0;                        // entries of a small group
  PolicySlot* slots[kMaxSmallGroup] = {};    // where they are
  PolicySlot* exact = nullptr;               // the small entry with the key asked for
  PolicySlot* marker = nullptr;              // a big group's marker
};

PolicySetCore::PolicySetCore() : bigs_(&mem_), freeBigs_(&mem_), maps_(&mem_), freeMaps_(&mem_) {}

PolicySetCore::~PolicySetCore() {
  for (uint32_t i = 0; i < bigs_.size(); i++)
    if (bigs_[i].table != nullptr) TrackedFree(bigs_[i].table, static_cast<size_t>(bigs_[i].cap) * sizeof(PolicyValue), &mem_);
  if (lines_ != nullptr) TrackedFree(lines_, static_cast<size_t>(nlines_) * sizeof(PolicyLine), &mem_);
}

// ---------------------------------------------------------------------------------------------
// Lines

bool PolicySetCore::ReserveSlots(uint32_t n) {
  const uint64_t cap = static_cast<uint64_t>(nlines_) * PolicyLine::kSlots;
  if (static_cast<uint64_t>(n) * 20 <= cap * 17) return true;  // load <= 0.85
  const uint64_t want = static_cast<uint64_t>(n) * 10 / 6 / PolicyLine::kSlots + 1;  // load 0.6
  if (want > 0x3FFFFFFF) return false;
  PolicyLine* fresh = static_cast<PolicyLine*>(TrackedAlloc(want * sizeof(PolicyLine), &mem_));
  if (fresh == nullptr) return false;
  for (uint64_t b = 0; b < want; b++)
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++) fresh[b].slot[j].mapDir = kNone;
  PolicyLine* old = lines_;
  const uint32_t oldLines = nlines_;
  lines_ = fresh;
  nlines_ = static_cast<uint32_t>(want);
  slotsUsed_ = 0;
  for (uint32_t b = 0; b < oldLines; b++)
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++)
      if (old[b].slot[j].mapDir != kNone) PlaceSlot(old[b].slot[j]);
  if (old != nullptr) TrackedFree(old, static_cast<size_t>(oldLines) * sizeof(PolicyLine), &mem_);
  return true;
}

// Puts a slot in the first line from its home with room (ReserveSlots made sure there is room).
PolicySlot* PolicySetCore::PlaceSlot(const PolicySlot& s) {
  uint32_t b = HomeLine(GroupHash(s.mapDir, s.identity));
  for (;;) {
    PolicyLine& line = lines_[b];
    if (line.used < PolicyLine::kSlots) {
      for (uint32_t j = 0; j < PolicyLine::kSlots; j++) {
        if (line.slot[j].mapDir == kNone) {
          line.slot[j] = s;
          line.used++;
          slotsUsed_++;
          return &line.slot[j];
        }
      }
    }
    // A saturated count stays saturated: lookups then always look further, which is only slower.
    if (line.overflow != 0xFF) line.overflow++;
    if (++b == nlines_) b = 0;
  }
}

// Empties a slot; nothing moves, so other slot pointers stay valid.
void PolicySetCore::EraseSlot(PolicySlot* s) {
  const uint32_t at = static_cast<uint32_t>((reinterpret_cast<char*>(s) - reinterpret_cast<char*>(lines_)) / sizeof(PolicyLine));
  for (uint32_t b = HomeLine(GroupHash(s->mapDir, s->identity)); b != at; b = b + 1 == nlines_ ? 0 : b + 1) {
    if (lines_[b].overflow != 0xFF) lines_[b].overflow--;
  }
  s->mapDir = kNone;
  lines_[at].used--;
  slotsUsed_--;
}

void PolicySetCore::Scan(uint32_t mapDir, uint32_t identity, uint32_t kw, GroupScan* g) const {
  if (nlines_ == 0) return;
  uint32_t b = HomeLine(GroupHash(mapDir, identity));
  for (;;) {
    PolicyLine& line = lines_[b];
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++) {
      PolicySlot& s = line.slot[j];
      if (s.mapDir != mapDir || s.identity != identity) continue;
      if (KwPrefix(s.v.kw) == kBigMarkerPrefix) {
        g->marker = &s;
        continue;
      }
      if (g->small < kMaxSmallGroup) g->slots[g->small] = &s;
      g->small++;
      if ((s.v.kw & kKwKeyBits) == kw) g->exact = &s;
    }
    if (line.overflow == 0) return;
    if (++b == nlines_) b = 0;
  }
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

const PolicyValue* PolicySetCore::FindInBig(const BigGroup& b, uint32_t proto, uint32_t port) const {
  uint32_t mask = b.mask;
  while (mask != 0) {
    const int p = HighestBit32(mask);
    mask &= ~(1u << p);
    const PolicyValue* v = BigFind(b, KeyWord(p, proto, port));
    if (v != nullptr) return v;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Maps

int64_t PolicySetCore::CreateMap(uint32_t capacity) {
  MapInfo info{capacity, 0, 0, 1};
  if (freeMaps_.size() != 0) {
    const uint32_t id = freeMaps_.back();
    freeMaps_.pop_back();
    maps_[id] = info;
    return id;
  }
  if (maps_.size() >= kMaxMaps || !maps_.push_back(info)) return -1;
  return maps_.size() - 1;
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
  if (mi.size == 0) return true;
  // Erasing moves nothing, so the lines can be swept in place. A big group goes with its marker;
  // a small group when its last slot goes.
  uint32_t erasedEntries = 0;
  for (uint32_t b = 0; b < nlines_; b++) {
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++) {
      PolicySlot* s = &lines_[b].slot[j];
      if (s->mapDir == kNone || (s->mapDir >> 1) != id) continue;
      if (KwPrefix(s->v.kw) == kBigMarkerPrefix) {
        erasedEntries += bigs_[s->v.cookie].count;
        FreeBig(s->v.cookie);
        groups_--;
      } else {
        erasedEntries++;
        // A small group goes when its last slot goes: count it at the slot that is alone.
        GroupScan g;
        Scan(s->mapDir, s->identity, kNone, &g);
        if (g.small == 1) groups_--;
      }
      EraseSlot(s);
    }
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
  const PolicyValue value{kw | (e.deny ? kKwDeny : 0) | (e.explicitAuth ? kKwExplicitAuth : 0), e.cookie, e.proxyPort, e.prio, e.auth};
  GroupScan g;
  Scan(mapDir, e.identity, kw, &g);
  if (g.marker != nullptr) {
    BigGroup& b = bigs_[g.marker->v.cookie];
    PolicyValue* x = BigFind(b, kw);
    if (x != nullptr) {
      *x = value;
      return kSetOk;
    }
    if (maps_[map].size >= maps_[map].capacity) {
      maps_[map].overflow++;
      return kSetFull;
    }
    if (!BigInsert(&b, value)) return kSetNoMemory;
  } else if (g.exact != nullptr) {
    g.exact->v = value;
    return kSetOk;
  } else {
    if (maps_[map].size >= maps_[map].capacity) {
      maps_[map].overflow++;
      return kSetFull;
    }
    if (g.small < kMaxSmallGroup) {
      if (!InsertSlot(PolicySlot{e.identity, mapDir, value})) return kSetNoMemory;
      if (g.small == 0) groups_++;
    } else {
      // The group outgrows the lines: its entries and the new one move to a private table, and
      // its first slot becomes the marker (in place: nothing is inserted into the lines).
      const int64_t bi = NewBig(e.identity, mapDir);
      if (bi < 0) return kSetNoMemory;
      BigGroup* b = &bigs_[static_cast<uint32_t>(bi)];
      bool ok = true;
      for (uint32_t k = 0; k < g.small && ok; k++) ok = BigInsert(b, g.slots[k]->v);
      if (!ok || !BigInsert(b, value)) {
        FreeBig(static_cast<uint32_t>(bi));
        return kSetNoMemory;
      }
      g.slots[0]->v = PolicyValue{kKwBigMarker, static_cast<uint32_t>(bi), 0, 0, 0};
      for (uint32_t k = 1; k < g.small; k++) EraseSlot(g.slots[k]);
    }
  }
  maps_[map].size++;
  entries_++;
  return kSetOk;
}

bool PolicySetCore::Delete(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port, int prefixLen) {
  if (!HasMap(map)) return false;
  const uint32_t mapDir = (map << 1) | (direction & 1);
  const uint32_t kw = KeyWord(prefixLen, protocol, port);
  GroupScan g;
  Scan(mapDir, identity, kw, &g);
  if (g.marker != nullptr) {
    const uint32_t bi = g.marker->v.cookie;
    if (!BigErase(&bigs_[bi], kw)) return false;
    if (bigs_[bi].count == 0) {
      FreeBig(bi);
      EraseSlot(g.marker);
      groups_--;
    }
  } else {
    if (g.exact == nullptr) return false;
    EraseSlot(g.exact);
    if (g.small == 1) groups_--;
  }
  maps_[map].size--;
  entries_--;
  return true;
}

const PolicyValue* PolicySetCore::Get(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol, uint32_t port,
                                      int prefixLen) const {
  if (!HasMap(map)) return nullptr;
  const uint32_t kw = KeyWord(prefixLen, protocol, port);
  GroupScan g;
  Scan((map << 1) | (direction & 1), identity, kw, &g);
  if (g.marker != nullptr) return BigFind(bigs_[g.marker->v.cookie], kw);
  return g.exact != nullptr ? &g.exact->v : nullptr;
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
    r[2] = v.cookie;
    r[3] = static_cast<uint32_t>(v.proxyPort) | (static_cast<uint32_t>(v.prio) << 16) | (static_cast<uint32_t>(v.auth) << 24);
  };
  for (uint32_t b = 0; b < nlines_; b++) {
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++) {
      const PolicySlot& s = lines_[b].slot[j];
      if (s.mapDir == kNone || (s.mapDir >> 1) != map) continue;
      if (KwPrefix(s.v.kw) != kBigMarkerPrefix) {
        put(s.identity, s.mapDir, s.v);
        continue;
      }
      const BigGroup& big = bigs_[s.v.cookie];
      for (uint32_t i = 0; i < big.cap; i++)
        if (big.table[i].kw != kNone) put(s.identity, s.mapDir, big.table[i]);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Lookups

// The LPM of one group: every slot of its lines is compared without branches and the longest
// matching prefix kept (a small group); a big group's marker sends the lookup to its table.
const PolicyValue* PolicySetCore::FindBest(uint64_t h, uint32_t mapDir, uint32_t identity, uint32_t proto, uint32_t port) const {
  if (nlines_ == 0) return nullptr;
  uint32_t b = HomeLine(h);
  const PolicyValue* best = nullptr;
  int bestP = -1;
  for (;;) {
    const PolicyLine& line = lines_[b];
    for (uint32_t j = 0; j < PolicyLine::kSlots; j++) {
      const PolicySlot& s = line.slot[j];
      const bool mine = (s.mapDir == mapDir) & (s.identity == identity);
      const int p = KwPrefix(s.v.kw);
      if (mine & (p == kBigMarkerPrefix)) return FindInBig(bigs_[s.v.cookie], proto, port);
      const uint32_t want = p >= kLpmProtoPrefixBits ? (static_cast<uint32_t>(p) << 24) | (proto << 16) | (port & kPortMask[p]) : 0;
      const bool hit = mine & ((s.v.kw & kKwKeyBits) == want) & (p > bestP);
      best = hit ? &s.v : best;
      bestP = hit ? p : bestP;
    }
    if (line.overflow == 0) return best;
    if (++b == nlines_) b = 0;
  }
}

const PolicyValue* PolicySetCore::LookupSlot(uint32_t map, uint32_t identity, uint32_t direction, uint32_t protocol,
                                             uint32_t port) const {
  if (!HasMap(map)) return nullptr;
  const uint32_t mapDir = (map << 1) | (direction & 1);
  return FindBest(GroupHash(mapDir, identity), mapDir, identity, protocol & 0xFF, port & 0xFFFF);
}

namespace {

// `__policy_check(policy, policy2)`: the chosen entry's verdict; the auth type comes from the
// chosen entry, or from the other (less specific) one when that one's is greater and the chosen
// entry has no explicit auth type.
inline int32_t Check(const PolicyValue* s, const PolicyValue* other, PolicyResult* out) {
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

inline int32_t CheckL3(const PolicyValue* s, const PolicyValue* other, uint32_t remote, PolicyResult* out) {
  const int p = KwPrefix(s->kw);
  out->matchType = p > kLpmProtoPrefixBits ? kMatchL3L4 : p > 0 ? kMatchL3Proto : kMatchL3Only;
  out->matchedIdentity = remote;
  return Check(s, other, out);
}

inline int32_t CheckL4(const PolicyValue* s, const PolicyValue* other, PolicyResult* out) {
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
int32_t PolicySetCore::Decide(const PolicyValue* l3, const PolicyValue* l4, uint32_t remote, bool untrackedFragment,
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
  const uint32_t mapDir = (map << 1) | (direction & 1);
  const uint32_t proto = protocol & 0xFF;
  const uint32_t port = dport & 0xFFFF;
  const PolicyValue* l3 = FindBest(GroupHash(mapDir, remote), mapDir, remote, proto, port);
  const PolicyValue* l4 = nullptr;
  if (l3 == nullptr || (l3->kw & kKwDeny) == 0) l4 = FindBest(GroupHash(mapDir, 0), mapDir, 0, proto, port);
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

struct Pending {
  uint32_t map, remote, bits;
  bool valid;
  uint64_t peerHash, anyHash;
};

}  // namespace

template <class In, class Out>
uint32_t PolicySetCore::RunBatch(const In& in, Out& out, uint32_t n) const {
  // A software pipeline: lookup i + D has the home lines of its peer group and of its map's
  // any-peer group prefetched while lookup i is resolved.
  constexpr uint32_t D = kPrefetchDistance;
  Pending ring[D];
  PolicyResult r;
  uint32_t unknown = 0;
  auto start = [&](uint32_t j) {
    Pending& q = ring[j % D];
    q.map = in.Map(j);
    q.remote = in.Remote(j);
    q.bits = in.Bits(j);
    q.valid = HasMap(q.map);
    if (!q.valid) return;
    const uint32_t mapDir = (q.map << 1) | ((q.bits >> 24) & 1);
    q.peerHash = GroupHash(mapDir, q.remote);
    q.anyHash = GroupHash(mapDir, 0);
    PrefetchGroup(q.peerHash);
    PrefetchGroup(q.anyHash);
  };
  for (uint32_t j = 0; j < std::min(D, n); j++) start(j);
  for (uint32_t i = 0; i < n; i++) {
    const Pending q = ring[i % D];
    if (i + D < n) start(i + D);
    const bool frag = ((q.bits >> 25) & 1) != 0;
    if (!q.valid) {
      unknown++;
      Decide(nullptr, nullptr, q.remote, frag, &r);
      out.Put(i, r);
      continue;
    }
    const uint32_t mapDir = (q.map << 1) | ((q.bits >> 24) & 1);
    const uint32_t proto = (q.bits >> 16) & 0xFF;
    const uint32_t port = q.bits & 0xFFFF;
    const PolicyValue* l3 = FindBest(q.peerHash, mapDir, q.remote, proto, port);
    const PolicyValue* l4 = nullptr;
    if (l3 == nullptr || (l3->kw & kKwDeny) == 0) l4 = FindBest(q.anyHash, mapDir, 0, proto, port);
    Decide(l3, l4, q.remote, frag, &r);
    out.Put(i, r);
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
