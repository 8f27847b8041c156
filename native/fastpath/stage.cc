// One policy stage of a new connection (stage.h): program.ts `Datapath.policy` over the native
// policy maps, and the binding of the endpoints' map ids.
#include "stage.h"

#include "../bindings.h"

namespace hubcap::fastpath::stage {

namespace {

// program.ts `bypass()`: passed before policy, no lookup (and so no policy-verdict event).
inline void Bypass(StageDecision* out) {
  out->bypass = true;
  out->stageVerdict = kCtxActOk;
  out->verdict = kCtxActOk;
}

}  // namespace

void PolicyDecide(const PolicySetCore& set, uint32_t mapId, uint32_t direction, uint32_t remote, const StageInput& in, StageDecision* out) {
  out->rule = -1;
  out->matchType = kMatchNone;
  out->proxyPort = 0;
  out->bypass = false;
  out->audited = false;
  int32_t port = in.dport;
  const int32_t proto = in.ipProto;
  if (proto == 1) {
    // policy.h: ICMP_DEST_UNREACH / ICMP_FRAG_NEEDED always passes (allow_icmp_frag_needed).
    if (in.icmpType == 3 && in.icmpCode == 4) return Bypass(out);
    port = in.icmpType < 0 ? 0 : in.icmpType;
  } else if (proto == 58) {
    if (IsNeighbourDiscovery(in.icmpType)) return Bypass(out);
    port = in.icmpType < 0 ? 0 : in.icmpType;
  } else if (!in.hasPorts) {
    port = 0;
  }
  // NativePolicyMap.lookup -> the bound lookup (policy_map.cc BoundLookup): every argument as
  // ToUint32, no untracked fragment.
  PolicyResult r;
  const int32_t v = set.Lookup(mapId, remote, direction, static_cast<uint32_t>(proto), static_cast<uint32_t>(port), false, &r);
  out->matchType = r.matchType;
  // `out.slot >= 0 && out.cookie > 0 ? out.cookie - 1 : -1` (slot is 0 on a hit, -1 on a miss).
  out->rule = r.hit && r.cookie > 0 ? static_cast<int64_t>(r.cookie) - 1 : -1;
  out->stageVerdict = v;
  out->verdict = v;
  if (v > 0) out->proxyPort = v;
}

bool BindPolicyTables(napi_env env, napi_value set, napi_value ids, PolicyTables* out) {
  *out = PolicyTables();
  PolicySetCore* core = UnwrapPolicySet(env, set);
  if (core == nullptr) return false;
  uint32_t* p = nullptr;
  size_t n = 0;
  if (!TypedArg(env, ids, napi_uint32_array, &p, &n)) return false;
  out->set = core;
  out->mapIds = p;
  out->endpoints = n;
  return true;
}

}  // namespace hubcap::fastpath::stage
