// ECMAScript number conversions the fast path must apply exactly as the TypeScript it mirrors:
// ToInt32 / ToUint32 (`x | 0`, `x >>> 0`, a store into an Int32Array or Uint32Array).
#ifndef HUBCAP_NATIVE_FASTPATH_JS_NUMBER_H_
#define HUBCAP_NATIVE_FASTPATH_JS_NUMBER_H_

#include <cmath>
#include <cstdint>

namespace hubcap::fastpath {

// ECMAScript ToUint32 of a double, without undefined behaviour for any input: truncated toward
// zero, modulo 2^32; NaN and the infinities give 0. Any double of magnitude below 2^63 converts
// to int64 exactly after truncation, and its low 32 bits are the answer (the common case: no
// fmod, which cost ~30 instructions a call in the summary's hashing).
inline uint32_t JsToUint32(double d) {
  if (d > -9.0e18 && d < 9.0e18) return static_cast<uint32_t>(static_cast<uint64_t>(static_cast<int64_t>(d)));
  if (!std::isfinite(d)) return 0;
  const double m = std::fmod(std::trunc(d), 4294967296.0);
  return static_cast<uint32_t>(static_cast<int64_t>(m < 0 ? m + 4294967296.0 : m));
}

// ECMAScript ToInt32 of a double (JsToUint32's bits as signed).
inline int32_t JsToInt32(double d) { return static_cast<int32_t>(JsToUint32(d)); }

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_JS_NUMBER_H_
