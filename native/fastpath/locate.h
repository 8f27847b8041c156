// The endpoints and identities at both ends of a packet, for the fast path's new connections:
// src/datapath/program.ts Datapath.locateEndpoints and src/datapath/state.ts
// DatapathState.identityOf, on DatapathState's own arrays and the native ipcache views' cores.
//
// Mirrors: bpf/lib/eps.h (lookup_ip4_endpoint / lookup_ip6_endpoint: is the address a local
// endpoint; ipcache_lookup4/6: its identity as a node sees it, world on a miss) as hubcap's
// TypeScript does it: one endpoint table for the whole cluster (AddressTable endpointByAddress)
// and one ipcache view per node (its local entries over the shared ones).
//
// Tables (LocateBind, from DatapathState.nativeLocateTables through locateBindArgs):
//  - the endpoint table: DatapathState.nativeEndpointTable, an open-addressing table built from
//    endpointByAddress (state.ts documents the layout; EndpointSlotHash is its endpointSlotHash).
//    IPv4 addresses match on word 3 alone, as AddressTable.get keys them;
//  - endpointNode / endpointIdentity / endpointIsHost: DatapathState's arrays, read in place;
//  - per node index, the IpcacheCore pair of its NativeIpcacheView (shared, local), and the pair
//    of DatapathState.sharedView for endpoints of no known node (node -1);
//  - the world identities of both families (DatapathState.worldIdentity4/6).
//
// Lifetime: the tables hold raw pointers. The typed arrays are TypeScript's: the binder keeps them
// alive, and binds again when DatapathState answers another endpoint table (only after
// endpointByAddress changed). The IpcacheCores belong to the JS Ipcache objects of the views
// (deleted by their finalizers), which DatapathState keeps as long as it lives; the binder must
// keep the handle objects reachable as long as the tables are used. A core is never replaced
// (Ipcache.clear and every upsert change it in place), so ipcache changes (FQDN updates, tests)
// need no rebinding: every lookup reads the maps as they are now. DatapathState.generation is
// the caller's business (the conntrack entry records the generation its endpoints were located
// at; this part derives them afresh on every call).
#ifndef HUBCAP_NATIVE_FASTPATH_LOCATE_H_
#define HUBCAP_NATIVE_FASTPATH_LOCATE_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../lpm.h"
#include "packet.h"

namespace hubcap::fastpath {

// Int32 words per slot of the endpoint table (state.ts ENDPOINT_SLOT_WORDS), and the slot's words.
constexpr uint32_t kEndpointSlotWords = 8;
constexpr uint32_t kSlotFamily = 0;  // 0 empty, 4, 6
constexpr uint32_t kSlotWords = 1;   // four address words
constexpr uint32_t kSlotEndpoint = 5;

// state.ts endpointSlotHash: the same u32 arithmetic (Math.imul is a u32 multiply).
inline uint32_t EndpointSlotHash(int32_t family, const uint32_t* w) {
  uint32_t h = (w[3] ^ (family == 4 ? 0x2545f491u : 0x6a09e667u)) * 0x9e3779b1u;
  if (family != 4) {
    h = (h ^ (h >> 15) ^ w[2]) * 0x85ebca6bu;
    h = (h ^ (h >> 13) ^ w[1]) * 0xc2b2ae35u;
    h = (h ^ (h >> 16) ^ w[0]) * 0x27d4eb2fu;
  }
  return h ^ (h >> 16);
}

// A node's ipcache view: NativeIpcacheView's two maps.
struct ViewCores {
  const IpcacheCore* shared = nullptr;
  const IpcacheCore* local = nullptr;
};

struct LocateTables {
  const int32_t* endpointSlots = nullptr;
  uint32_t endpointSlotMask = 0;  // slots - 1 (a power of two of slots, at least one empty)
  const int32_t* endpointNode = nullptr;  // each -1 or a node index below views.size()
  const uint32_t* endpointIdentity = nullptr;
  const uint8_t* endpointIsHost = nullptr;
  uint32_t endpointCount = 0;
  std::vector<ViewCores> views;  // per node index
  ViewCores sharedView;          // DatapathState.sharedView (node -1)
  uint32_t worldIdentity4 = 0;
  uint32_t worldIdentity6 = 0;
};

// locateEndpoints' answer (FlowEvent's fields), plus nodeOf of both ends (program.ts nodeOf:
// -1 for no endpoint), which the stages use next.
struct LocateResult {
  int32_t srcEndpoint = -1;
  int32_t dstEndpoint = -1;
  int32_t srcNode = -1;
  int32_t dstNode = -1;
  uint32_t srcIdentity = 0;
  uint32_t dstIdentity = 0;
};

// AddressTable.get(family, words) of endpointByAddress: the endpoint index, or -1. Family 4
// matches word 3 alone; any other family is looked up as IPv6 (all four words).
inline int32_t FindEndpoint(const LocateTables& t, int32_t family, const uint32_t* w) {
  const bool v4 = family == 4;
  const int32_t tag = v4 ? 4 : 6;
  uint32_t i = EndpointSlotHash(family, w) & t.endpointSlotMask;
  for (;;) {
    const int32_t* s = t.endpointSlots + static_cast<size_t>(i) * kEndpointSlotWords;
    const int32_t f = s[kSlotFamily];
    if (f == 0) return -1;
    if (f == tag && static_cast<uint32_t>(s[kSlotWords + 3]) == w[3] &&
        (v4 || (static_cast<uint32_t>(s[kSlotWords]) == w[0] && static_cast<uint32_t>(s[kSlotWords + 1]) == w[1] &&
                static_cast<uint32_t>(s[kSlotWords + 2]) == w[2]))) {
      return s[kSlotEndpoint];
    }
    i = (i + 1) & t.endpointSlotMask;
  }
}

// DatapathState.viewOf(node) then identityOf(node, family, words): the view's longest prefix
// (NativeIpcacheView.lookup4 / lookup: lpm.h FindView4/6, local on a tie); no entry, or identity
// 0, is the family's world identity (bpf_lxc.c). Family 4 looks word 3 up; any other as IPv6.
// `node` is -1 (or any negative: the shared view) or a node index; an index past the nodes (for
// which TypeScript would throw) reads the shared view too.
inline uint32_t IdentityOf(const LocateTables& t, int32_t node, int32_t family, const uint32_t* words) {
  const ViewCores& v = node >= 0 && static_cast<size_t>(node) < t.views.size() ? t.views[static_cast<size_t>(node)] : t.sharedView;
  uint32_t id = 0;
  if (family == 4) {
    const V4Slot* s = FindView4(*v.shared, *v.local, words[3]);
    if (s != nullptr) id = s->identity;
    return id == 0 ? t.worldIdentity4 : id;
  }
  const V6Slot* s = FindView6(*v.shared, *v.local, words);
  if (s != nullptr) id = s->identity;
  return id == 0 ? t.worldIdentity6 : id;
}

// program.ts Datapath.locateEndpoints on the (translated) packet: the managed endpoints at both
// ends, and the identities to display as the deciding side sees them: an endpoint's own
// identity, otherwise the other end's node view (remote nodes are remote-node there, not host);
// a host endpoint talking to another endpoint is shown as that endpoint's node sees it.
inline void Locate(const LocateTables& t, const FastPacket& p, LocateResult* r) {
  const int32_t family = p.ipVersion;
  const int32_t s = FindEndpoint(t, family, p.src);
  const int32_t d = FindEndpoint(t, family, p.dst);
  r->srcEndpoint = s;
  r->dstEndpoint = d;
  const int32_t dstNode = d >= 0 ? t.endpointNode[d] : -1;
  const int32_t srcNode = s >= 0 ? t.endpointNode[s] : -1;
  r->srcNode = srcNode;
  r->dstNode = dstNode;
  r->srcIdentity = s >= 0 ? t.endpointIdentity[s] : IdentityOf(t, dstNode, family, p.src);
  r->dstIdentity = d >= 0 ? t.endpointIdentity[d] : IdentityOf(t, srcNode, family, p.dst);
  if (s >= 0 && t.endpointIsHost[s] != 0 && d >= 0) r->srcIdentity = IdentityOf(t, dstNode, family, p.src);
  if (d >= 0 && t.endpointIsHost[d] != 0 && s >= 0) r->dstIdentity = IdentityOf(t, srcNode, family, p.dst);
}

// Binds `t` to locateBindArgs(state.nativeLocateTables()): argv = (endpointTable: Int32Array,
// endpointNode: Int32Array, endpointIdentity: Uint32Array, endpointIsHost: Uint8Array,
// viewHandles: Ipcache handles [shared, local] per node then the shared view's, world4, world6).
// Checks types and that everything fits together (a slot count that is a power of two with an
// empty slot, endpoints below the arrays' common length, nodes below the views, tags 0/4/6), so
// the per-packet functions need no checks. Answers nullptr, or why not (`t` is then unusable).
const char* LocateBind(napi_env env, const napi_value* argv, size_t argc, LocateTables* t);

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_LOCATE_H_
