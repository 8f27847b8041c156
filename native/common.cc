// Allocation accounting for the native maps (common.h).
#include "common.h"

#include <atomic>

#if !defined(HUBCAP_SANITIZE)
#include <sys/mman.h>
#endif

namespace hubcap {

namespace {

std::atomic<size_t> g_total{0};

// Zeroed memory aligned to a cache line (hash buckets are one line each).
void* AlignedZeroed(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, bytes) != 0) return nullptr;
  memset(p, 0, bytes);
  return p;
}

#if !defined(HUBCAP_SANITIZE)
// Blocks from this size on are mappings of their own, advised to use 2 MiB pages.
constexpr size_t kMapThreshold = size_t{1} << 21;
constexpr size_t kPage = 4096;
constexpr size_t kHugePage = size_t{1} << 21;

size_t MappedSize(size_t bytes) { return (bytes + kPage - 1) & ~(kPage - 1); }
#endif

}  // namespace

size_t TotalBytes() { return g_total.load(std::memory_order_relaxed); }

void* TrackedAlloc(size_t bytes, MemCounter* mem) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
#if !defined(HUBCAP_SANITIZE)
  if (bytes >= kMapThreshold) {
    size_t len = MappedSize(bytes);
    // Mapped 2 MiB-aligned (a larger mapping, trimmed): a huge page can only back an aligned
    // 2 MiB of it, and an unaligned table loses one at each end.
    const size_t span = len + kHugePage;
    char* raw = static_cast<char*>(mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (raw == MAP_FAILED) return nullptr;
    char* start = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kHugePage - 1) & ~(kHugePage - 1));
    if (start != raw) munmap(raw, static_cast<size_t>(start - raw));
    const size_t tail = span - static_cast<size_t>(start - raw) - len;
    if (tail != 0) munmap(start + len, tail);
    p = start;
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);
#endif
    bytes = len;
  } else {
    p = AlignedZeroed(bytes);
    if (p == nullptr) return nullptr;
  }
#else
  p = AlignedZeroed(bytes);
  if (p == nullptr) return nullptr;
#endif
  mem->bytes += bytes;
  g_total.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}

void TrackedFree(void* p, size_t bytes, MemCounter* mem) {
  if (p == nullptr) return;
  if (bytes == 0) bytes = 1;
#if !defined(HUBCAP_SANITIZE)
  if (bytes >= kMapThreshold) {
    bytes = MappedSize(bytes);
    munmap(p, bytes);
  } else {
    free(p);
  }
#else
  free(p);
#endif
  mem->bytes -= bytes;
  g_total.fetch_sub(bytes, std::memory_order_relaxed);
}

}  // namespace hubcap
