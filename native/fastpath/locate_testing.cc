// Test bindings of the locate part (exports.fastpathTesting.*): differential tests against
// program.ts locateEndpoints and DatapathState.identityOf (test/datapath/fast-locate.test.ts).
//
//   locateBind(endpointTable, endpointNode, endpointIdentity, endpointIsHost, viewHandles,
//              world4, world6) -> run
//     LocateBind (locate.h) on state.ts locateBindArgs(state.nativeLocateTables()); a TypeError
//     saying why when the arguments do not fit together. The function returned keeps every
//     argument (and each view handle) alive.
//   run(input: Uint32Array, out: Uint32Array, n: number, mode: number) -> n, or -1 (arguments
//       too short: nothing written)
//     mode 0, Locate: input has kLocateInWords words per packet [ipVersion, src0..3, dst0..3],
//       out gets kLocateOutWords [srcEndpoint, dstEndpoint, srcNode, dstNode, srcIdentity,
//       dstIdentity] (endpoints and nodes as u32: -1 is 0xffffffff).
//     mode 1, IdentityOf: input has kIdentityInWords words per query [node (u32 of an int32),
//       family, w0..3], out gets the identity.
#include <napi.h>

#include <new>

#include "../bindings.h"
#include "locate.h"
#include "packet.h"

namespace hubcap::fastpath {
namespace {

constexpr uint32_t kLocateInWords = 9;
constexpr uint32_t kLocateOutWords = 6;
constexpr uint32_t kIdentityInWords = 6;

void ReleaseTables(napi_env, void* data, void*) { delete static_cast<LocateTables*>(data); }

napi_value Run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  napi_value result;
  uint32_t* in;
  uint32_t* out;
  size_t inLength;
  size_t outLength;
  uint32_t n = 0;
  int32_t mode = 0;
  if (argc < 4 || data == nullptr || !TypedArg(env, argv[0], napi_uint32_array, &in, &inLength) ||
      !TypedArg(env, argv[1], napi_uint32_array, &out, &outLength) || napi_get_value_uint32(env, argv[2], &n) != napi_ok ||
      napi_get_value_int32(env, argv[3], &mode) != napi_ok || (mode != 0 && mode != 1)) {
    napi_throw_type_error(env, nullptr, "locate run(input: Uint32Array, out: Uint32Array, n, mode 0 | 1)");
    return nullptr;
  }
  const LocateTables& t = *static_cast<const LocateTables*>(data);
  const uint64_t inWords = mode == 0 ? kLocateInWords : kIdentityInWords;
  const uint64_t outWords = mode == 0 ? kLocateOutWords : 1;
  if (static_cast<uint64_t>(n) * inWords > inLength || static_cast<uint64_t>(n) * outWords > outLength) {
    napi_create_int32(env, -1, &result);
    return result;
  }
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t* q = in + i * inWords;
    if (mode == 0) {
      FastPacket p;
      p.ipVersion = static_cast<int32_t>(q[0]);
      for (int k = 0; k < 4; k++) {
        p.src[k] = q[1 + k];
        p.dst[k] = q[5 + k];
      }
      LocateResult r;
      Locate(t, p, &r);
      uint32_t* o = out + i * kLocateOutWords;
      o[0] = static_cast<uint32_t>(r.srcEndpoint);
      o[1] = static_cast<uint32_t>(r.dstEndpoint);
      o[2] = static_cast<uint32_t>(r.srcNode);
      o[3] = static_cast<uint32_t>(r.dstNode);
      o[4] = r.srcIdentity;
      o[5] = r.dstIdentity;
    } else {
      out[i] = IdentityOf(t, static_cast<int32_t>(q[0]), static_cast<int32_t>(q[1]), q + 2);
    }
  }
  napi_create_uint32(env, n, &result);
  return result;
}

Napi::Value LocateBindBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr size_t kArgs = 7;
  napi_value argv[kArgs];
  const size_t argc = info.Length() < kArgs ? info.Length() : kArgs;
  for (size_t i = 0; i < argc; i++) argv[i] = info[i];
  auto* t = new (std::nothrow) LocateTables();
  if (t == nullptr) {
    Napi::RangeError::New(env, "locateBind: out of memory").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (const char* why = LocateBind(env, argv, argc, t)) {
    delete t;
    Napi::TypeError::New(env, why).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Every argument, and a copy of the handle list (the caller's array may change).
  Napi::Array keep = Napi::Array::New(env, kArgs);
  for (size_t i = 0; i < kArgs; i++) keep.Set(static_cast<uint32_t>(i), info[i]);
  Napi::Array src = info[4].As<Napi::Array>();
  Napi::Array handles = Napi::Array::New(env, src.Length());
  for (uint32_t i = 0; i < src.Length(); i++) handles.Set(i, src.Get(i));
  return BindFunction(env, "locate", Run, t, ReleaseTables, {{"arrays", keep}, {"handles", handles}});
}

}  // namespace

void InitFastLocateTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("locateBind", Napi::Function::New<LocateBindBinding>(env, "locateBind"));
  testing.Set("locateInWords", Napi::Number::New(env, kLocateInWords));
  testing.Set("locateOutWords", Napi::Number::New(env, kLocateOutWords));
  testing.Set("identityInWords", Napi::Number::New(env, kIdentityInWords));
}

}  // namespace hubcap::fastpath
