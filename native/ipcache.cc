// JS class `Ipcache`: the native ipcache LPM (lpm.h) behind src/maps/native.ts NativeIpcache.
//
//   new Ipcache(capacity)
//   capacity() size() overflow() bytesAllocated()
//   upsert4(addr, plen, identity, tunnel, flags) / upsert6(w0, w1, w2, w3, plen, identity, tunnel, flags)
//       -> 1 stored, 0 full (overflow counted), -1 out of memory
//   delete4(addr, plen) / delete6(w0, w1, w2, w3, plen) -> boolean
//   clear()
//   bindLookup4([local]) -> function lookup4(addr): identity, or -1
//   bindLookup6([local]) -> function lookup6(w0, w1, w2, w3): identity, or -1
//       (over this map alone, or over this map and `local` as a node's view: the longest prefix
//       of both, local on a tie; see "Single lookups" below)
//   lookupEntry4(addr, out) / lookupEntry6(w0, w1, w2, w3, out) -> prefix length or -1;
//       out (Uint32Array >= 7) = [w0, w1, w2, w3, identity, tunnel, flags]
//   lookupBatch4(addrs: Uint32Array, out: Int32Array, n) / lookupBatch6(words: Uint32Array (4 per
//       address), out, n) -> n, or -1 for bad arguments (nothing written)
//   lookupBatchView4(local, addrs, out, n) / lookupBatchView6(local, words, out, n) -> n or -1
//   dump() -> Uint32Array, 9 words per entry: [family, w0, w1, w2, w3, plen, identity, tunnel, flags]
//
// Batch answers are identities as int32: -1 is a miss (an identity of 0xFFFFFFFF would read as
// a miss; Cilium's numeric identities stay far below 2^31).
//
// Single lookups. The datapath looks an address up once per new connection, one call at a time.
// A method of a wrapped object pays for napi_unwrap of `this` on every call (~130 ns here), and a
// map passed as an argument for napi_check_object_type_tag and another unwrap (~380 ns): a view
// lookup cost ~590 ns against ~70-100 ns in the TypeScript ipcache. So the maps to read are bound
// once: bindLookup4/6 return a plain function whose callback data holds the cores (BoundMaps), and
// a call is napi_get_cb_info, the argument reads and the lookup (~50 ns of N-API). The function
// keeps the map objects alive (they are properties of it), so the cores outlive every call.
#include "bindings.h"

namespace hubcap {

namespace {

const napi_type_tag kIpcacheTag = {0x6875626361700001ULL, 0x6970636163686531ULL};

class Ipcache : public Napi::ObjectWrap<Ipcache> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Ipcache",
                       {
                           InstanceMethod<&Ipcache::Capacity>("capacity"),
                           InstanceMethod<&Ipcache::Size>("size"),
                           InstanceMethod<&Ipcache::Overflow>("overflow"),
                           InstanceMethod<&Ipcache::BytesAllocated>("bytesAllocated"),
                           InstanceMethod<&Ipcache::Upsert4>("upsert4"),
                           InstanceMethod<&Ipcache::Upsert6>("upsert6"),
                           InstanceMethod<&Ipcache::Delete4>("delete4"),
                           InstanceMethod<&Ipcache::Delete6>("delete6"),
                           InstanceMethod<&Ipcache::Clear>("clear"),
                           InstanceMethod<&Ipcache::BindLookup4>("bindLookup4"),
                           InstanceMethod<&Ipcache::BindLookup6>("bindLookup6"),
                           InstanceMethod<&Ipcache::LookupEntry4>("lookupEntry4"),
                           InstanceMethod<&Ipcache::LookupEntry6>("lookupEntry6"),
                           InstanceMethod<&Ipcache::LookupBatch4>("lookupBatch4"),
                           InstanceMethod<&Ipcache::LookupBatch6>("lookupBatch6"),
                           InstanceMethod<&Ipcache::LookupBatchView4>("lookupBatchView4"),
                           InstanceMethod<&Ipcache::LookupBatchView6>("lookupBatchView6"),
                           InstanceMethod<&Ipcache::Dump>("dump"),
                       });
  }

  explicit Ipcache(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Ipcache>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "Ipcache(capacity): capacity must be a number").ThrowAsJavaScriptException();
      return;
    }
    const double cap = info[0].As<Napi::Number>().DoubleValue();
    if (!(cap >= 1 && cap <= 4294967295.0)) {
      Napi::RangeError::New(env, "Ipcache(capacity): capacity must be 1..2^32-1").ThrowAsJavaScriptException();
      return;
    }
    core_ = new IpcacheCore(static_cast<uint32_t>(cap));
    info.This().As<Napi::Object>().TypeTag(&kIpcacheTag);
  }

  ~Ipcache() override {
    delete core_;
    memory_.Release(Env());
  }

  IpcacheCore* core() { return core_; }

 private:
  // Tells V8 how much native memory this object holds (it changes only when a table grows).
  void Report(Napi::Env env) { memory_.Update(env, core_->bytesAllocated(), 0); }

  Napi::Value Capacity(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->capacity()); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->size()); }
  Napi::Value Overflow(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->overflow()); }
  Napi::Value BytesAllocated(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(core_->bytesAllocated()));
  }

  Napi::Value Upsert4(const Napi::CallbackInfo& info) {
    const int plen = I32Arg(info, 1);
    if (plen < 0 || plen > 32) return Napi::Number::New(info.Env(), -2);
    const int r = core_->Upsert4(U32Arg(info, 0), plen, U32Arg(info, 2), U32Arg(info, 3), static_cast<uint8_t>(U32Arg(info, 4)));
    Report(info.Env());
    return Napi::Number::New(info.Env(), r);
  }

  Napi::Value Upsert6(const Napi::CallbackInfo& info) {
    const uint32_t w[4] = {U32Arg(info, 0), U32Arg(info, 1), U32Arg(info, 2), U32Arg(info, 3)};
    const int plen = I32Arg(info, 4);
    if (plen < 0 || plen > 128) return Napi::Number::New(info.Env(), -2);
    const int r = core_->Upsert6(w, plen, U32Arg(info, 5), U32Arg(info, 6), static_cast<uint8_t>(U32Arg(info, 7)));
    Report(info.Env());
    return Napi::Number::New(info.Env(), r);
  }

  Napi::Value Delete4(const Napi::CallbackInfo& info) {
    const int plen = I32Arg(info, 1);
    const bool ok = plen >= 0 && plen <= 32 && core_->Delete4(U32Arg(info, 0), plen);
    Report(info.Env());
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value Delete6(const Napi::CallbackInfo& info) {
    const uint32_t w[4] = {U32Arg(info, 0), U32Arg(info, 1), U32Arg(info, 2), U32Arg(info, 3)};
    const int plen = I32Arg(info, 4);
    const bool ok = plen >= 0 && plen <= 128 && core_->Delete6(w, plen);
    Report(info.Env());
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value Clear(const Napi::CallbackInfo& info) {
    core_->Clear();
    Report(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value BindLookup4(const Napi::CallbackInfo& info) { return BindLookup(info, "lookup4", BoundLookup4); }
  Napi::Value BindLookup6(const Napi::CallbackInfo& info) { return BindLookup(info, "lookup6", BoundLookup6); }

  // The maps a bound lookup reads: this one, and a node's local map for a view (else null).
  struct BoundMaps {
    const IpcacheCore* shared;
    const IpcacheCore* local;
  };

  Napi::Value BindLookup(const Napi::CallbackInfo& info, const char* name, napi_callback callback) {
    Napi::Env env = info.Env();
    const IpcacheCore* local = nullptr;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      local = UnwrapIpcache(env, info[0]);
      if (local == nullptr) {
        Napi::TypeError::New(env, "bindLookup: local must be an Ipcache").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    const auto release = [](napi_env, void* data, void*) { delete static_cast<BoundMaps*>(data); };
    if (local == nullptr) return BindFunction(env, name, callback, new BoundMaps{core_, nullptr}, release, {{"shared", info.This()}});
    return BindFunction(env, name, callback, new BoundMaps{core_, local}, release, {{"shared", info.This()}, {"local", info[0]}});
  }

  static napi_value Identity(napi_env env, uint32_t identity, bool hit) {
    napi_value r;
    napi_create_double(env, hit ? static_cast<double>(identity) : -1.0, &r);
    return r;
  }

  static napi_value BoundLookup4(napi_env env, napi_callback_info info) {
    uint32_t a[1];
    const auto* m = static_cast<const BoundMaps*>(BoundArgs(env, info, a));
    const V4Slot* s = m->local != nullptr ? FindView4(*m->shared, *m->local, a[0]) : m->shared->Find4(a[0]);
    return Identity(env, s != nullptr ? s->identity : 0, s != nullptr);
  }

  static napi_value BoundLookup6(napi_env env, napi_callback_info info) {
    uint32_t w[4];
    const auto* m = static_cast<const BoundMaps*>(BoundArgs(env, info, w));
    const V6Slot* s = m->local != nullptr ? FindView6(*m->shared, *m->local, w) : m->shared->Find6(w);
    return Identity(env, s != nullptr ? s->identity : 0, s != nullptr);
  }

  Napi::Value LookupEntry4(const Napi::CallbackInfo& info) {
    size_t len = 0;
    uint32_t* out = nullptr;
    if (info.Length() < 2 || !TypedArg(info.Env(), info[1], napi_uint32_array, &out, &len) || len < 7) return Napi::Number::New(info.Env(), -1);
    const V4Slot* s = core_->Find4(U32Arg(info, 0));
    if (s == nullptr) return Napi::Number::New(info.Env(), -1);
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xFFFF;
    out[3] = s->addr;
    out[4] = s->identity;
    out[5] = s->tunnel;
    out[6] = s->flags;
    return Napi::Number::New(info.Env(), s->plen);
  }

  Napi::Value LookupEntry6(const Napi::CallbackInfo& info) {
    size_t len = 0;
    uint32_t* out = nullptr;
    if (info.Length() < 5 || !TypedArg(info.Env(), info[4], napi_uint32_array, &out, &len) || len < 7) return Napi::Number::New(info.Env(), -1);
    const uint32_t w[4] = {U32Arg(info, 0), U32Arg(info, 1), U32Arg(info, 2), U32Arg(info, 3)};
    const V6Slot* s = core_->Find6(w);
    if (s == nullptr) return Napi::Number::New(info.Env(), -1);
    memcpy(out, s->w, sizeof(s->w));
    out[4] = s->identity;
    out[5] = s->tunnel;
    out[6] = s->flags;
    return Napi::Number::New(info.Env(), s->plen);
  }

  // Reads (words per address, addresses, out, n) at argument `at`; false when they do not fit.
  static bool BatchArgs(const Napi::CallbackInfo& info, size_t at, size_t wordsPer, const uint32_t** in, int32_t** out, uint32_t* n) {
    if (info.Length() < at + 3) return false;
    size_t inLen = 0, outLen = 0;
    uint32_t* inData = nullptr;
    if (!TypedArg(info.Env(), info[at], napi_uint32_array, &inData, &inLen)) return false;
    if (!TypedArg(info.Env(), info[at + 1], napi_int32_array, out, &outLen)) return false;
    *in = inData;
    *n = U32Arg(info, at + 2);
    return static_cast<uint64_t>(*n) * wordsPer <= inLen && *n <= outLen;
  }

  Napi::Value LookupBatch4(const Napi::CallbackInfo& info) {
    const uint32_t* in;
    int32_t* out;
    uint32_t n;
    if (!BatchArgs(info, 0, 1, &in, &out, &n)) return Napi::Number::New(info.Env(), -1);
    core_->LookupBatch4(in, out, nullptr, n);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value LookupBatch6(const Napi::CallbackInfo& info) {
    const uint32_t* in;
    int32_t* out;
    uint32_t n;
    if (!BatchArgs(info, 0, 4, &in, &out, &n)) return Napi::Number::New(info.Env(), -1);
    core_->LookupBatch6(in, out, nullptr, n);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value LookupBatchView4(const Napi::CallbackInfo& info) {
    IpcacheCore* local = info.Length() > 0 ? UnwrapIpcache(info.Env(), info[0]) : nullptr;
    const uint32_t* in;
    int32_t* out;
    uint32_t n;
    if (local == nullptr || !BatchArgs(info, 1, 1, &in, &out, &n)) return Napi::Number::New(info.Env(), -1);
    LookupViewBatch4(*core_, *local, in, out, n);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value LookupBatchView6(const Napi::CallbackInfo& info) {
    IpcacheCore* local = info.Length() > 0 ? UnwrapIpcache(info.Env(), info[0]) : nullptr;
    const uint32_t* in;
    int32_t* out;
    uint32_t n;
    if (local == nullptr || !BatchArgs(info, 1, 4, &in, &out, &n)) return Napi::Number::New(info.Env(), -1);
    LookupViewBatch6(*core_, *local, in, out, n);
    return Napi::Number::New(info.Env(), n);
  }

  Napi::Value Dump(const Napi::CallbackInfo& info) {
    const uint32_t count = core_->size();
    Napi::Uint32Array rows = Napi::Uint32Array::New(info.Env(), static_cast<size_t>(count) * 9);
    uint32_t* r = rows.Data();
    uint32_t i = 0;
    core_->ForEach4([&](const V4Slot& s) {
      uint32_t* o = r + 9 * i++;
      o[0] = 4;
      o[1] = 0;
      o[2] = 0;
      o[3] = 0xFFFF;
      o[4] = s.addr;
      o[5] = s.plen;
      o[6] = s.identity;
      o[7] = s.tunnel;
      o[8] = s.flags;
    });
    core_->ForEach6([&](const V6Slot& s) {
      uint32_t* o = r + 9 * i++;
      o[0] = 6;
      memcpy(o + 1, s.w, sizeof(s.w));
      o[5] = s.plen;
      o[6] = s.identity;
      o[7] = s.tunnel;
      o[8] = s.flags;
    });
    return rows;
  }

  IpcacheCore* core_ = nullptr;
  ExternalMemory memory_;
};

}  // namespace

IpcacheCore* UnwrapIpcache(napi_env env, napi_value v) {
  Ipcache* wrap = UnwrapTagged<Ipcache>(env, v, &kIpcacheTag);
  return wrap != nullptr ? wrap->core() : nullptr;
}

void InitIpcache(Napi::Env env, Napi::Object exports) { exports.Set("Ipcache", Ipcache::Define(env)); }

}  // namespace hubcap
