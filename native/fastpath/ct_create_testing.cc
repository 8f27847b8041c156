// Test bindings of ct_create.h (exports.fastpathTesting.*): differential tests against
// src/maps/conntrack.ts Conntrack.createRow and program.ts's writes into a new row
// (test/datapath/fast-ct-create.test.ts).
//
//   ctCreateBind(i32: Int32Array, side: Int32Array, freeRows: Int32Array,
//                slots0..3: Int32Array | null, lruBuilt: number (bit t: table t's LRUCache is
//                built), keyMask: number, block: Float64Array, at: number, seqAt: number,
//                lruResolutionMs: number) -> op
//     Binds ct::Tables to a Conntrack's arrays (i32, sideWords, nativeFreeRows,
//     nativeIndexSlots(t), nativeLruBuilt(t), nativeKeyMask) and the block: kCreateScalarWords
//     doubles at `at` (Conntrack.saveCreateScalars / loadCreateScalars) and the four recency
//     stamps at `seqAt` (nativeSeq / setNativeSeq). Throws a TypeError / RangeError when they do
//     not fit. The function returned keeps the arrays alive (its properties).
//   op(code, words: Int32Array, a, b, c, d, e, f, g) -> number
//     0 CanCreate(tuple = words, now = a) -> 1 / 0
//     1 CanCreate then Create with its plan (tuple = words, now = a) -> row, or -1 (nothing written)
//     2 Create alone, which checks again (tuple = words, now = a) -> row or -1
//     3 SetTranslated(row = a, revNat = b, origDst = words[0..3], origDport = c)
//     4 RememberLocated(row = a, gen = b, srcEndpoint = c, dstEndpoint = d, srcIdentity = e,
//       dstIdentity = f)
//     5 MarkDropped(row = a, reason = b, place = c, rulePlusOne = d, tcpFlags = e, bytes = f,
//       now = g)
//     6 MarkAllowed(row = a, proxyPort = b, proxyStagePlusOne = c, tcpFlags = d, bytes = e,
//       now = f)
//     7 TouchRow(row = a, dir = b, tcpFlags = c, bytes = d, now = e)
//     8 LookupMiss then, when true, Commit of its stamp (tuple = words, now = a) -> 1, else 0
//       (nothing written)
//     9 the fast path's order for a new connection: LookupMiss and CanCreate (with the lookup's
//       stamp pending) read-only, then Commit of the stamp and Create with the plan
//       (tuple = words, now = a) -> row; -2 when LookupMiss, -1 when CanCreate said no (nothing
//       written)
//   A tuple is 12 int32 words: family, src[4], dst[4], sport, dport, proto.
#include <napi.h>

#include <new>

#include "../bindings.h"
#include "conntrack.h"
#include "ct_create.h"

namespace hubcap::fastpath {
namespace {

struct Bound {
  ct::Tables tables;
  ct::CreateScalars scalars;
};

// ToInt32 of a number argument (the way an Int32Array store takes it).
int32_t Int32Of(napi_env env, napi_value v) {
  int32_t out = 0;
  napi_get_value_int32(env, v, &out);
  return out;
}

napi_value NumberValue(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

constexpr size_t kTupleWords = 12;

void UnpackTuple(const int32_t* w, ct::Tuple* t) {
  t->family = w[0];
  for (int k = 0; k < 4; k++) {
    t->src[k] = w[1 + k];
    t->dst[k] = w[5 + k];
  }
  t->sport = w[9];
  t->dport = w[10];
  t->proto = w[11];
  t->mapped = ct::IsMapped(t->src, t->dst);
}

napi_value CtCreateOp(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok || data == nullptr) return ThrowType(env, "ctCreate op: not bound");
  if (argc < 2) return ThrowType(env, "ctCreate op(code, words, ...): at least 2 arguments");
  for (size_t i = argc; i < 9; i++) napi_get_undefined(env, &argv[i]);
  auto* b = static_cast<Bound*>(data);
  ct::Tables& c = b->tables;
  double code;
  if (!NumberArg(env, argv[0], &code)) return ThrowType(env, "ctCreate op: code must be a number");
  int32_t* words = nullptr;
  size_t wordsLength = 0;
  napi_valuetype wordsType;
  napi_typeof(env, argv[1], &wordsType);
  if (wordsType != napi_null && wordsType != napi_undefined && !TypedArg(env, argv[1], napi_int32_array, &words, &wordsLength)) {
    return ThrowType(env, "ctCreate op: words must be an Int32Array or null");
  }
  const int op = static_cast<int>(code);
  if (op <= 2 || op == 8 || op == 9) {
    if (wordsLength < kTupleWords) return ThrowType(env, "ctCreate op: a tuple is 12 int32 words");
    double now;
    if (!NumberArg(env, argv[2], &now)) return ThrowType(env, "ctCreate op: now must be a number");
    ct::Tuple t;
    UnpackTuple(words, &t);
    if ((t.family != 4 && t.family != 6) || t.sport < 0 || t.sport > 0xffff || t.dport < 0 || t.dport > 0xffff || t.proto < 0 || t.proto > 255) {
      return ThrowRange(env, "ctCreate op: a tuple's family is 4 or 6, its ports 16 bits, its protocol 8 bits");
    }
    int32_t key = ct::KeyOf(t, c.keyMask);
    if (op == 8) {
      ct::Hit hit;
      if (!ct::LookupMiss(c, t, key, now, &hit)) return NumberValue(env, 0);
      ct::Commit(c, hit, false, 0, 0, now);
      return NumberValue(env, 1);
    }
    if (op == 9) {
      ct::Hit hit;
      ct::CreatePlan plan;
      if (!ct::LookupMiss(c, t, key, now, &hit)) return NumberValue(env, -2);
      if (!ct::CanCreate(c, b->scalars, t, key, now, &plan, &hit)) return NumberValue(env, -1);
      ct::Commit(c, hit, false, 0, 0, now);
      return NumberValue(env, ct::Create(c, b->scalars, t, key, now, &plan));
    }
    if (op == 0) return NumberValue(env, ct::CanCreate(c, b->scalars, t, key, now) ? 1 : 0);
    if (op == 2) return NumberValue(env, ct::Create(c, b->scalars, t, key, now));
    ct::CreatePlan plan;
    if (!ct::CanCreate(c, b->scalars, t, key, now, &plan)) return NumberValue(env, -1);
    return NumberValue(env, ct::Create(c, b->scalars, t, key, now, &plan));
  }
  double row;
  if (!NumberArg(env, argv[2], &row) || !(row >= 0) || row >= static_cast<double>(c.rows) || row >= static_cast<double>(c.sideRows) ||
      static_cast<double>(static_cast<int32_t>(row)) != row) {
    return ThrowRange(env, "ctCreate op: row outside the bound rows");
  }
  const int32_t r = static_cast<int32_t>(row);
  double now = 0;
  switch (op) {
    case 3: {
      if (wordsLength < 4) return ThrowType(env, "ctCreate op: origDst is 4 int32 words");
      uint32_t orig[4];
      for (int k = 0; k < 4; k++) orig[k] = static_cast<uint32_t>(words[k]);
      ct::SetTranslated(c, r, Int32Of(env, argv[3]), orig, Int32Of(env, argv[4]));
      break;
    }
    case 4: {
      uint32_t si = 0, di = 0;
      napi_get_value_uint32(env, argv[6], &si);
      napi_get_value_uint32(env, argv[7], &di);
      ct::RememberLocated(c, r, Int32Of(env, argv[3]), Int32Of(env, argv[4]), Int32Of(env, argv[5]), si, di);
      break;
    }
    case 5:
      if (!NumberArg(env, argv[8], &now)) return ThrowType(env, "ctCreate op: now must be a number");
      ct::MarkDropped(c, r, Int32Of(env, argv[3]), Int32Of(env, argv[4]), Int32Of(env, argv[5]), Int32Of(env, argv[6]), Int32Of(env, argv[7]), now);
      break;
    case 6:
      if (!NumberArg(env, argv[7], &now)) return ThrowType(env, "ctCreate op: now must be a number");
      ct::MarkAllowed(c, r, Int32Of(env, argv[3]), Int32Of(env, argv[4]), Int32Of(env, argv[5]), Int32Of(env, argv[6]), now);
      break;
    case 7: {
      if (!NumberArg(env, argv[6], &now)) return ThrowType(env, "ctCreate op: now must be a number");
      int32_t dir = Int32Of(env, argv[3]);
      if (dir != ct::kDirForward && dir != ct::kDirReply) return ThrowRange(env, "ctCreate op: dir is 0 or 1");
      ct::TouchRow(c, r, dir, Int32Of(env, argv[4]), Int32Of(env, argv[5]), now);
      break;
    }
    default:
      return ThrowRange(env, "ctCreate op: unknown code");
  }
  return NumberValue(env, 0);
}

void ReleaseBound(napi_env, void* data, void*) { delete static_cast<Bound*>(data); }

Napi::Value CtCreateBindBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 13) {
    ThrowType(env, "ctCreateBind(i32, side, freeRows, slots0, slots1, slots2, slots3, lruBuilt, keyMask, block, at, seqAt, lruResolutionMs): 13 arguments");
    return env.Undefined();
  }
  auto* b = new (std::nothrow) Bound();
  if (b == nullptr) {
    ThrowRange(env, "ctCreateBind: out of memory");
    return env.Undefined();
  }
  ct::Tables& t = b->tables;
  size_t n = 0;
  bool ok = TypedArg(env, info[0], napi_int32_array, &t.i32, &n);
  t.rows = n / ct::kRowWords;
  ok = ok && TypedArg(env, info[1], napi_int32_array, &t.side, &n);
  t.sideRows = n / ct::kSideWords;
  ok = ok && TypedArg(env, info[2], napi_int32_array, &t.freeRows, &t.freeRowsLength);
  for (int k = 0; ok && k < ct::kTables; k++) {
    if (info[3 + k].IsNull() || info[3 + k].IsUndefined()) continue;
    int32_t* s = nullptr;
    ok = TypedArg(env, info[3 + k], napi_int32_array, &s, &n) && n != 0 && (n & (n - 1)) == 0;
    t.slots[k] = s;
    t.slotMask[k] = static_cast<uint32_t>(n - 1);
  }
  double lru = 0, keyMask = 0, at = 0, seqAt = 0, resolution = 0;
  double* block = nullptr;
  size_t blockLength = 0;
  ok = ok && NumberArg(env, info[7], &lru) && NumberArg(env, info[8], &keyMask) && TypedArg(env, info[9], napi_float64_array, &block, &blockLength) &&
       NumberArg(env, info[10], &at) && NumberArg(env, info[11], &seqAt) && NumberArg(env, info[12], &resolution);
  if (!ok) {
    delete b;
    ThrowType(env, "ctCreateBind: Int32Arrays (slots: power-of-two lengths or null), numbers and a Float64Array block");
    return env.Undefined();
  }
  if (!(at >= 0) || at + ct::kCreateScalarWords > static_cast<double>(blockLength) || !(seqAt >= 0) || seqAt + ct::kTables > static_cast<double>(blockLength) ||
      t.rows != t.sideRows) {
    delete b;
    ThrowRange(env, "ctCreateBind: the scalars do not fit the block, or the rows and side words differ");
    return env.Undefined();
  }
  for (int k = 0; k < ct::kTables; k++) t.lruBuilt[k] = ((static_cast<uint32_t>(lru) >> k) & 1) != 0;
  t.keyMask = static_cast<int32_t>(static_cast<uint32_t>(keyMask));
  t.lruResolution = resolution;
  t.seq = block + static_cast<size_t>(seqAt);
  b->scalars.w = block + static_cast<size_t>(at);
  return BindFunction(env, "ctCreateOp", CtCreateOp, b, ReleaseBound,
                      {{"i32", info[0]}, {"side", info[1]}, {"freeRows", info[2]}, {"slots0", info[3]}, {"slots1", info[4]}, {"slots2", info[5]},
                       {"slots3", info[6]}, {"block", info[9]}});
}

}  // namespace

void InitFastCtCreateTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("ctCreateBind", Napi::Function::New<CtCreateBindBinding>(env, "ctCreateBind"));
  testing.Set("ctCreateScalarWords", Napi::Number::New(env, ct::kCreateScalarWords));
}

}  // namespace hubcap::fastpath
