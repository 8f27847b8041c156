// Test bindings of the dedup port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-dedup.test.ts).
//
//   dedupBind(headers: Int32Array, rows: Int32Array, links: Int32Array, bucketMask: number,
//             ringRows: number, pendingLimit: number, windowNs: number, block: Float64Array,
//             at: number) -> isDuplicate
//     Binds a DedupTable to a Deduplicator's arrays, constants (Deduplicator.nativeView()) and
//     scalar block (DEDUP_SCALAR_WORDS doubles at `at`, Deduplicator.saveScalars/loadScalars);
//     throws a RangeError when they do not fit together (dedup.h DedupBind). The function
//     returned keeps the arrays alive (its properties headers, rows, links, block).
//   isDuplicate(packed: Int32Array, frame: Uint8Array, frameOffset: number, tsSec: number,
//               tsNsec: number, interfaceId: number) -> boolean
//     DedupIsDuplicate on the packet packed as packet.h PackFastPacket packs it
//     (test/helpers/fast-packet.ts packDecodedPacket), whose frame starts at
//     frame[frameOffset]; throws a TypeError / RangeError for arguments of another type, a short
//     packed array, or a captureLength past the end of `frame`.
#include <napi.h>

#include <cmath>
#include <new>

#include "../bindings.h"
#include "dedup.h"
#include "packet.h"

namespace hubcap::fastpath {
namespace {

napi_value DedupIsDuplicateBound(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok || data == nullptr) return ThrowType(env, "dedup isDuplicate: no table");
  if (argc < 6) return ThrowType(env, "dedup isDuplicate(packed, frame, frameOffset, tsSec, tsNsec, interfaceId): 6 arguments");
  auto* table = static_cast<DedupTable*>(data);
  int32_t* packed;
  size_t packedLength;
  if (!TypedArg(env, argv[0], napi_int32_array, &packed, &packedLength) || packedLength < kPackedWords) {
    return ThrowType(env, "dedup isDuplicate: packed must be an Int32Array of a FastPacket's words");
  }
  uint8_t* frame;
  size_t frameLength;
  if (!TypedArg(env, argv[1], napi_uint8_array, &frame, &frameLength)) return ThrowType(env, "dedup isDuplicate: frame must be a Uint8Array");
  double frameOffset;
  double tsSec;
  double tsNsec;
  double interfaceId;
  if (!NumberArg(env, argv[2], &frameOffset) || !NumberArg(env, argv[3], &tsSec) || !NumberArg(env, argv[4], &tsNsec) ||
      !NumberArg(env, argv[5], &interfaceId)) {
    return ThrowType(env, "dedup isDuplicate: frameOffset, tsSec, tsNsec and interfaceId must be numbers");
  }
  if (!(frameOffset >= 0) || frameOffset > static_cast<double>(frameLength) || std::trunc(frameOffset) != frameOffset) {
    return ThrowRange(env, "dedup isDuplicate: frameOffset outside the frame's array");
  }
  FastPacket p;
  UnpackFastPacket(packed, &p);
  const size_t offset = static_cast<size_t>(frameOffset);
  if (p.captureLength < 0 || static_cast<size_t>(p.captureLength) > frameLength - offset) {
    return ThrowRange(env, "dedup isDuplicate: captureLength past the end of the frame's array");
  }
  int32_t iface = 0;
  napi_get_value_int32(env, argv[5], &iface);  // ToInt32, as Math.imul takes it
  const bool dup = DedupIsDuplicate(*table, p, frame == nullptr ? nullptr : frame + offset, tsSec, tsNsec, iface);
  napi_value out;
  napi_get_boolean(env, dup, &out);
  return out;
}

void ReleaseTable(napi_env, void* data, void*) { delete static_cast<DedupTable*>(data); }

Napi::Value DedupBindBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 9) {
    ThrowType(env, "dedupBind(headers, rows, links, bucketMask, ringRows, pendingLimit, windowNs, block, at): 9 arguments");
    return env.Undefined();
  }
  int32_t* headers;
  int32_t* rows;
  int32_t* links;
  size_t headersLength;
  size_t rowsLength;
  size_t linksLength;
  double* block;
  size_t blockLength;
  if (!TypedArg(env, info[0], napi_int32_array, &headers, &headersLength) || !TypedArg(env, info[1], napi_int32_array, &rows, &rowsLength) ||
      !TypedArg(env, info[2], napi_int32_array, &links, &linksLength) || !TypedArg(env, info[7], napi_float64_array, &block, &blockLength)) {
    ThrowType(env, "dedupBind: headers, rows and links must be Int32Arrays, block a Float64Array");
    return env.Undefined();
  }
  double numbers[5];
  const size_t numberArgs[5] = {3, 4, 5, 6, 8};
  for (int i = 0; i < 5; i++) {
    if (!NumberArg(env, info[numberArgs[i]], &numbers[i])) {
      ThrowType(env, "dedupBind: bucketMask, ringRows, pendingLimit, windowNs and at must be numbers");
      return env.Undefined();
    }
  }
  auto* table = new (std::nothrow) DedupTable();
  if (table == nullptr) {
    ThrowRange(env, "dedupBind: out of memory");
    return env.Undefined();
  }
  if (!DedupBind(*table, headers, headersLength, rows, rowsLength, links, linksLength, numbers[0], numbers[1], numbers[2], numbers[3], block,
                 blockLength, numbers[4])) {
    delete table;
    ThrowRange(env, "dedupBind: the arrays, constants and block do not fit together (see dedup.h DedupBind)");
    return env.Undefined();
  }
  return BindFunction(env, "isDuplicate", DedupIsDuplicateBound, table, ReleaseTable,
                      {{"headers", info[0]}, {"rows", info[1]}, {"links", info[2]}, {"block", info[7]}});
}

}  // namespace

void InitFastDedupTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("dedupBind", Napi::Function::New<DedupBindBinding>(env, "dedupBind"));
  testing.Set("dedupScalarWords", Napi::Number::New(env, kDedupScalarWords));
}

}  // namespace hubcap::fastpath
