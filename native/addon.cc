// The addon's one init: hubcap's native maps (ipcache LPM, policy map sets) for
// src/maps/native.ts.
//
//   Ipcache        ipcache.cc (lpm.h)
//   PolicyMapSet   policy_map.cc (policy.h)
//   bytesAllocated()  every byte the module's maps hold, all objects together
//   abiVersion     bindings.h kAbiVersion; the loader refuses another
//   sanitized      true in the AddressSanitizer/UBSan build (native/sanitize.sh)
#include "bindings.h"

namespace {

Napi::Value BytesAllocated(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(hubcap::TotalBytes()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hubcap::InitIpcache(env, exports);
  hubcap::InitPolicyMapSet(env, exports);
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
