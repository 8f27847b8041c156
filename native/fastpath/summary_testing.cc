// Test bindings of the summary port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-summary.test.ts).
//
//   summaryBind(records, packets, connections, dropPackets, dropConnections, pairPackets,
//               pairConnections, key, count, error, reason, srcSide, dstSide, family, proto,
//               sport, dport, words, heap, heapKey, pos, capacity, block, at)
//     -> addFinal(ev: Float64Array, mode = 0): 0 | 1
//   Binds FlowSummary's arrays (types and lengths checked; a TypeError otherwise) and its scalar
//   block (kSummaryScalarWords doubles at `at`). The returned function keeps every argument
//   alive. addFinal unpacks the event (kEv* below): mode 0 checks and, when the check passes,
//   commits (1), else does nothing more (0); mode 1 only checks.
#include <napi.h>

#include <cmath>
#include <cstdint>

#include "../bindings.h"
#include "summary.h"

namespace hubcap::fastpath {

namespace {

// The packed event (Float64Array), FinalEvent's fields in order.
enum PackedEvent : int {
  kEvVerdict = 0,
  kEvInherited,
  kEvDropReason,
  kEvConnection,
  kEvSrcEndpoint,
  kEvDstEndpoint,
  kEvSrcIdentity,
  kEvDstIdentity,
  kEvIsReply,
  kEvIpVersion,
  kEvIpProto,
  kEvSport,
  kEvDport,
  kEvSrc0,
  kEvDst0 = kEvSrc0 + 4,
  kEvWords = kEvDst0 + 4,
};

// ECMAScript ToUint32 / ToInt32 of a double, without undefined behaviour for any input.
inline uint32_t ToU32(double d) {
  if (!std::isfinite(d)) return 0;
  const double m = std::fmod(std::trunc(d), 4294967296.0);
  return static_cast<uint32_t>(static_cast<int64_t>(m < 0 ? m + 4294967296.0 : m));
}
inline int32_t ToI32(double d) { return static_cast<int32_t>(ToU32(d)); }

struct Bound {
  SummaryTables tables;
};

void ReleaseBound(napi_env, void* data, void*) { delete static_cast<Bound*>(data); }

napi_value AddFinal(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  double* p = nullptr;
  size_t n = 0;
  if (argc < 1 || !TypedArg(env, argv[0], napi_float64_array, &p, &n) || n < static_cast<size_t>(kEvWords)) {
    napi_throw_type_error(env, nullptr, "addFinal: a Float64Array event of at least 21 words");
    return nullptr;
  }
  int32_t mode = 0;
  if (argc >= 2) napi_get_value_int32(env, argv[1], &mode);
  FinalEvent ev;
  ev.verdict = ToI32(p[kEvVerdict]);
  ev.inherited = p[kEvInherited] != 0;
  ev.dropReason = ToI32(p[kEvDropReason]);
  ev.connection = p[kEvConnection];
  ev.srcEndpoint = ToI32(p[kEvSrcEndpoint]);
  ev.dstEndpoint = ToI32(p[kEvDstEndpoint]);
  ev.srcIdentity = ToU32(p[kEvSrcIdentity]);
  ev.dstIdentity = ToU32(p[kEvDstIdentity]);
  ev.isReply = p[kEvIsReply] != 0;
  ev.ipVersion = ToI32(p[kEvIpVersion]);
  ev.ipProto = ToI32(p[kEvIpProto]);
  ev.sport = ToI32(p[kEvSport]);
  ev.dport = ToI32(p[kEvDport]);
  for (int k = 0; k < 4; k++) {
    ev.src[k] = ToU32(p[kEvSrc0 + k]);
    ev.dst[k] = ToU32(p[kEvDst0 + k]);
  }
  SummaryTables& t = static_cast<Bound*>(data)->tables;
  int32_t out = SummaryCheckFinal(t, ev) ? 1 : 0;
  if (out == 1 && mode == 0) SummaryCommitFinal(t, ev);
  napi_value result;
  napi_create_int32(env, out, &result);
  return result;
}

Napi::Value SummaryBind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr size_t kArgs = 24;
  if (info.Length() < kArgs) {
    Napi::TypeError::New(env, "summaryBind: 24 arguments").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* b = new Bound();
  SummaryTables& t = b->tables;
  bool ok = true;
  size_t len[kArgs] = {};
  ok = ok && TypedArg(env, info[0], napi_int32_array, &t.records, &len[0]);
  ok = ok && TypedArg(env, info[1], napi_float64_array, &t.packets, &len[1]) && len[1] >= 8;
  ok = ok && TypedArg(env, info[2], napi_float64_array, &t.connections, &len[2]) && len[2] >= 8;
  ok = ok && TypedArg(env, info[3], napi_float64_array, &t.dropPackets, &len[3]) && len[3] >= 256;
  ok = ok && TypedArg(env, info[4], napi_float64_array, &t.dropConnections, &len[4]) && len[4] >= 256;
  ok = ok && TypedArg(env, info[5], napi_float64_array, &t.pairPackets, &len[5]);
  ok = ok && TypedArg(env, info[6], napi_float64_array, &t.pairConnections, &len[6]);
  t.recordsLength = len[0];
  t.pairPacketsLength = len[5];
  t.pairConnectionsLength = len[6];
  uint32_t capacity = 0;
  ok = ok && info[21].IsNumber() && napi_get_value_uint32(env, info[21], &capacity) == napi_ok &&
       info[21].As<Napi::Number>().DoubleValue() == static_cast<double>(capacity);
  t.capacity = capacity;
  ok = ok && TypedArg(env, info[7], napi_float64_array, &t.key, &len[7]) && len[7] == capacity;
  ok = ok && TypedArg(env, info[8], napi_float64_array, &t.count, &len[8]) && len[8] == capacity;
  ok = ok && TypedArg(env, info[9], napi_float64_array, &t.error, &len[9]) && len[9] == capacity;
  ok = ok && TypedArg(env, info[10], napi_uint16_array, &t.reason, &len[10]) && len[10] == capacity;
  ok = ok && TypedArg(env, info[11], napi_float64_array, &t.srcSide, &len[11]) && len[11] == capacity;
  ok = ok && TypedArg(env, info[12], napi_float64_array, &t.dstSide, &len[12]) && len[12] == capacity;
  ok = ok && TypedArg(env, info[13], napi_uint8_array, &t.family, &len[13]) && len[13] == capacity;
  ok = ok && TypedArg(env, info[14], napi_uint8_array, &t.proto, &len[14]) && len[14] == capacity;
  ok = ok && TypedArg(env, info[15], napi_uint16_array, &t.sport, &len[15]) && len[15] == capacity;
  ok = ok && TypedArg(env, info[16], napi_uint16_array, &t.dport, &len[16]) && len[16] == capacity;
  ok = ok && TypedArg(env, info[17], napi_uint32_array, &t.words, &len[17]) && len[17] == static_cast<size_t>(capacity) * 8;
  ok = ok && TypedArg(env, info[18], napi_int32_array, &t.heap, &len[18]) && len[18] == capacity;
  ok = ok && TypedArg(env, info[19], napi_float64_array, &t.heapKey, &len[19]) && len[19] == capacity;
  ok = ok && TypedArg(env, info[20], napi_int32_array, &t.pos, &len[20]) && len[20] == capacity;
  double* block = nullptr;
  ok = ok && TypedArg(env, info[22], napi_float64_array, &block, &len[22]);
  uint32_t at = 0;
  ok = ok && info[23].IsNumber() && napi_get_value_uint32(env, info[23], &at) == napi_ok &&
       info[23].As<Napi::Number>().DoubleValue() == static_cast<double>(at) &&
       static_cast<uint64_t>(at) + kSummaryScalarWords <= len[22];
  if (!ok) {
    delete b;
    Napi::TypeError::New(env, "summaryBind: FlowSummary's arrays (types and lengths as its accessors give them), capacity, block, at")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  t.scalars = block + at;
  t.bound = true;
  Napi::Array keep = Napi::Array::New(env, kArgs);
  for (size_t i = 0; i < kArgs; i++) keep.Set(static_cast<uint32_t>(i), info[i]);
  return BindFunction(env, "summaryAddFinal", AddFinal, b, ReleaseBound, {{"arrays", keep}});
}

}  // namespace

void InitFastSummaryTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("summaryBind", Napi::Function::New<SummaryBind>(env, "summaryBind"));
  testing.Set("summaryEventWords", Napi::Number::New(env, kEvWords));
  testing.Set("summaryScalarWords", Napi::Number::New(env, kSummaryScalarWords));
}

}  // namespace hubcap::fastpath
