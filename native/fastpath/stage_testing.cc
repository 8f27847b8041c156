// Test bindings of the new-connection policy stage (exports.fastpathTesting.*): differential
// tests against program.ts `Datapath.policy` and conn-cache.ts ConnectionCache
// (test/datapath/fast-stage.test.ts).
//
//   stageDecide(set: PolicyMapSet handle, mapIds: Uint32Array, in: Int32Array, out: Float64Array,
//               n) -> n
//     StagePolicy for n inputs of kInWords each: [endpoint, stage (0 egress, 1 ingress), remote
//     identity (u32 bits), ipProto, hasPorts (0 | 1), dport, icmpType, icmpCode]; answers kOutWords
//     each: [1 when decided (0: endpoint outside mapIds, the rest 0), verdict, stageVerdict,
//     matchType, rule, proxyPort, bypass, audited].
//   stageCanClaim(rows: Int32Array, id) -> boolean                       (CanClaim)
//   stageFind(rows, id, gen) -> row offset or -1                         (FindRow)
//   stageRecord(rows, id, gen, stage, key, fromVni, remote, decision: Float64Array) -> offset
//     RecordStage with the decision in out's layout (one answer of stageDecide); -1 and nothing
//     written when the row is not found and CanClaim is false.
//   stageCached(rows, o, stage, key, fromVni, remote, out: Float64Array) -> boolean
//     CachedStage into out (out's layout, word 0 = 1 on a hit).
//   stageInWords, stageOutWords
// Arguments of another type, short arrays, a stage other than 0 | 1 or an offset outside the
// rows throw a TypeError / RangeError; numbers are taken as ToInt32 takes them.
#include <napi.h>

#include <cmath>

#include "../bindings.h"
#include "js_number.h"
#include "stage.h"

namespace hubcap::fastpath {
namespace {

using stage::StageDecision;
using stage::StageInput;

constexpr uint32_t kInWords = 8;
constexpr uint32_t kOutWords = 8;

bool IntArg(napi_env env, napi_value v, int32_t* out) {
  napi_valuetype type;
  return napi_typeof(env, v, &type) == napi_ok && type == napi_number && napi_get_value_int32(env, v, out) == napi_ok;
}

bool BoolArg(napi_env env, napi_value v, bool* out) {
  napi_valuetype type;
  return napi_typeof(env, v, &type) == napi_ok && type == napi_boolean && napi_get_value_bool(env, v, out) == napi_ok;
}

// The connection cache's rows (ConnectionCache.nativeRows): whole rows, a power of two of them.
bool RowsArg(napi_env env, napi_value v, conncache::Rows* out) {
  int32_t* r = nullptr;
  size_t n = 0;
  if (!TypedArg(env, v, napi_int32_array, &r, &n)) return false;
  const size_t rows = n / conncache::kStride;
  if (rows == 0 || rows * conncache::kStride != n || (rows & (rows - 1)) != 0) return false;
  out->rows = r;
  out->mask = static_cast<uint32_t>(rows - 1);
  return true;
}

void WriteDecision(const StageDecision& d, double* o) {
  o[0] = 1;
  o[1] = d.verdict;
  o[2] = d.stageVerdict;
  o[3] = d.matchType;
  o[4] = static_cast<double>(d.rule);
  o[5] = d.proxyPort;
  o[6] = d.bypass ? 1 : 0;
  o[7] = d.audited ? 1 : 0;
}

int32_t ToI32(double d) { return JsToInt32(d); }

StageDecision ReadDecision(const double* o) {
  StageDecision d;
  d.verdict = ToI32(o[1]);
  d.stageVerdict = ToI32(o[2]);
  d.matchType = ToI32(o[3]);
  d.rule = std::isfinite(o[4]) && std::fabs(o[4]) < 9007199254740992.0 ? static_cast<int64_t>(o[4]) : -1;
  d.proxyPort = ToI32(o[5]);
  d.bypass = o[6] != 0;
  d.audited = o[7] != 0;
  return d;
}

Napi::Value StageDecide(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 5) return Napi::Value(env, ThrowType(env, "stageDecide(set, mapIds, in, out, n): 5 arguments"));
  stage::PolicyTables t;
  if (!stage::BindPolicyTables(env, info[0], info[1], &t)) {
    return Napi::Value(env, ThrowType(env, "stageDecide: set must be a PolicyMapSet, mapIds a Uint32Array"));
  }
  int32_t* in = nullptr;
  size_t inLength = 0;
  double* out = nullptr;
  size_t outLength = 0;
  int32_t n = 0;
  if (!TypedArg(env, info[2], napi_int32_array, &in, &inLength) || !TypedArg(env, info[3], napi_float64_array, &out, &outLength) ||
      !IntArg(env, info[4], &n)) {
    return Napi::Value(env, ThrowType(env, "stageDecide: in must be an Int32Array, out a Float64Array, n a number"));
  }
  if (n < 0 || static_cast<uint64_t>(n) * kInWords > inLength || static_cast<uint64_t>(n) * kOutWords > outLength) {
    return Napi::Value(env, ThrowRange(env, "stageDecide: n does not fit the arrays"));
  }
  for (int32_t i = 0; i < n; i++) {
    const int32_t* w = in + static_cast<size_t>(i) * kInWords;
    double* o = out + static_cast<size_t>(i) * kOutWords;
    if (w[1] != stage::kStageEgress && w[1] != stage::kStageIngress) return Napi::Value(env, ThrowRange(env, "stageDecide: stage must be 0 or 1"));
    StageInput s;
    s.ipProto = w[3];
    s.hasPorts = w[4] != 0;
    s.dport = w[5];
    s.icmpType = w[6];
    s.icmpCode = w[7];
    StageDecision d;
    if (!stage::StagePolicy(t, w[0], w[1], static_cast<uint32_t>(w[2]), s, &d)) {
      for (uint32_t k = 0; k < kOutWords; k++) o[k] = 0;
      continue;
    }
    WriteDecision(d, o);
  }
  return Napi::Number::New(env, n);
}

Napi::Value StageCanClaim(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  conncache::Rows c;
  int32_t id = 0;
  if (info.Length() < 2 || !RowsArg(env, info[0], &c) || !IntArg(env, info[1], &id)) {
    return Napi::Value(env, ThrowType(env, "stageCanClaim(rows: Int32Array of whole rows, a power of two, id)"));
  }
  return Napi::Boolean::New(env, stage::CanClaim(c, id));
}

Napi::Value StageFind(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  conncache::Rows c;
  int32_t id = 0;
  int32_t gen = 0;
  if (info.Length() < 3 || !RowsArg(env, info[0], &c) || !IntArg(env, info[1], &id) || !IntArg(env, info[2], &gen)) {
    return Napi::Value(env, ThrowType(env, "stageFind(rows, id, gen)"));
  }
  return Napi::Number::New(env, static_cast<double>(stage::FindRow(c, id, gen)));
}

Napi::Value StageRecord(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  conncache::Rows c;
  int32_t a[5];  // id, gen, stage, key, remote
  bool fromVni = false;
  double* d = nullptr;
  size_t dLength = 0;
  if (info.Length() < 8 || !RowsArg(env, info[0], &c) || !IntArg(env, info[1], &a[0]) || !IntArg(env, info[2], &a[1]) ||
      !IntArg(env, info[3], &a[2]) || !IntArg(env, info[4], &a[3]) || !BoolArg(env, info[5], &fromVni) || !IntArg(env, info[6], &a[4]) ||
      !TypedArg(env, info[7], napi_float64_array, &d, &dLength)) {
    return Napi::Value(env, ThrowType(env, "stageRecord(rows, id, gen, stage, key, fromVni: boolean, remote, decision: Float64Array)"));
  }
  if (a[2] != stage::kStageEgress && a[2] != stage::kStageIngress) return Napi::Value(env, ThrowRange(env, "stageRecord: stage must be 0 or 1"));
  if (dLength < kOutWords) return Napi::Value(env, ThrowRange(env, "stageRecord: decision is short"));
  if (stage::FindRow(c, a[0], a[1]) < 0 && !stage::CanClaim(c, a[0])) return Napi::Number::New(env, -1);
  const int64_t o = stage::RecordStage(c, a[0], a[1], a[2], a[3], fromVni, a[4], ReadDecision(d));
  return Napi::Number::New(env, static_cast<double>(o));
}

Napi::Value StageCached(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  conncache::Rows c;
  int32_t a[4];  // o, stage, key, remote
  bool fromVni = false;
  double* out = nullptr;
  size_t outLength = 0;
  if (info.Length() < 7 || !RowsArg(env, info[0], &c) || !IntArg(env, info[1], &a[0]) || !IntArg(env, info[2], &a[1]) ||
      !IntArg(env, info[3], &a[2]) || !BoolArg(env, info[4], &fromVni) || !IntArg(env, info[5], &a[3]) ||
      !TypedArg(env, info[6], napi_float64_array, &out, &outLength)) {
    return Napi::Value(env, ThrowType(env, "stageCached(rows, o, stage, key, fromVni: boolean, remote, out: Float64Array)"));
  }
  if (a[1] != stage::kStageEgress && a[1] != stage::kStageIngress) return Napi::Value(env, ThrowRange(env, "stageCached: stage must be 0 or 1"));
  if (a[0] < 0 || a[0] % conncache::kStride != 0 || static_cast<uint64_t>(a[0]) >= (static_cast<uint64_t>(c.mask) + 1) * conncache::kStride) {
    return Napi::Value(env, ThrowRange(env, "stageCached: o is not a row's offset"));
  }
  if (outLength < kOutWords) return Napi::Value(env, ThrowRange(env, "stageCached: out is short"));
  StageDecision d;
  if (!stage::CachedStage(c, a[0], a[1], a[2], fromVni, a[3], &d)) {
    for (uint32_t k = 0; k < kOutWords; k++) out[k] = 0;
    return Napi::Boolean::New(env, false);
  }
  WriteDecision(d, out);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitFastStageTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("stageDecide", Napi::Function::New<StageDecide>(env, "stageDecide"));
  testing.Set("stageCanClaim", Napi::Function::New<StageCanClaim>(env, "stageCanClaim"));
  testing.Set("stageFind", Napi::Function::New<StageFind>(env, "stageFind"));
  testing.Set("stageRecord", Napi::Function::New<StageRecord>(env, "stageRecord"));
  testing.Set("stageCached", Napi::Function::New<StageCached>(env, "stageCached"));
  testing.Set("stageInWords", Napi::Number::New(env, kInWords));
  testing.Set("stageOutWords", Napi::Number::New(env, kOutWords));
}

}  // namespace hubcap::fastpath
