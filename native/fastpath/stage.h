// One policy stage of a NEW connection's forward packet, native: the decision of
// src/datapath/program.ts `Datapath.policy` (audit off) over the native policy maps, and the
// connection cache's `find` / `stage` / `claim` / `setStage` (src/datapath/conn-cache.ts)
// without growth, for the fast path's new-connection step (notes/newconn-spec.md, component C).
//
// Mirrors: program.ts `policy` (bpf/lib/policy.h: ICMPv4 frag-needed passes before any lookup,
// ICMPv6 neighbour discovery too, the ICMP type is the policy key's port, a packet without ports
// looks up port 0) and the tail of `stagePolicy` (find, claim on a miss, setStage), word for word
// on ConnectionCache's own Int32Array (conn_cache.h reads the same rows for established packets:
// StagePlainAllow).
//
// Deliberate differences: none in what is computed. Audit mode is not handled (the fast path
// leaves audit runs to TypeScript), so `audited` is always false and stageVerdict == verdict. The
// connection cache never grows here: CanClaim says whether `claim` would grow it, and then the
// packet is left to TypeScript, which grows it.
//
// Layers (style.md): PolicyDecide takes the set and a map id; StagePolicy binds the per-endpoint
// map ids of a PolicyTables. The cache functions take the rows (conncache::Rows).
#ifndef HUBCAP_NATIVE_FASTPATH_STAGE_H_
#define HUBCAP_NATIVE_FASTPATH_STAGE_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "../policy.h"
#include "conn_cache.h"
#include "packet.h"

namespace hubcap::fastpath::stage {

// program.ts STAGE_EGRESS / STAGE_INGRESS.
constexpr int kStageEgress = 0;
constexpr int kStageIngress = 1;

// DecodedPacket.vni of a packet that is not a tunnel's inner packet (the `remote` setStage is
// given as p.vni, and keeps, for every packet).
constexpr int32_t kNoVni = -1;

// A NativePolicyMap id that names no map: a disposed map's lookups pass -1 (as u32), answered
// as an empty map (native.ts NativePolicyMap.lookup).
constexpr uint32_t kNoMap = 0xFFFFFFFFu;

// conn-cache.ts MAX_ROWS: the table stops growing there.
constexpr uint32_t kMaxRows = 1u << 18;

// Per stage flags of conn-cache.ts (shifted by 4 * stage); conn_cache.h has the ones it reads.
constexpr int32_t kFStage = 2;
constexpr int32_t kFBypass = 4;
constexpr int32_t kFAudited = 8;
constexpr int32_t kFFromVni = 16;
constexpr int32_t kStageFlags = kFStage | kFBypass | kFAudited | kFFromVni;
// Words of a stage's block (conn-cache.ts S_*), from kStageBase + stage * kStageWords.
constexpr int kStageWords = 6;
constexpr int kSMatch = 3;
constexpr int kSRule = 4;
constexpr int kSRemote = 5;

// The packet fields `Datapath.policy` reads besides the endpoint, direction and remote identity.
struct StageInput {
  int32_t ipProto = 0;
  bool hasPorts = false;
  int32_t dport = 0;
  int32_t icmpType = -1;
  int32_t icmpCode = -1;
};

inline StageInput InputOf(const FastPacket& p) {
  StageInput in;
  in.ipProto = p.ipProto;
  in.hasPorts = p.hasPorts != 0;
  in.dport = p.dport;
  in.icmpType = p.icmpType;
  in.icmpCode = p.icmpCode;
  return in;
}

// conn_cache.h PolicyInputKey of the same fields (the key a stage's cached outcome is filed under).
inline int32_t InputKey(const StageInput& in) { return conncache::PolicyInputKey(in.ipProto, in.hasPorts, in.dport, in.icmpType, in.icmpCode); }

// What `Datapath.policy` leaves in the program's stage fields, and what conn-cache.ts
// CachedStage keeps of it.
struct StageDecision {
  int32_t verdict = 0;       // policy()'s return: 0 (CTX_ACT_OK), a drop reason < 0, or a proxy port > 0
  int32_t stageVerdict = 0;  // this.stageVerdict (the lookup's own verdict; == verdict with audit off)
  int32_t matchType = 0;     // this.stageMatch (POLICY_MATCH_*)
  // this.stageRule: cookie - 1 when an entry matched and its cookie is > 0, else -1. A JS number
  // (a cookie is a u32), so wider than the int32 the cache keeps (ToInt32 there).
  int64_t rule = -1;
  int32_t proxyPort = 0;  // this.stageProxy: the verdict when > 0, else 0
  bool bypass = false;    // this.stageBypass: passed before any lookup (frag-needed, neighbour discovery)
  bool audited = false;   // audit mode let a drop through: never here (audit off)
};

// The endpoints' policy maps: the set (unwrapped from NativePolicyMapSet.handle) and per endpoint
// its map's id (DatapathState.nativePolicyMaps().ids: NativePolicyMap.id, kNoMap when disposed).
// Both are TypeScript's; the ids array must be rebound when the state's maps change (a
// replacePolicyMap bumps the generation).
struct PolicyTables {
  const PolicySetCore* set = nullptr;
  const uint32_t* mapIds = nullptr;
  size_t endpoints = 0;
};

// Reads `set` (a JS PolicyMapSet, checked by type tag) and `ids` (a Uint32Array) into *out; false
// (and *out emptied) for anything else. The caller keeps both JS objects alive while *out is used.
bool BindPolicyTables(napi_env env, napi_value set, napi_value ids, PolicyTables* out);

// program.ts `isNeighbourDiscovery`: ICMPv6 types 133..137 (RFC 4861).
inline bool IsNeighbourDiscovery(int32_t type) { return type >= 133 && type <= 137; }

// program.ts `Datapath.policy(endpoint, direction, remote, p)` with audit off, over map `mapId`
// of `set`: `direction` is the policy key's (1 egress, 0 ingress), `remote` the remote identity.
void PolicyDecide(const PolicySetCore& set, uint32_t mapId, uint32_t direction, uint32_t remote, const StageInput& in, StageDecision* out);

// The policy key direction of a stage (program.ts: `stage === STAGE_EGRESS ? 1 : 0`).
inline uint32_t DirectionOf(int stage) { return stage == kStageEgress ? 1u : 0u; }

// PolicyDecide for `endpoint`'s map at `stage`; false (nothing computed) when the tables are not
// bound or `endpoint` has no entry in them.
inline bool StagePolicy(const PolicyTables& t, int32_t endpoint, int stage, uint32_t remote, const StageInput& in, StageDecision* out) {
  if (t.set == nullptr || endpoint < 0 || static_cast<size_t>(endpoint) >= t.endpoints) return false;
  PolicyDecide(*t.set, t.mapIds[endpoint], DirectionOf(stage), remote, in, out);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The connection cache (conn-cache.ts ConnectionCache) over its rows. Connection ids are the
// conntrack's int32 numbers: `id / 2^32 | 0` is 0 for all of them, so ID_HI is always 0.

// ConnectionCache.find(id, gen): the row offset, or -1. Unlike conncache::Find (the established
// path, which only sees ids > 0), exactly TypeScript's for every int32 id.
inline int64_t FindRow(const conncache::Rows& c, int32_t id, int32_t gen) {
  const size_t o = static_cast<size_t>(static_cast<uint32_t>(id) & c.mask) * conncache::kStride;
  const int32_t* r = c.rows + o;
  if (r[conncache::kIdLo] != id || r[conncache::kIdHi] != 0 || r[conncache::kGen] != gen) return -1;
  return static_cast<int64_t>(o);
}

// True when ConnectionCache.claim(id, ...) would not grow the table (`id > mask && mask + 1 <
// MAX_ROWS` grows it). Read-only.
inline bool CanClaim(const conncache::Rows& c, int32_t id) {
  return !(id > static_cast<int64_t>(c.mask) && static_cast<uint64_t>(c.mask) + 1 < kMaxRows);
}

// ConnectionCache.claim(id, gen) when CanClaim(c, id): takes the row, no facts yet; its offset.
inline int64_t Claim(const conncache::Rows& c, int32_t id, int32_t gen) {
  const size_t o = static_cast<size_t>(static_cast<uint32_t>(id) & c.mask) * conncache::kStride;
  int32_t* r = c.rows + o;
  r[conncache::kIdLo] = id;
  r[conncache::kIdHi] = 0;
  r[conncache::kGen] = gen;
  r[conncache::kFlags] = 0;
  return static_cast<int64_t>(o);
}

// ConnectionCache.stage(o, stage, key, fromVni, remote, out): the cached outcome of `stage` for
// these inputs into *out (proxyPort as stagePolicy derives it on a hit); false on a miss.
inline bool CachedStage(const conncache::Rows& c, int64_t o, int stage, int32_t key, bool fromVni, int32_t remote, StageDecision* out) {
  const int32_t* r = c.rows + o;
  const uint32_t flags = static_cast<uint32_t>(r[conncache::kFlags]) >> (4 * stage);
  const int32_t* b = r + conncache::kStageBase + stage * kStageWords;
  if ((flags & kFStage) == 0 || b[conncache::kSKey] != key || ((flags & kFFromVni) != 0) != fromVni) return false;
  if (fromVni && b[kSRemote] != remote) return false;
  out->verdict = b[conncache::kSVerdict];
  out->stageVerdict = b[conncache::kSStageVerdict];
  out->matchType = b[kSMatch];
  out->rule = b[kSRule];
  out->proxyPort = out->verdict > 0 ? out->verdict : 0;
  out->bypass = (flags & kFBypass) != 0;
  out->audited = (flags & kFAudited) != 0;
  return true;
}

// ConnectionCache.setStage(o, stage, key, fromVni, remote, d): `remote` is what the program
// passes, p.vni (kNoVni for a packet that is not a tunnel's inner packet).
inline void SetStage(const conncache::Rows& c, int64_t o, int stage, int32_t key, bool fromVni, int32_t remote, const StageDecision& d) {
  int32_t* r = c.rows + o;
  int32_t* b = r + conncache::kStageBase + stage * kStageWords;
  b[conncache::kSKey] = key;
  b[conncache::kSVerdict] = d.verdict;
  b[conncache::kSStageVerdict] = d.stageVerdict;
  b[kSMatch] = d.matchType;
  b[kSRule] = static_cast<int32_t>(static_cast<uint32_t>(d.rule));  // ToInt32, as the Int32Array store
  b[kSRemote] = remote;
  const uint32_t flags = static_cast<uint32_t>(kFStage | (d.bypass ? kFBypass : 0) | (d.audited ? kFAudited : 0) | (fromVni ? kFFromVni : 0));
  const uint32_t shift = 4u * static_cast<uint32_t>(stage);
  r[conncache::kFlags] = static_cast<int32_t>((static_cast<uint32_t>(r[conncache::kFlags]) & ~(static_cast<uint32_t>(kStageFlags) << shift)) | (flags << shift));
}

// The end of `Datapath.stagePolicy` after `policy` decided: the connection's row (find, or claim
// on a miss) and setStage into it; the row's offset. Call only when FindRow(c, id, gen) >= 0 or
// CanClaim(c, id) (checked before any write, so the packet could still go to TypeScript).
inline int64_t RecordStage(const conncache::Rows& c, int32_t id, int32_t gen, int stage, int32_t key, bool fromVni, int32_t remote,
                           const StageDecision& d) {
  int64_t o = FindRow(c, id, gen);
  if (o < 0) o = Claim(c, id, gen);
  SetStage(c, o, stage, key, fromVni, remote, d);
  return o;
}

}  // namespace hubcap::fastpath::stage

#endif  // HUBCAP_NATIVE_FASTPATH_STAGE_H_
