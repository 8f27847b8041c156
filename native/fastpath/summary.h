// The summary's count of one final event (src/flow/summary.ts FlowSummary.addFinal,
// flushPending and TopDropped.add / minimum / siftUp / siftDown) over FlowSummary's own typed
// arrays and scalars. OWNER: the summary port.
//
// Protocol (notes/fastpath-spec.md): the arrays are FlowSummary's (its @internal accessors);
// C++ never grows or allocates anything in them. TS re-binds when an array object was replaced
// (the dense connection records and the pair rows grow by replacement). The mutable scalars the
// mirrored code touches live in a Float64Array block (FlowSummary.saveScalars/loadScalars) at
// `scalars[kSum*]` while the fast path runs.
//
// Use: SummaryCheckFinal (read-only but for TopDropped.minimum's re-placement of stale heap tops,
// which is idempotent and which TypeScript would do first for the same event anyway), then, only
// when it answered true and nothing changed in between, SummaryCommitFinal.
//
// A new connection's events (notes/newconn-spec.md component D) use the Summary*PolicyVerdict,
// Summary*Translated and Summary*NewFinal pairs, which also need PairTable's arrays, the rule
// counts and maxPairs (ReadSummaryNewTables, summary_args.h): every check of a packet's events
// first, against the state before the packet, then the commits in TypeScript's event order.
// The checks stay valid across the packet's earlier commits: a translation and the policy
// verdicts only set record bits 8..14 and count rules or translations, which no later check
// reads (a final event reads the verdict bits 0..7, the pair and the drop slot).
#ifndef HUBCAP_NATIVE_FASTPATH_SUMMARY_H_
#define HUBCAP_NATIVE_FASTPATH_SUMMARY_H_

#include <cstddef>
#include <cstdint>

namespace hubcap::fastpath {

// src/flow/summary.ts layout constants (SUMMARY_LAYOUT there).
constexpr double kSumDenseLimit = 16777216.0;  // DENSE_LIMIT = 1 << 24
constexpr int32_t kSumRec = 8;                 // REC: int32 words per connection record
constexpr int32_t kSumRMask = 0;               // R_MASK
constexpr int32_t kSumRDropSlot = 1;           // R_DROP_SLOT: Space-Saving slot + 1
constexpr int32_t kSumRPair = 2;               // R_PAIR: pair + 1
constexpr int32_t kSumRSrcSide = 3;            // R_SRC_SIDE
constexpr int32_t kSumRDstSide = 4;            // R_DST_SIDE
constexpr int32_t kSumRPending = 5;            // R_PENDING: (n << 3) | verdict
constexpr int32_t kSumPendingLimit = (1 << 27) << 3;  // PENDING_LIMIT

// The scalar block (FlowSummary.saveScalars order), at `SummaryTables::scalars`.
enum SummaryScalar : int {
  kSumInheritedPackets = 0,  // FlowSummary.inheritedPackets
  kSumDroppedSize = 1,       // TopDropped.size (slots in use)
  kSumDroppedEvictions = 2,  // TopDropped.evictions
  kSumTranslatedConnections = 3,  // FlowSummary.translatedConnections
  kSumPairCount = 4,              // PairTable.count (real pairs, numbers 1..count)
  kSumPairsTruncated = 5,         // FlowSummary.pairsTruncated (0 or 1)
  kSummaryScalarWords = 6,        // SUMMARY_SCALAR_WORDS
};

// Pointers into FlowSummary's typed arrays (not owned) and their lengths in elements.
struct SummaryTables {
  // ConnectionRecords' dense array (Int32Array, REC words per connection number).
  int32_t* records = nullptr;
  size_t recordsLength = 0;
  // FlowSummary.packets / connections (8 verdicts), dropPackets / dropConnections (256 reasons).
  double* packets = nullptr;
  double* connections = nullptr;
  double* dropPackets = nullptr;
  double* dropConnections = nullptr;
  // PairTable.packets / connections (8 verdicts per pair).
  double* pairPackets = nullptr;
  size_t pairPacketsLength = 0;
  double* pairConnections = nullptr;
  size_t pairConnectionsLength = 0;
  // TopDropped: `capacity` slots; every array has `capacity` elements (words: 8 per slot).
  uint32_t capacity = 0;
  double* key = nullptr;
  double* count = nullptr;
  double* error = nullptr;
  uint16_t* reason = nullptr;
  double* srcSide = nullptr;
  double* dstSide = nullptr;
  uint8_t* family = nullptr;
  uint8_t* proto = nullptr;
  uint16_t* sport = nullptr;
  uint16_t* dport = nullptr;
  uint32_t* words = nullptr;
  int32_t* heap = nullptr;
  double* heapKey = nullptr;
  int32_t* pos = nullptr;
  // kSummaryScalarWords doubles (SummaryScalar).
  double* scalars = nullptr;
  bool bound = false;

  // For a new connection's events (ReadSummaryNewTables; the *New* functions refuse while
  // `newBound` is false, as it stays when only ReadSummaryTables filled the tables).
  // FlowSummary.ruleConnections: 6 per rule slot (slot 0: no rule; slot k: rule k - 1) =
  // direction (ingress 0, egress 1) x outcome (allowed, denied, audited).
  double* ruleConnections = nullptr;
  size_t ruleConnectionsLength = 0;
  // PairTable.src / dst (one side per pair number; the same length) and buckets (pair + 1, 0
  // empty; a power of two long).
  double* pairSrc = nullptr;
  double* pairDst = nullptr;
  size_t pairSidesLength = 0;
  int32_t* pairBuckets = nullptr;
  size_t pairBucketsLength = 0;
  // FlowSummary.maxPairs (the option as given: compared as a double, as TypeScript does).
  double maxPairs = 0;
  bool newBound = false;
};

// One final event as the summary reads it (FlowEvent fields; src/dst/ports as ev.packet has
// them, the summary orients them by isReply itself). The event always has a packet.
struct FinalEvent {
  // The verdict it counts under: FlowSummary.outcome(ev), 0..7 (the fast path's events are
  // FORWARDED traces and DROPPED drops).
  int32_t verdict = 0;
  bool inherited = false;
  int32_t dropReason = 0;
  // FlowEvent.connection (the conntrack connection number).
  double connection = 0;
  int32_t srcEndpoint = -1;
  int32_t dstEndpoint = -1;
  uint32_t srcIdentity = 0;
  uint32_t dstIdentity = 0;
  bool isReply = false;
  int32_t ipVersion = 0;
  int32_t ipProto = 0;
  int32_t sport = 0;
  int32_t dport = 0;
  uint32_t src[4] = {0, 0, 0, 0};
  uint32_t dst[4] = {0, 0, 0, 0};
};

// True when SummaryCommitFinal can count `ev` exactly as FlowSummary.add would: its connection's
// record is in the dense array as bound (no growth), the record's cached pair applies to the
// event's sides, every index the commit will use is inside the bound arrays, and, for a DROPPED
// event of an untracked connection when every slot is used, the slot it would take belongs to a
// connection with a dense record. False leaves everything as it was (but for minimum's
// re-placement of stale tops, see above). `findVictim` false skips that last condition and with
// it minimum(), so the check reads only: the fast path checks so before duplicate suppression
// (a duplicate never reaches the summary, so minimum must not run for it), and with the
// victim after it.
// With `place`, where it found the event's record and its oriented sides, for SummaryCommitFinal.
struct FinalPlace {
  int64_t rec = -1;  // the record's offset in the dense array
  double srcSide = 0;
  double dstSide = 0;
};
bool SummaryCheckFinal(SummaryTables& t, const FinalEvent& ev, bool findVictim = true, FinalPlace* place = nullptr);

// That last condition alone, for an event SummaryCheckFinal(t, ev, false) accepted: true
// unless `ev` is a drop of an untracked connection with every slot used whose victim (found by
// minimum(), which may re-place stale tops) has no dense record.
bool SummaryCheckVictim(SummaryTables& t, const FinalEvent& ev);
// The same for an event whose record SummaryCheckFinal or SummaryCheckNewFinal found at `rec`
// (FinalPlace::rec), without finding it again.
bool SummaryCheckVictimAt(SummaryTables& t, const FinalEvent& ev, int64_t rec);

// Counts `ev` (after SummaryCheckFinal answered true for it, with `place`): FlowSummary.addFinal
// with flushPending and TopDropped.add, write for write.
void SummaryCommitFinal(SummaryTables& t, const FinalEvent& ev, const FinalPlace& place);

// ---- A new connection's events ------------------------------------------------------------------

// A policy-verdict event as FlowSummary.addPolicyVerdict reads it.
struct PolicyVerdictEvent {
  int32_t verdict = 0;           // FlowEvent.verdict (FORWARDED/REDIRECTED allow, DROPPED deny, AUDIT)
  int32_t trafficDirection = 0;  // FlowEvent.trafficDirection (EGRESS 2 counts as egress, else ingress)
  int32_t rule = -1;             // FlowEvent.rule: a rule index, -1 (or out of range) for none
  double connection = 0;         // FlowEvent.connection
};

// True when SummaryCommitPolicyVerdict can count `ev` exactly as FlowSummary.add would: a
// verdict addPolicyVerdict ignores (nothing to do), or a connection whose record is in the dense
// array as bound, with the rule counts bound. Read-only.
bool SummaryCheckPolicyVerdict(const SummaryTables& t, const PolicyVerdictEvent& ev);

// FlowSummary.addPolicyVerdict: the record's bit for (direction, outcome), and when it was not
// set yet, one more connection for the rule slot (rule + 1 when 0 <= rule < rules, else 0).
void SummaryCommitPolicyVerdict(SummaryTables& t, const PolicyVerdictEvent& ev);

// True when the connection's record is in the dense array as bound (FlowSummary.add's
// TRANSLATED branch for an event with a connection number). Read-only.
bool SummaryCheckTranslated(const SummaryTables& t, double connection);

// FlowSummary.add's TRANSLATED branch: the record's BIT_TRANSLATED, and when it was not set yet,
// one more translated connection (kSumTranslatedConnections).
void SummaryCommitTranslated(SummaryTables& t, double connection);

// SummaryCheckFinal for any record, cached pair or not: when the event's sides are not the
// record's cached pair, PairTable.find must find the pair, or the insert (PairTable.add) must
// fit without growing the pair rows (pair number < the sides' length) or rehashing (2 * number
// <= buckets), or the table must be at maxPairs (the event goes to the "(other pairs)" row);
// the record's pending packets must flush into a pair row inside the arrays. `findVictim` as
// for SummaryCheckFinal (SummaryCheckVictim then does the rest). With `place`, the record it found
// (FinalPlace::rec; its sides too), for SummaryCheckVictimAt.
bool SummaryCheckNewFinal(SummaryTables& t, const FinalEvent& ev, bool findVictim = true, FinalPlace* place = nullptr);

// FlowSummary.addFinal (+ flushPending, pairOf, PairTable.find / add / place, TopDropped.add),
// write for write, after SummaryCheckNewFinal answered true.
void SummaryCommitNewFinal(SummaryTables& t, const FinalEvent& ev);

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_SUMMARY_H_
