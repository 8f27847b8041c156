// Test bindings of the decode port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-decode.test.ts).
#include <napi.h>

#include <cmath>

#include "../bindings.h"
#include "decode.h"
#include "packet.h"

namespace hubcap::fastpath {

namespace {

// A number argument that is an integer in [0, 2^32 - 1], else false.
bool U32Strict(napi_env env, napi_value v, uint32_t* out) {
  double x = 0;
  if (napi_get_value_double(env, v, &x) != napi_ok) return false;
  if (!(x >= 0 && x <= 4294967295.0) || std::floor(x) != x) return false;
  *out = static_cast<uint32_t>(x);
  return true;
}

// fastDecode(data: Uint8Array, offset, caplen, wireLength, linkType, out: Int32Array) -> boolean
// Decodes the frame data[offset, offset + caplen) as decodeBytes does (caplen clamped to the
// array's end, like its `end`; an offset past the end is a truncated frame: false), and packs
// the FastPacket into out[0, kPackedWords) when FastDecode takes the packet. Wrong argument
// types throw a TypeError; nothing outside `data` is read.
Napi::Value FastDecodeBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t dataLen = 0;
  int32_t* out = nullptr;
  size_t outLen = 0;
  uint32_t offset = 0, caplen = 0, wireLength = 0, linkType = 0;
  if (info.Length() < 6 || !TypedArg(env, info[0], napi_uint8_array, const_cast<uint8_t**>(&data), &dataLen) ||
      !U32Strict(env, info[1], &offset) || !U32Strict(env, info[2], &caplen) || !U32Strict(env, info[3], &wireLength) ||
      !U32Strict(env, info[4], &linkType) || !TypedArg(env, info[5], napi_int32_array, &out, &outLen) ||
      outLen < static_cast<size_t>(kPackedWords)) {
    Napi::TypeError::New(env,
                         "fastDecode(data: Uint8Array, offset, caplen, wireLength, linkType: u32, out: Int32Array(>= " +
                             std::to_string(kPackedWords) + "))")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (offset > dataLen) return Napi::Boolean::New(env, false);
  const size_t room = dataLen - offset;
  const uint32_t n = caplen > room ? static_cast<uint32_t>(room) : caplen;
  FastPacket p;
  const bool ok = FastDecode(n == 0 ? nullptr : data + offset, n, wireLength, linkType, &p);
  if (ok) PackFastPacket(p, out);
  return Napi::Boolean::New(env, ok);
}

}  // namespace

void InitFastDecodeTesting(Napi::Env env, Napi::Object testing) {
  testing.Set("fastDecode", Napi::Function::New(env, FastDecodeBinding, "fastDecode"));
}

}  // namespace hubcap::fastpath
