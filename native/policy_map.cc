// JS class `PolicyMapSet`: many per-endpoint policy maps (policy.h) behind src/maps/native.ts
// NativePolicyMapSet / NativePolicyMap.
//
//   new PolicyMapSet()
//   createMap(capacity) -> id (>= 0), -1 out of memory
//   deleteMap(id) clearMap(id) hasMap(id) -> boolean
//   mapSize(id) mapCapacity(id) mapOverflow(id) -> number (-1 for an unknown map)
//   totalEntries() totalGroups() bigGroups() bytesAllocated()
//   bindScratch(Uint32Array >= 8): the array the single-entry calls below write into (kept)
//   set(map, identity, dir, proto, port, plen, flags (1 deny | 2 explicit auth), proxyPort, prio,
//       auth, cookie) -> 1 stored, 0 full (overflow counted), -1 out of memory, -2 unknown map,
//       -3 bad prefix length
//   delete(map, identity, dir, proto, port, plen) -> boolean
//   get(map, identity, dir, proto, port, plen) / lookupSlot(map, identity, dir, proto, port)
//       -> boolean; scratch[0..3] = the entry as a dump row
//   bindLookup() -> function lookup(map, remote, dir, proto, dport, untrackedFragment (0 | 1)):
//       verdict; scratch[0..4] = [verdict, cookie, info, matchedIdentity, 0 when an entry matched
//       or 0xFFFFFFFF]. A plain function bound to this set (bindings.h BindFunction: a method
//       would pay for napi_unwrap on every call), for the datapath's one lookup at a time.
//   lookupBatchPacked(in: Uint32Array, out: Int32Array, n) -> lookups naming an unknown map, or
//       -1 for bad arguments (nothing written); layout in policy.h (3 words in, 3 out)
//   lookupBatch(mapIds: Uint32Array | mapId, remotes: Uint32Array, dirs: Uint8Array,
//       protos: Uint8Array, dports: Uint16Array, outVerdict: Int32Array, outMatch: Uint8Array |
//       null, outCookie: Uint32Array | null, n) -> the same
//   dumpMap(id) -> Uint32Array of rows (policy.h kDumpWords), or undefined
//   PolicyMapSet.batchSimd() -> "avx512" | "avx2" | "portable": the build of the batch loop in
//       use (every set); PolicyMapSet.batchSimd("avx512" | "avx2" | "portable") switches it
//       (tests compare them), false when the CPU lacks the instructions
#include "bindings.h"

namespace hubcap {

namespace {

const napi_type_tag kPolicySetTag = {0x6875626361700002ULL, 0x706f6c6963797331ULL};

// Valid proto/port prefix lengths: 0 and 8..24.
inline bool ValidPrefix(int p) { return p == 0 || (p >= 8 && p <= 24); }

class PolicyMapSet : public Napi::ObjectWrap<PolicyMapSet> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PolicyMapSet",
                       {
                           InstanceMethod<&PolicyMapSet::CreateMap>("createMap"),
                           InstanceMethod<&PolicyMapSet::DeleteMap>("deleteMap"),
                           InstanceMethod<&PolicyMapSet::ClearMap>("clearMap"),
                           InstanceMethod<&PolicyMapSet::HasMap>("hasMap"),
                           InstanceMethod<&PolicyMapSet::MapSize>("mapSize"),
                           InstanceMethod<&PolicyMapSet::MapCapacity>("mapCapacity"),
                           InstanceMethod<&PolicyMapSet::MapOverflow>("mapOverflow"),
                           InstanceMethod<&PolicyMapSet::TotalEntries>("totalEntries"),
                           InstanceMethod<&PolicyMapSet::TotalGroups>("totalGroups"),
                           InstanceMethod<&PolicyMapSet::BytesAllocated>("bytesAllocated"),
                           InstanceMethod<&PolicyMapSet::BigGroups>("bigGroups"),
                           InstanceMethod<&PolicyMapSet::BindScratch>("bindScratch"),
                           InstanceMethod<&PolicyMapSet::Set>("set"),
                           InstanceMethod<&PolicyMapSet::Delete>("delete"),
                           InstanceMethod<&PolicyMapSet::Get>("get"),
                           InstanceMethod<&PolicyMapSet::LookupSlot>("lookupSlot"),
                           InstanceMethod<&PolicyMapSet::BindLookup>("bindLookup"),
                           InstanceMethod<&PolicyMapSet::LookupBatchPacked>("lookupBatchPacked"),
                           InstanceMethod<&PolicyMapSet::LookupBatch>("lookupBatch"),
                           InstanceMethod<&PolicyMapSet::DumpMap>("dumpMap"),
                           StaticMethod<&PolicyMapSet::BatchSimd>("batchSimd"),
                       });
  }

  explicit PolicyMapSet(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PolicyMapSet>(info) {
    core_ = new PolicySetCore();
    info.This().As<Napi::Object>().TypeTag(&kPolicySetTag);
  }

  ~PolicyMapSet() override {
    delete core_;
    memory_.Release(Env());
  }

  PolicySetCore* core() { return core_; }

 private:
  // Reported in steps of 1 MiB: blocks come and go with every set(), which would otherwise
  // cross into V8 each time.
  void Report(Napi::Env env) { memory_.Update(env, core_->bytesAllocated(), 1 << 20); }

  static Napi::Value Num(const Napi::CallbackInfo& info, double v) { return Napi::Number::New(info.Env(), v); }
  static Napi::Value Bool(const Napi::CallbackInfo& info, bool v) { return Napi::Boolean::New(info.Env(), v); }

  Napi::Value CreateMap(const Napi::CallbackInfo& info) {
    const uint32_t cap = U32Arg(info, 0);
    if (cap == 0) return Num(info, -2);
    const int64_t id = core_->CreateMap(cap);
    Report(info.Env());
    return Num(info, static_cast<double>(id));
  }
  Napi::Value DeleteMap(const Napi::CallbackInfo& info) {
    const bool ok = core_->DeleteMap(U32Arg(info, 0));
    Report(info.Env());
    return Bool(info, ok);
  }
  Napi::Value ClearMap(const Napi::CallbackInfo& info) {
    const bool ok = core_->ClearMap(U32Arg(info, 0));
    Report(info.Env());
    return Bool(info, ok);
  }
  Napi::Value HasMap(const Napi::CallbackInfo& info) { return Bool(info, core_->HasMap(U32Arg(info, 0))); }
  Napi::Value MapSize(const Napi::CallbackInfo& info) {
    const uint32_t id = U32Arg(info, 0);
    return Num(info, core_->HasMap(id) ? core_->MapSize(id) : -1.0);
  }
  Napi::Value MapCapacity(const Napi::CallbackInfo& info) {
    const uint32_t id = U32Arg(info, 0);
    return Num(info, core_->HasMap(id) ? core_->MapCapacity(id) : -1.0);
  }
  Napi::Value MapOverflow(const Napi::CallbackInfo& info) {
    const uint32_t id = U32Arg(info, 0);
    return Num(info, core_->HasMap(id) ? core_->MapOverflow(id) : -1.0);
  }
  Napi::Value TotalEntries(const Napi::CallbackInfo& info) { return Num(info, core_->TotalEntries()); }
  Napi::Value TotalGroups(const Napi::CallbackInfo& info) { return Num(info, core_->TotalGroups()); }
  Napi::Value BytesAllocated(const Napi::CallbackInfo& info) { return Num(info, static_cast<double>(core_->bytesAllocated())); }
  Napi::Value BigGroups(const Napi::CallbackInfo& info) { return Num(info, core_->BigGroups()); }

  Napi::Value BindScratch(const Napi::CallbackInfo& info) {
    size_t len = 0;
    uint32_t* p = nullptr;
    if (info.Length() < 1 || !TypedArg(info.Env(), info[0], napi_uint32_array, &p, &len) || len < 8) return Bool(info, false);
    scratchRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    scratch_ = p;
    return Bool(info, true);
  }

  Napi::Value Set(const Napi::CallbackInfo& info) {
    PolicyEntryArgs e;
    const uint32_t map = U32Arg(info, 0);
    e.identity = U32Arg(info, 1);
    e.direction = U32Arg(info, 2) & 1;
    e.protocol = U32Arg(info, 3) & 0xFF;
    e.port = U32Arg(info, 4) & 0xFFFF;
    e.prefixLen = I32Arg(info, 5);
    if (!ValidPrefix(e.prefixLen)) return Num(info, -3);
    const uint32_t flags = U32Arg(info, 6);
    e.deny = (flags & 1) != 0;
    e.explicitAuth = (flags & 2) != 0;
    e.proxyPort = static_cast<uint16_t>(U32Arg(info, 7));
    e.prio = static_cast<uint8_t>(U32Arg(info, 8));
    e.auth = static_cast<uint8_t>(U32Arg(info, 9) & 0x7F);
    e.cookie = U32Arg(info, 10);
    const int r = core_->Set(map, e);
    Report(info.Env());
    return Num(info, r);
  }

  Napi::Value Delete(const Napi::CallbackInfo& info) {
    const int plen = I32Arg(info, 5);
    if (!ValidPrefix(plen)) return Bool(info, false);
    const bool ok = core_->Delete(U32Arg(info, 0), U32Arg(info, 1), U32Arg(info, 2), U32Arg(info, 3), U32Arg(info, 4), plen);
    Report(info.Env());
    return Bool(info, ok);
  }

  // The dump row of an entry whose group is (identity, direction).
  void WriteRow(uint32_t identity, uint32_t direction, const PolicyValue& s) {
    scratch_[0] = identity;
    scratch_[1] = ((direction & 1) << 31) | s.kw;
    scratch_[2] = s.v.cookie;
    scratch_[3] = static_cast<uint32_t>(s.v.proxyPort) | (static_cast<uint32_t>(s.v.prio) << 16) | (static_cast<uint32_t>(s.v.auth) << 24);
  }

  Napi::Value Get(const Napi::CallbackInfo& info) {
    const int plen = I32Arg(info, 5);
    if (scratch_ == nullptr || !ValidPrefix(plen)) return Bool(info, false);
    const uint32_t identity = U32Arg(info, 1);
    const uint32_t dir = U32Arg(info, 2) & 1;
    PolicyValue s;
    if (!core_->Get(U32Arg(info, 0), identity, dir, U32Arg(info, 3), U32Arg(info, 4), plen, &s)) return Bool(info, false);
    WriteRow(identity, dir, s);
    return Bool(info, true);
  }

  Napi::Value LookupSlot(const Napi::CallbackInfo& info) {
    if (scratch_ == nullptr) return Bool(info, false);
    const uint32_t identity = U32Arg(info, 1);
    const uint32_t dir = U32Arg(info, 2) & 1;
    PolicyValue s;
    if (!core_->LookupSlot(U32Arg(info, 0), identity, dir, U32Arg(info, 3), U32Arg(info, 4), &s)) return Bool(info, false);
    WriteRow(identity, dir, s);
    return Bool(info, true);
  }

  Napi::Value BindLookup(const Napi::CallbackInfo& info) {
    return BindFunction(info.Env(), "lookup", BoundLookup, this, nullptr, {{"set", info.This()}});
  }

  static napi_value BoundLookup(napi_env env, napi_callback_info info) {
    uint32_t a[6];
    auto* self = static_cast<PolicyMapSet*>(BoundArgs(env, info, a));
    PolicyResult r;
    const int32_t v = self->core_->Lookup(a[0], a[1], a[2], a[3], a[4], a[5] != 0, &r);
    if (self->scratch_ != nullptr) {
      self->scratch_[0] = static_cast<uint32_t>(r.verdict);
      self->scratch_[1] = r.cookie;
      self->scratch_[2] = PackInfo(r);
      self->scratch_[3] = r.matchedIdentity;
      self->scratch_[4] = r.hit ? 0 : kNone;
    }
    napi_value out;
    napi_create_int32(env, v, &out);
    return out;
  }

  Napi::Value LookupBatchPacked(const Napi::CallbackInfo& info) {
    if (info.Length() < 3) return Num(info, -1);
    size_t inLen = 0, outLen = 0;
    uint32_t* in = nullptr;
    int32_t* out = nullptr;
    if (!TypedArg(info.Env(), info[0], napi_uint32_array, &in, &inLen) || !TypedArg(info.Env(), info[1], napi_int32_array, &out, &outLen))
      return Num(info, -1);
    const uint32_t n = U32Arg(info, 2);
    if (static_cast<uint64_t>(n) * kPackedInWords > inLen || static_cast<uint64_t>(n) * kPackedOutWords > outLen) return Num(info, -1);
    return Num(info, core_->LookupBatchPacked(in, out, n));
  }

  Napi::Value LookupBatch(const Napi::CallbackInfo& info) {
    if (info.Length() < 9) return Num(info, -1);
    napi_env env = info.Env();
    const uint32_t n = U32Arg(info, 8);
    size_t len = 0;
    uint32_t* mapIds = nullptr;
    uint32_t map = 0;
    if (info[0].IsNumber()) {
      map = U32Arg(info, 0);
    } else if (!TypedArg(env, info[0], napi_uint32_array, &mapIds, &len) || len < n) {
      return Num(info, -1);
    }
    uint32_t* remotes = nullptr;
    if (!TypedArg(env, info[1], napi_uint32_array, &remotes, &len) || len < n) return Num(info, -1);
    uint8_t* dirs = nullptr;
    if (!TypedArg(env, info[2], napi_uint8_array, &dirs, &len) || len < n) return Num(info, -1);
    uint8_t* protos = nullptr;
    if (!TypedArg(env, info[3], napi_uint8_array, &protos, &len) || len < n) return Num(info, -1);
    uint16_t* dports = nullptr;
    if (!TypedArg(env, info[4], napi_uint16_array, &dports, &len) || len < n) return Num(info, -1);
    int32_t* verdict = nullptr;
    if (!TypedArg(env, info[5], napi_int32_array, &verdict, &len) || len < n) return Num(info, -1);
    uint8_t* match = nullptr;
    if (!info[6].IsNull() && !info[6].IsUndefined() && (!TypedArg(env, info[6], napi_uint8_array, &match, &len) || len < n)) return Num(info, -1);
    uint32_t* cookie = nullptr;
    if (!info[7].IsNull() && !info[7].IsUndefined() && (!TypedArg(env, info[7], napi_uint32_array, &cookie, &len) || len < n)) return Num(info, -1);
    return Num(info, core_->LookupBatch(mapIds, map, remotes, dirs, protos, dports, verdict, match, cookie, n));
  }

  static Napi::Value BatchSimd(const Napi::CallbackInfo& info) {
    static const char* const kNames[] = {"portable", "avx2", "avx512"};  // PolicySetCore::kSimd*
    if (info.Length() < 1 || !info[0].IsString()) return Napi::String::New(info.Env(), kNames[PolicySetCore::BatchSimd()]);
    const std::string mode = info[0].As<Napi::String>().Utf8Value();
    for (int level = 0; level < 3; level++)
      if (mode == kNames[level]) return Bool(info, PolicySetCore::SetBatchSimd(level));
    return Bool(info, false);
  }

  Napi::Value DumpMap(const Napi::CallbackInfo& info) {
    const uint32_t id = U32Arg(info, 0);
    if (!core_->HasMap(id)) return info.Env().Undefined();
    Napi::Uint32Array rows = Napi::Uint32Array::New(info.Env(), static_cast<size_t>(core_->MapSize(id)) * kDumpWords);
    if (!core_->DumpMap(id, rows.Data())) return info.Env().Undefined();
    return rows;
  }

  PolicySetCore* core_ = nullptr;
  ExternalMemory memory_;
  Napi::ObjectReference scratchRef_;
  uint32_t* scratch_ = nullptr;
};

}  // namespace

PolicySetCore* UnwrapPolicySet(napi_env env, napi_value v) {
  PolicyMapSet* wrap = UnwrapTagged<PolicyMapSet>(env, v, &kPolicySetTag);
  return wrap != nullptr ? wrap->core() : nullptr;
}

void InitPolicyMapSet(Napi::Env env, Napi::Object exports) { exports.Set("PolicyMapSet", PolicyMapSet::Define(env)); }

}  // namespace hubcap
