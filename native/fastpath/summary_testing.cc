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
//
//   summaryNewBind(<summaryBind's 22 arrays>, ruleConnections, pairSrc, pairDst, pairBuckets,
//                  maxPairs, block, at)
//     -> addNew(op, ev: Float64Array, mode = 0): 0 | 1
//   The same, with the arrays of a new connection's events (ReadSummaryNewTables). `op`:
//     0 a final event (packed as for addFinal): SummaryCheckNewFinal / SummaryCommitNewFinal;
//       mode 2 checks as the fast path does around duplicate suppression (without the victim,
//       then SummaryCheckVictim) before committing;
//     1 a policy verdict [verdict, trafficDirection, rule, connection]:
//       SummaryCheckPolicyVerdict / SummaryCommitPolicyVerdict;
//     2 a translation [connection]: SummaryCheckTranslated / SummaryCommitTranslated.
//   Mode 0 checks then commits when the check passed, mode 1 only checks.
#include <napi.h>

#include <cmath>
#include <cstdint>

#include "../bindings.h"
#include "js_number.h"
#include "summary.h"
#include "summary_args.h"

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

inline uint32_t ToU32(double d) { return JsToUint32(d); }
inline int32_t ToI32(double d) { return JsToInt32(d); }

struct Bound {
  SummaryTables tables;
};

void ReleaseBound(napi_env, void* data, void*) { delete static_cast<Bound*>(data); }

// The packed final event (kEv*) as a FinalEvent.
FinalEvent UnpackFinal(const double* p) {
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
  return ev;
}

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
  const FinalEvent ev = UnpackFinal(p);
  SummaryTables& t = static_cast<Bound*>(data)->tables;
  FinalPlace place;
  int32_t out = SummaryCheckFinal(t, ev, /*findVictim=*/true, &place) ? 1 : 0;
  if (out == 1 && mode == 0) SummaryCommitFinal(t, ev, place);
  napi_value result;
  napi_create_int32(env, out, &result);
  return result;
}

// summaryBind / summaryNewBind: FlowSummary's arrays (summaryArrayArgs, then with `withNew`
// summaryNewArrayArgs), the scalar block and where in it; `fn` over those tables, named `name`.
Napi::Value BindTables(const Napi::CallbackInfo& info, bool withNew, const char* name, napi_callback fn, const char* usage) {
  Napi::Env env = info.Env();
  const size_t tables = withNew ? 27 : 22;
  const size_t args = tables + 2;
  if (info.Length() < args) {
    Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* b = new Bound();
  SummaryTables& t = b->tables;
  bool ok = ReadSummaryTables(env, info, &t) && (!withNew || ReadSummaryNewTables(env, info, 22, &t));
  double* block = nullptr;
  size_t blockLength = 0;
  ok = ok && TypedArg(env, info[tables], napi_float64_array, &block, &blockLength);
  uint32_t at = 0;
  ok = ok && info[tables + 1].IsNumber() && napi_get_value_uint32(env, info[tables + 1], &at) == napi_ok &&
       info[tables + 1].As<Napi::Number>().DoubleValue() == static_cast<double>(at) && static_cast<uint64_t>(at) + kSummaryScalarWords <= blockLength;
  if (!ok) {
    delete b;
    Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  t.scalars = block + at;
  t.bound = true;
  Napi::Array keep = Napi::Array::New(env, args);
  for (size_t i = 0; i < args; i++) keep.Set(static_cast<uint32_t>(i), info[i]);
  return BindFunction(env, name, fn, b, ReleaseBound, {{"arrays", keep}});
}

Napi::Value SummaryBind(const Napi::CallbackInfo& info) {
  return BindTables(info, false, "summaryAddFinal", AddFinal,
                    "summaryBind: FlowSummary's arrays (types and lengths as its accessors give them), capacity, block, at (24 arguments)");
}

// addNew(op, ev, mode): see the file comment.
napi_value AddNew(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  int32_t op = -1;
  int32_t mode = 0;
  double* p = nullptr;
  size_t n = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2 || !TypedArg(env, argv[1], napi_float64_array, &p, &n) ||
      n < static_cast<size_t>(op == 0 ? kEvWords : op == 1 ? 4 : 1)) {
    napi_throw_type_error(env, nullptr, "addNew: op 0 (final, 21 words), 1 (policy verdict, 4 words) or 2 (translation, 1 word) and a Float64Array");
    return nullptr;
  }
  if (argc >= 3) napi_get_value_int32(env, argv[2], &mode);
  SummaryTables& t = static_cast<Bound*>(data)->tables;
  bool ok = false;
  if (op == 0) {
    const FinalEvent ev = UnpackFinal(p);
    if (mode == 2) {
      ok = SummaryCheckNewFinal(t, ev, /*findVictim=*/false) && SummaryCheckVictim(t, ev);
    } else {
      ok = SummaryCheckNewFinal(t, ev);
    }
    if (ok && mode != 1) SummaryCommitNewFinal(t, ev);
  } else if (op == 1) {
    PolicyVerdictEvent ev;
    ev.verdict = ToI32(p[0]);
    ev.trafficDirection = ToI32(p[1]);
    ev.rule = ToI32(p[2]);
    ev.connection = p[3];
    ok = SummaryCheckPolicyVerdict(t, ev);
    if (ok && mode != 1) SummaryCommitPolicyVerdict(t, ev);
  } else {
    ok = SummaryCheckTranslated(t, p[0]);
    if (ok && mode != 1) SummaryCommitTranslated(t, p[0]);
  }
  napi_value result;
  napi_create_int32(env, ok ? 1 : 0, &result);
  return result;
}

Napi::Value SummaryNewBind(const Napi::CallbackInfo& info) {
  return BindTables(info, true, "summaryAddNew", AddNew, "summaryNewBind: FlowSummary's arrays (summaryArrayArgs, summaryNewArrayArgs), block, at (29 arguments)");
}

}  // namespace

void InitFastSummaryTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("summaryBind", Napi::Function::New<SummaryBind>(env, "summaryBind"));
  testing.Set("summaryNewBind", Napi::Function::New<SummaryNewBind>(env, "summaryNewBind"));
  testing.Set("summaryEventWords", Napi::Number::New(env, kEvWords));
  testing.Set("summaryScalarWords", Napi::Number::New(env, kSummaryScalarWords));
}

}  // namespace hubcap::fastpath
