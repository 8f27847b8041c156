// FlowSummary's arrays as N-API arguments (FlowSummary.nativeArrays order): records, packets,
// connections, dropPackets, dropConnections, pairPackets, pairConnections, key, count, error,
// reason, srcSide, dstSide, family, proto, sport, dport, words, heap, heapKey, pos, capacity
// (summaryArrayArgs); then, for a new connection's events, ruleConnections, pairSrc, pairDst,
// pairBuckets, maxPairs (summaryNewArrayArgs, ReadSummaryNewTables).
// Shared by the fast path's bindSummary and the summary test bindings.
#ifndef HUBCAP_NATIVE_FASTPATH_SUMMARY_ARGS_H_
#define HUBCAP_NATIVE_FASTPATH_SUMMARY_ARGS_H_

#include <napi.h>

#include "../bindings.h"
#include "summary.h"

namespace hubcap::fastpath {

// Reads info[0..21] into `t` (not its scalars): false when a type or length does not fit.
inline bool ReadSummaryTables(Napi::Env env, const Napi::CallbackInfo& info, SummaryTables* t) {
  bool ok = true;
  size_t len[22] = {};
  ok = ok && TypedArg(env, info[0], napi_int32_array, &t->records, &len[0]);
  ok = ok && TypedArg(env, info[1], napi_float64_array, &t->packets, &len[1]) && len[1] >= 8;
  ok = ok && TypedArg(env, info[2], napi_float64_array, &t->connections, &len[2]) && len[2] >= 8;
  ok = ok && TypedArg(env, info[3], napi_float64_array, &t->dropPackets, &len[3]) && len[3] >= 256;
  ok = ok && TypedArg(env, info[4], napi_float64_array, &t->dropConnections, &len[4]) && len[4] >= 256;
  ok = ok && TypedArg(env, info[5], napi_float64_array, &t->pairPackets, &len[5]);
  ok = ok && TypedArg(env, info[6], napi_float64_array, &t->pairConnections, &len[6]);
  t->recordsLength = len[0];
  t->pairPacketsLength = len[5];
  t->pairConnectionsLength = len[6];
  uint32_t capacity = 0;
  ok = ok && info[21].IsNumber() && napi_get_value_uint32(env, info[21], &capacity) == napi_ok &&
       info[21].As<Napi::Number>().DoubleValue() == static_cast<double>(capacity);
  t->capacity = capacity;
  ok = ok && TypedArg(env, info[7], napi_float64_array, &t->key, &len[7]) && len[7] == capacity;
  ok = ok && TypedArg(env, info[8], napi_float64_array, &t->count, &len[8]) && len[8] == capacity;
  ok = ok && TypedArg(env, info[9], napi_float64_array, &t->error, &len[9]) && len[9] == capacity;
  ok = ok && TypedArg(env, info[10], napi_uint16_array, &t->reason, &len[10]) && len[10] == capacity;
  ok = ok && TypedArg(env, info[11], napi_float64_array, &t->srcSide, &len[11]) && len[11] == capacity;
  ok = ok && TypedArg(env, info[12], napi_float64_array, &t->dstSide, &len[12]) && len[12] == capacity;
  ok = ok && TypedArg(env, info[13], napi_uint8_array, &t->family, &len[13]) && len[13] == capacity;
  ok = ok && TypedArg(env, info[14], napi_uint8_array, &t->proto, &len[14]) && len[14] == capacity;
  ok = ok && TypedArg(env, info[15], napi_uint16_array, &t->sport, &len[15]) && len[15] == capacity;
  ok = ok && TypedArg(env, info[16], napi_uint16_array, &t->dport, &len[16]) && len[16] == capacity;
  ok = ok && TypedArg(env, info[17], napi_uint32_array, &t->words, &len[17]) && len[17] == static_cast<size_t>(capacity) * 8;
  ok = ok && TypedArg(env, info[18], napi_int32_array, &t->heap, &len[18]) && len[18] == capacity;
  ok = ok && TypedArg(env, info[19], napi_float64_array, &t->heapKey, &len[19]) && len[19] == capacity;
  ok = ok && TypedArg(env, info[20], napi_int32_array, &t->pos, &len[20]) && len[20] == capacity;
  return ok;
}

// The arrays a new connection's events also need (summaryNewArrayArgs order): ruleConnections,
// pairSrc, pairDst, pairBuckets, maxPairs, from info[first..first + 4] (a binder passes them
// after summaryArrayArgs' 22). Sets t->newBound; false (and newBound false) when a type or
// length does not fit: ruleConnections 6 per rule slot (at least slot 0), the two sides the same
// length, the buckets a power of two long, maxPairs a number.
inline bool ReadSummaryNewTables(Napi::Env env, const Napi::CallbackInfo& info, size_t first, SummaryTables* t) {
  t->newBound = false;
  bool ok = info.Length() >= first + 5;
  size_t srcLength = 0, dstLength = 0;
  ok = ok && TypedArg(env, info[first], napi_float64_array, &t->ruleConnections, &t->ruleConnectionsLength) &&
       t->ruleConnectionsLength >= 6 && t->ruleConnectionsLength % 6 == 0;
  ok = ok && TypedArg(env, info[first + 1], napi_float64_array, &t->pairSrc, &srcLength);
  ok = ok && TypedArg(env, info[first + 2], napi_float64_array, &t->pairDst, &dstLength) && srcLength == dstLength;
  ok = ok && TypedArg(env, info[first + 3], napi_int32_array, &t->pairBuckets, &t->pairBucketsLength) && t->pairBucketsLength > 0 &&
       (t->pairBucketsLength & (t->pairBucketsLength - 1)) == 0;
  ok = ok && info[first + 4].IsNumber();
  if (!ok) return false;
  t->pairSidesLength = srcLength;
  t->maxPairs = info[first + 4].As<Napi::Number>().DoubleValue();
  t->newBound = true;
  return true;
}

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_SUMMARY_ARGS_H_
