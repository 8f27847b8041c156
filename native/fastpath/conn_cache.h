// The connection cache for the fast path: src/datapath/conn-cache.ts ConnectionCache.find and
// .stage over its rows, read-only (the fast path only takes forward packets whose two stages
// have a cached outcome of this generation).
#ifndef HUBCAP_NATIVE_FASTPATH_CONN_CACHE_H_
#define HUBCAP_NATIVE_FASTPATH_CONN_CACHE_H_

#include <cstddef>
#include <cstdint>

namespace hubcap::fastpath::conncache {

constexpr int kStride = 16;
constexpr int kIdLo = 0;
constexpr int kIdHi = 1;
constexpr int kGen = 2;
constexpr int kFlags = 3;
constexpr int kStageBase = 4;
constexpr int kSKey = 0;
constexpr int kSVerdict = 1;
constexpr int kSStageVerdict = 2;
constexpr int32_t kFStage = 2;
constexpr int32_t kFAudited = 8;
constexpr int32_t kFFromVni = 16;

struct Rows {
  int32_t* rows = nullptr;
  uint32_t mask = 0;  // rows.length / kStride - 1
};

// policyInputKey(proto, hasPorts, dport, icmpType, icmpCode).
inline int32_t PolicyInputKey(int32_t proto, bool hasPorts, int32_t dport, int32_t icmpType, int32_t icmpCode) {
  if (proto == 1 || proto == 58) return static_cast<int32_t>((static_cast<uint32_t>(proto) << 24) | ((static_cast<uint32_t>(icmpType) & 0x3ffu) << 10) | (static_cast<uint32_t>(icmpCode) & 0x3ffu));
  return static_cast<int32_t>((static_cast<uint32_t>(proto) << 24) | (hasPorts ? 0x10000u | static_cast<uint32_t>(dport) : 0u));
}

// ConnectionCache.find(id, gen): the row offset, or -1.
inline int64_t Find(const Rows& c, int32_t id, int32_t gen) {
  if (c.rows == nullptr || id <= 0) return -1;
  size_t o = static_cast<size_t>(static_cast<uint32_t>(id) & c.mask) * kStride;
  const int32_t* r = c.rows + o;
  if (r[kIdLo] != id || r[kIdHi] != 0 || r[kGen] != gen) return -1;
  return static_cast<int64_t>(o);
}

// ConnectionCache.stage(o, stage, key, fromVni = false): true when the stage's cached outcome of
// these inputs lets the packet through as a plain allow (verdict 0, not audited, no drop the
// audit mode turned into an allow), which is the only outcome the fast path finishes.
inline bool StagePlainAllow(const Rows& c, int64_t o, int stage, int32_t key) {
  const int32_t* r = c.rows + o;
  uint32_t flags = static_cast<uint32_t>(r[kFlags]) >> (4 * stage);
  const int32_t* b = r + kStageBase + stage * 6;
  if ((flags & kFStage) == 0 || b[kSKey] != key || (flags & kFFromVni) != 0) return false;
  return b[kSVerdict] == 0 && b[kSStageVerdict] == 0 && (flags & kFAudited) == 0;
}

}  // namespace hubcap::fastpath::conncache

#endif  // HUBCAP_NATIVE_FASTPATH_CONN_CACHE_H_
