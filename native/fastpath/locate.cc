// LocateBind (locate.h): the locate part's tables from DatapathState's arrays and the native
// ipcache views' handles, checked once so that Locate / IdentityOf need no checks per packet.
#include "locate.h"

#include <cmath>
#include <utility>

#include "../bindings.h"

namespace hubcap::fastpath {

namespace {

// A number argument that is a u32 (an identity).
bool U32Number(napi_env env, napi_value v, uint32_t* out) {
  napi_valuetype type;
  double d = 0;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_number || napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 4294967295.0) || std::trunc(d) != d) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

}  // namespace

const char* LocateBind(napi_env env, const napi_value* argv, size_t argc, LocateTables* t) {
  *t = LocateTables();
  if (argc < 7) return "locate bind(endpointTable, endpointNode, endpointIdentity, endpointIsHost, viewHandles, world4, world6): 7 arguments";
  int32_t* slots;
  size_t slotsLength;
  int32_t* node;
  size_t nodeLength;
  uint32_t* identity;
  size_t identityLength;
  uint8_t* isHost;
  size_t isHostLength;
  if (!TypedArg(env, argv[0], napi_int32_array, &slots, &slotsLength) || !TypedArg(env, argv[1], napi_int32_array, &node, &nodeLength) ||
      !TypedArg(env, argv[2], napi_uint32_array, &identity, &identityLength) || !TypedArg(env, argv[3], napi_uint8_array, &isHost, &isHostLength)) {
    return "locate bind: endpointTable and endpointNode must be Int32Arrays, endpointIdentity a Uint32Array, endpointIsHost a Uint8Array";
  }
  if (nodeLength != identityLength || nodeLength != isHostLength || nodeLength > 0x7fffffff) {
    return "locate bind: endpointNode, endpointIdentity and endpointIsHost differ in length";
  }
  uint32_t world4;
  uint32_t world6;
  if (!U32Number(env, argv[5], &world4) || !U32Number(env, argv[6], &world6)) return "locate bind: the world identities must be u32 numbers";

  // The views: two handles per node, then two for the shared view.
  bool isArray = false;
  if (napi_is_array(env, argv[4], &isArray) != napi_ok || !isArray) return "locate bind: viewHandles must be an array";
  uint32_t handles = 0;
  napi_get_array_length(env, argv[4], &handles);
  if (handles < 2 || handles % 2 != 0) return "locate bind: viewHandles must hold a (shared, local) pair per node and one for the shared view";
  const uint32_t nodes = handles / 2 - 1;
  std::vector<ViewCores> views(nodes);
  ViewCores sharedView;
  for (uint32_t i = 0; i < handles; i++) {
    napi_value h;
    if (napi_get_element(env, argv[4], i, &h) != napi_ok) return "locate bind: cannot read viewHandles";
    const IpcacheCore* core = UnwrapIpcache(env, h);
    if (core == nullptr) return "locate bind: every viewHandles element must be a native Ipcache handle";
    ViewCores& v = i / 2 < nodes ? views[i / 2] : sharedView;
    (i % 2 == 0 ? v.shared : v.local) = core;
  }

  // The endpoint table: a power of two of slots, with an empty one (a probe ends there).
  if (slotsLength == 0 || slotsLength % kEndpointSlotWords != 0) return "locate bind: endpointTable is not a whole number of slots";
  const size_t slotCount = slotsLength / kEndpointSlotWords;
  if ((slotCount & (slotCount - 1)) != 0 || slotCount > 0x80000000u) return "locate bind: endpointTable's slot count is not a power of two";
  size_t empty = 0;
  for (size_t i = 0; i < slotCount; i++) {
    const int32_t* s = slots + i * kEndpointSlotWords;
    if (s[kSlotFamily] == 0) {
      empty++;
      continue;
    }
    if (s[kSlotFamily] != 4 && s[kSlotFamily] != 6) return "locate bind: an endpointTable slot has a family other than 0, 4 and 6";
    if (s[kSlotEndpoint] < 0 || static_cast<size_t>(s[kSlotEndpoint]) >= nodeLength) return "locate bind: an endpointTable slot names no endpoint";
  }
  if (empty == 0) return "locate bind: endpointTable has no empty slot";
  for (size_t i = 0; i < nodeLength; i++) {
    if (node[i] < -1 || (node[i] >= 0 && static_cast<uint32_t>(node[i]) >= nodes)) return "locate bind: an endpoint's node has no view";
  }

  t->endpointSlots = slots;
  t->endpointSlotMask = static_cast<uint32_t>(slotCount - 1);
  t->endpointNode = node;
  t->endpointIdentity = identity;
  t->endpointIsHost = isHost;
  t->endpointCount = static_cast<uint32_t>(nodeLength);
  t->views = std::move(views);
  t->sharedView = sharedView;
  t->worldIdentity4 = world4;
  t->worldIdentity6 = world6;
  return nullptr;
}

}  // namespace hubcap::fastpath
