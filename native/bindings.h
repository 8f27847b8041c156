// The N-API side of the addon: helpers shared by the binding files and the way other native
// code reaches the maps behind JS objects.
//
// Native boundary (style.md): JS owns the API. src/maps/native.ts validates arguments and turns
// statuses into errors; the functions here still check types cheaply (a wrong type answers a
// status, or throws a TypeError outside the hot calls) so a bad call never reads wild memory.
// Typed arrays cross unconverted, read with one napi_get_typedarray_info each.
#ifndef HUBCAP_NATIVE_BINDINGS_H_
#define HUBCAP_NATIVE_BINDINGS_H_

#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "lpm.h"
#include "policy.h"

namespace hubcap {

// Bump when the JS-visible API changes; src/maps/native.ts refuses an addon of another version.
constexpr uint32_t kAbiVersion = 2;

// A TypeError / RangeError with `message`, answering nullptr (for `return ThrowType(...)`).
inline napi_value ThrowType(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}
inline napi_value ThrowRange(napi_env env, const char* message) {
  napi_throw_range_error(env, nullptr, message);
  return nullptr;
}

// A number argument: false for any other type (no coercion).
inline bool NumberArg(napi_env env, napi_value v, double* out) {
  napi_valuetype type;
  return napi_typeof(env, v, &type) == napi_ok && type == napi_number && napi_get_value_double(env, v, out) == napi_ok;
}

// Reads a typed array of the expected element type: false for anything else. An empty array
// may have a null data pointer (its length is then 0).
template <class T>
inline bool TypedArg(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* length) {
  napi_typedarray_type type;
  void* p = nullptr;
  napi_value buffer;
  size_t offset;
  *data = nullptr;
  *length = 0;
  if (napi_get_typedarray_info(env, v, &type, length, &p, &buffer, &offset) != napi_ok || type != want) {
    *length = 0;
    return false;
  }
  *data = static_cast<T*>(p);
  return true;
}

// A u32 argument (numbers are taken as uint32 the way `x >>> 0` does for integers in range).
inline uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) return 0;
  napi_value v = info[i];
  uint32_t out = 0;
  if (napi_get_value_uint32(info.Env(), v, &out) != napi_ok) return 0;
  return out;
}

inline int32_t I32Arg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) return 0;
  int32_t out = 0;
  if (napi_get_value_int32(info.Env(), info[i], &out) != napi_ok) return 0;
  return out;
}

// Single calls on the hot path go through plain functions, not methods of the wrapped objects: a
// method pays for napi_unwrap of `this` on every call (~130 ns on this VM, against ~50 ns for the
// whole call of a plain function). BindFunction makes such a function: `callback` gets `data`
// through napi_get_cb_info; `release`, when given, frees `data` once the function is collected;
// the objects in `keep` become properties of the function, so whatever `data` points into stays
// alive as long as anyone can call it.
inline Napi::Value BindFunction(Napi::Env env, const char* name, napi_callback callback, void* data, napi_finalize release,
                                std::initializer_list<std::pair<const char*, Napi::Value>> keep) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, data, &fn) != napi_ok ||
      (release != nullptr && napi_add_finalizer(env, fn, data, release, nullptr, nullptr) != napi_ok)) {
    if (release != nullptr) release(env, data, nullptr);
    Napi::Error::New(env, std::string(name) + ": cannot create the bound function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Function bound(env, fn);
  for (const auto& [key, value] : keep) bound.Set(key, value);
  return bound;
}

// The callback data of a bound function, and its first N arguments read as U32Arg reads them (a
// missing or non-number one is 0).
template <size_t N>
inline void* BoundArgs(napi_env env, napi_callback_info info, uint32_t (&out)[N]) {
  size_t argc = N;
  napi_value argv[N];
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  for (size_t i = 0; i < N; i++) {
    if (i >= argc || napi_get_value_uint32(env, argv[i], &out[i]) != napi_ok) out[i] = 0;
  }
  return data;
}

// The native bytes a wrapped map has told V8 about (AdjustExternalMemory), so the GC weighs a
// small JS object that holds megabytes. Update reports the current count once it has moved by at
// least `step` bytes since the last report (each report is a call into V8); Release takes the
// whole report back when the object goes.
class ExternalMemory {
 public:
  void Update(Napi::Env env, size_t bytes, int64_t step) {
    const int64_t now = static_cast<int64_t>(bytes);
    const int64_t delta = now - reported_;
    if (delta != 0 && (delta >= step || -delta >= step)) {
      Napi::MemoryManagement::AdjustExternalMemory(env, delta);
      reported_ = now;
    }
  }
  void Release(Napi::Env env) {
    if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_);
    reported_ = 0;
  }

 private:
  int64_t reported_ = 0;
};

// The wrapper behind a JS object when the object carries `tag` (set by its constructor), else
// nullptr: a plain object, or another class's, is never reinterpreted.
template <class Wrap>
inline Wrap* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_object) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, tag, &tagged) != napi_ok || !tagged) return nullptr;
  return Wrap::Unwrap(Napi::Object(env, v));
}

// The core behind a JS Ipcache / PolicyMapSet object (checked by type tag), or nullptr.
IpcacheCore* UnwrapIpcache(napi_env env, napi_value v);
PolicySetCore* UnwrapPolicySet(napi_env env, napi_value v);

// Module parts; each adds its exports.
void InitIpcache(Napi::Env env, Napi::Object exports);
void InitPolicyMapSet(Napi::Env env, Napi::Object exports);

}  // namespace hubcap

#endif  // HUBCAP_NATIVE_BINDINGS_H_
