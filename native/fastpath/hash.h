// src/net/hash.ts in C++: murmur3's 32-bit block round and finalizer, bit for bit (the fast path
// shares the TypeScript tables, so it must hash exactly as they do). int32 in, int32 out, as
// JavaScript's Math.imul and | 0 compute them.
#ifndef HUBCAP_NATIVE_FASTPATH_HASH_H_
#define HUBCAP_NATIVE_FASTPATH_HASH_H_

#include <cstdint>

namespace hubcap::fastpath {

inline uint32_t Rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// murmur3Round(h, k).
inline int32_t Murmur3Round(int32_t h, int32_t k) {
  uint32_t kk = static_cast<uint32_t>(k) * 0xcc9e2d51u;
  kk = Rotl32(kk, 15);
  uint32_t hh = static_cast<uint32_t>(h) ^ (kk * 0x1b873593u);
  hh = Rotl32(hh, 13);
  return static_cast<int32_t>(hh * 5u + 0xe6546b64u);
}

// murmur3Finish(h).
inline int32_t Murmur3Finish(int32_t h) {
  uint32_t x = static_cast<uint32_t>(h);
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  x *= 0xc2b2ae35u;
  x ^= x >> 16;
  return static_cast<int32_t>(x);
}

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_HASH_H_
