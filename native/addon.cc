// The addon's one init: hubcap's native maps (ipcache LPM, policy map sets) for
// src/maps/native.ts.
//
//   Ipcache        ipcache.cc (lpm.h)
//   PolicyMapSet   policy_map.cc (policy.h)
//   FastPath       fastpath/ (the replay's native fast path, src/datapath/fast-path.ts)
//   fastpathTesting  the fast path's parts alone, for the differential tests
//   bytesAllocated()  every byte the module's maps hold, all objects together
//   abiVersion     bindings.h kAbiVersion; the loader refuses another
//   sanitized      true in the AddressSanitizer/UBSan build (native/sanitize.sh)
#include "bindings.h"

namespace hubcap::fastpath {
void InitFastPath(Napi::Env env, Napi::Object exports);
void InitFastDecodeTesting(Napi::Env env, Napi::Object testing);
void InitFastDedupTesting(Napi::Env env, Napi::Object testing);
void InitFastSummaryTesting(Napi::Env env, Napi::Object testing);
void InitFastStageTesting(Napi::Env env, Napi::Object testing);
void InitFastLocateTesting(Napi::Env env, Napi::Object testing);
void InitFastCtCreateTesting(Napi::Env env, Napi::Object testing);
}  // namespace hubcap::fastpath

namespace {

Napi::Value BytesAllocated(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(hubcap::TotalBytes()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hubcap::InitIpcache(env, exports);
  hubcap::InitPolicyMapSet(env, exports);
  hubcap::fastpath::InitFastPath(env, exports);
  Napi::Object testing = Napi::Object::New(env);
  hubcap::fastpath::InitFastDecodeTesting(env, testing);
  hubcap::fastpath::InitFastDedupTesting(env, testing);
  hubcap::fastpath::InitFastSummaryTesting(env, testing);
  hubcap::fastpath::InitFastStageTesting(env, testing);
  hubcap::fastpath::InitFastLocateTesting(env, testing);
  hubcap::fastpath::InitFastCtCreateTesting(env, testing);
  exports.Set("fastpathTesting", testing);
  exports.Set("bytesAllocated", Napi::Function::New<BytesAllocated>(env, "bytesAllocated"));
  exports.Set("abiVersion", Napi::Number::New(env, hubcap::kAbiVersion));
#if defined(HUBCAP_SANITIZE)
  exports.Set("sanitized", Napi::Boolean::New(env, true));
#else
  exports.Set("sanitized", Napi::Boolean::New(env, false));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(hubcap, Init)
