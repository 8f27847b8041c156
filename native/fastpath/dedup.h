// Duplicate suppression (src/datapath/dedup.ts Deduplicator) over the Deduplicator's own typed
// arrays and scalars, decision for decision and write for write. OWNER: the dedup port.
//
// The TypeScript object owns everything: its three Int32Arrays (headers, rows, links, see the
// layout in dedup.ts's module comment), its constants, and its mutable fields, which it mirrors
// into a Float64Array "scalar block" (Deduplicator.saveScalars / loadScalars, DEDUP_SCALAR_WORDS
// words at `at`). DedupIsDuplicate reads and writes only those arrays and the block; it
// allocates nothing. Bind again whenever the Deduplicator's arrays are other objects (they never
// are today: a Deduplicator's arrays live as long as it does).
#ifndef HUBCAP_NATIVE_FASTPATH_DEDUP_H_
#define HUBCAP_NATIVE_FASTPATH_DEDUP_H_

#include <cstddef>
#include <cstdint>

#include "packet.h"

namespace hubcap::fastpath {

// The scalar block: the Deduplicator's mutable fields as doubles (booleans 0 / 1), in this order
// (dedup.ts saveScalars / loadScalars, DEDUP_SCALAR_WORDS).
enum DedupScalar : int {
  kDedupCursor = 0,    // cursor: the ring row the next packet's record goes to
  kDedupSingle,        // single: the fast path (one observation point so far) is on
  kDedupFirstHi,       // firstHi, firstLo: that point (valid once pendingSeen)
  kDedupFirstLo,
  kDedupPendingSeen,   // pendingSeen
  kDedupPendingCount,  // pendingCount: pending rows, the ones before the cursor
  kDedupMaxSec,        // maxSec, maxNsec: latest time seen in the fast path
  kDedupMaxNsec,
  kDedupEpoch,         // epoch: capture second the stored seconds count from (-1: none yet)
  kDedupDupCount,      // dupCount: duplicates found so far
  kDedupScalarWords,
};

// dedup.ts constants.
constexpr int kDedupRecordWords = 21;  // K
constexpr int kDedupWays = 4;          // WAYS
constexpr int kDedupPoints = 4;        // POINTS
constexpr int kDedupHeaderWords = 16;  // HDR
constexpr int kDedupRowWords = 32;     // ROW
constexpr int32_t kDedupMaxRing = 1 << 22;  // MAX_RING

struct DedupTable {
  // Deduplicator.headers: (bucketMask + 1) * 16 words.
  int32_t* headers = nullptr;
  // Deduplicator.rows: (ringRows + slots) * 32 words (the ring, then one spill row per way).
  int32_t* rows = nullptr;
  // Deduplicator.links: ringRows words.
  int32_t* links = nullptr;
  int32_t bucketMask = 0;
  // Ways (slots): (bucketMask + 1) * 4.
  int32_t slots = 0;
  int32_t ringRows = 0;
  int32_t pendingLimit = 0;
  double windowNs = 0;
  // kDedupScalarWords doubles of the scalar block.
  double* scalars = nullptr;
  bool bound = false;
};

// Binds `t` to a Deduplicator's arrays (lengths in elements), constants (Deduplicator.nativeView)
// and scalar block (`blockLength` doubles, the scalars at `at`). False, leaving `t` unbound,
// when they do not fit together (lengths, a ring or bucket count that is not a power of two, a
// window that is not a finite non-negative number, a block too short): a bound table never
// indexes outside these arrays.
bool DedupBind(DedupTable& t, int32_t* headers, size_t headersLength, int32_t* rows, size_t rowsLength, int32_t* links,
               size_t linksLength, double bucketMask, double ringRows, double pendingLimit, double windowNs, double* block,
               size_t blockLength, double at);

// The Deduplicator's mutable fields (DedupScalar) while the addon runs: a batch loads them from
// the scalar block once (DedupLoad), makes its DedupIsDuplicate calls over them, and stores them
// back once (DedupSave), as TypeScript reads the block only between batches.
struct DedupState {
  uint32_t cursor = 0;
  bool single = false;
  int32_t firstHi = 0;
  int32_t firstLo = 0;
  bool pendingSeen = false;
  int32_t pendingCount = 0;
  double maxSec = 0;
  double maxNsec = 0;
  double epoch = -1;
  double dupCount = 0;
};
void DedupLoad(const DedupTable& t, DedupState* out);
void DedupSave(const DedupTable& t, const DedupState& s);

// What DedupIsDuplicate needs of a packet's bytes: dedup.ts contentOf(p, frame) (a hash of the
// frame's bytes past the transport header, 0 for TCP) and the recordHash of the packet's row.
struct DedupKey {
  int32_t content = 0;
  int32_t hash = 0;
  // The row's words 0 (kinds and flags) and 9 (ports): the hash reads them, FillRow writes them.
  int32_t word0 = 0;
  int32_t word9 = 0;
};

// The batch's look-ahead (fastpath.cc RunBatch): the packet's DedupKey, with the duplicate
// table's bucket it will probe prefetched. `t` must be bound.
DedupKey DedupPrefetch(const DedupTable& t, const FastPacket& p, const uint8_t* frame);

// Prefetches, for writing, the ring row kDedupRingAhead packets past the cursor: every packet's
// record is written into the next ring row (fillRow), a stream of two lines a packet through a
// ring larger than the cache.
constexpr uint32_t kDedupRingAhead = 8;
void DedupPrefetchRing(const DedupTable& t, const DedupState& s);

// DedupIsDuplicate below over the fields in `s` (loaded from `t`'s block, not stored back), with
// the packet's DedupKey (from DedupPrefetch) instead of its frame.
bool DedupIsDuplicate(DedupTable& t, DedupState& s, const FastPacket& p, const DedupKey& key, double tsSec, double tsNsec, int32_t interfaceId);

// Deduplicator.isDuplicate(p, tsSec, tsNsec, frame) for a fast-path packet (packet.h: never a
// fragment, no ICMP quote, no encapsulation), `frame` its bytes from the first one
// (frame[0, p.captureLength) readable) and `interfaceId` the frame's pcapng interface (0 for
// none): true when `p` is a copy of a packet seen within the window at another observation
// point. Updates the arrays and the scalar block exactly as the TypeScript call does. `t` must
// be bound.
bool DedupIsDuplicate(DedupTable& t, const FastPacket& p, const uint8_t* frame, double tsSec, double tsNsec, int32_t interfaceId);

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_DEDUP_H_
