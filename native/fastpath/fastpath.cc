// The native fast path of the replay (src/datapath/fast-path.ts drives it).
//
// For each frame, Decide does what src/datapath/program.ts Datapath.process would do
// for the common packet — a later packet of a tracked connection whose outcome is settled (an
// inherited drop, a reply, or an allowed established forward packet), or the first packet of a
// connection (SettleNew / CommitNew: locate.h, stage.h, ct_create.h) — and counts its events
// as src/flow/summary.ts FlowSummary.add would, on the TypeScript structures' own arrays
// (conntrack rows and index, the connection cache, the duplicate table, the summary's records),
// with their scalars in a shared Float64Array block. Everything it cannot finish exactly is
// left to the TypeScript program, untouched (answer 0) or, once duplicate suppression has kept
// the packet, with that step done (answer 2).
//
// The order of the steps is Datapath.process's: duplicate suppression, then the L7 stage's
// clock, then (decide) services, conntrack, policy, the final event. All the checks that can
// send a packet to TypeScript run first and read only; the duplicate table is the first write.
//
// Frames come in batches (RunBatch): descriptors in a Float64Array, bytes in the reader's chunk;
// a look-ahead pipeline decodes and prefetches a few frames ahead of the one decided.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../bindings.h"
#include "conn_cache.h"
#include "conntrack.h"
#include "ct_create.h"
#include "decode.h"
#include "dedup.h"
#include "locate.h"
#include "summary.h"
#include "services.h"
#include "stage.h"
#include "summary_args.h"

namespace hubcap::fastpath {
namespace {

// The scalar block's words (src/datapath/fast-path.ts BLOCK_*).
constexpr int kBlockFrames = 0;
constexpr int kBlockIpPackets = 1;
constexpr int kBlockDuplicates = 2;
constexpr int kBlockGeneration = 3;
constexpr int kBlockNextExpiry = 4;  // the L7 stage's next FQDN expiry check (seconds)
constexpr int kBlockCtEpoch = 5;
constexpr int kBlockCtSeq = 6;  // four words
constexpr int kBlockAnswer = 10;  // run's answer for the frame it stopped at
constexpr int kBlockScanEnd = 11;    // scanPcap: the position after the records it took
constexpr int kBlockScanBytes = 12;  // and the sum of their captured lengths
constexpr int kBlockDedup = 16;
constexpr int kBlockSummary = 48;
constexpr int kBlockCtCreate = 64;  // Conntrack.saveCreateScalars (ct::kCreateScalarWords)
constexpr int kBlockWords = 96;
static_assert(kBlockSummary + kSummaryScalarWords <= kBlockCtCreate && kBlockCtCreate + ct::kCreateScalarWords <= kBlockWords, "the block's parts do not overlap");

// Answers of Decide.
constexpr int32_t kSlow = 0;
constexpr int32_t kDone = 1;
constexpr int32_t kSlowAfterDedup = 2;

// src/maps/codes.ts / events.ts values the fast path emits.
constexpr int32_t kVerdictForwarded = 1;
constexpr int32_t kVerdictDropped = 2;

constexpr int kFrontendFilterWords = (1 << 16) >> 5;

// The batch loop's look-ahead (a software pipeline, as DPDK's lookup loops are written): a frame
// is decoded kAheadDecode frames before its turn and its conntrack index slot and duplicate-table
// bucket prefetched; its slot is read and its row prefetched kAheadRow frames before; the
// connection's summary record and connection-cache row kAheadConn frames before. Every address
// is only a hint (a slow packet in between may change the tables; the decision itself reads
// everything again). Twice the distances of 8 / 5 / 2 measured ~2% faster on the replay bench
// (at ~400 ns a packet, a line is well in flight either way).
constexpr uint32_t kAheadDecode = 16;
constexpr uint32_t kAheadRow = 10;
constexpr uint32_t kAheadConn = 4;
constexpr uint32_t kRing = 32;  // > kAheadDecode
constexpr uint32_t kNoResume = 0xFFFFFFFFu;

// A frame of the batch on its way through the look-ahead pipeline (RunBatch): decoded, with
// its conntrack tuple and key, and the row its key's index slot named when it was read.
struct Ahead {
  FastPacket p;
  const uint8_t* frame;
  bool ok;
  ct::Tuple tuple;
  int table;
  int32_t key;
  int32_t row;
  DedupKey dedupKey;  // DedupPrefetch's (when duplicate suppression is on)
};

// What SettleNew found for the first packet of a connection: everything its commit writes.
struct Fresh {
  ct::Hit miss;         // the lookup that found no entry (its probe's stamp is still due)
  ct::CreatePlan plan;  // Conntrack.createRow's, worked out read-only
  ct::Tuple tuple;      // as services translated it
  int32_t key = 0;
  LocateResult loc;
  bool translated = false;  // the destination was a service frontend
  int32_t service = -1;     // and its number (REV_NAT)
  uint32_t origDst[4] = {0, 0, 0, 0};
  int32_t origDport = 0;
  int32_t inputKey = 0;  // the connection cache's key of the packet's policy inputs
  bool egress = false;   // the stages decided (program.ts: at a managed end, not host-local)
  bool ingress = false;
  stage::StageDecision eg;
  stage::StageDecision in;
  int dropStage = -1;  // the stage that dropped it, -1 for none
};

// What Settle found for a packet the addon can finish: its conntrack hit, the table clock and
// the final event.
// Kept in the FastPath (FastPath::settled), not on Decide's stack: constructing one for every
// packet initialized its ~100 bytes of fields, most of which Settle writes anyway; Settle resets
// what it may leave unwritten (`fresh`). A new connection's Fresh is kept there too
// (FastPath::fresh), reset only when SettleNew runs.
struct Settled {
  ct::Hit hit;
  double now;
  FinalEvent ev;
  FinalPlace place;    // the summary record and sides SummaryCheckFinal (SummaryCheckNewFinal) found
  bool fresh = false;  // a new connection: FastPath::fresh holds the rest
};

struct FastPath {
  double* block = nullptr;
  size_t blockLength = 0;
  bool perPacket = false;
  bool hasL7 = false;
  bool dedupOn = false;
  bool ctBound = false;
  bool connBound = false;
  bool dedupBound = false;
  bool summaryBound = false;
  const int32_t* frontendFilter = nullptr;  // DatapathState's filter of frontend addresses
  Services services;                        // and its frontends
  ct::Tables ct;
  conncache::Rows conn;
  DedupTable dedup;
  SummaryTables summary;
  // The reader's current chunk (setData).
  const uint8_t* data = nullptr;
  size_t dataLength = 0;
  // The batch's frame descriptors (kDescWords doubles each, src/datapath/fast-path.ts).
  double* desc = nullptr;
  size_t descFrames = 0;
  // Packets finished per connection number, for the expectation checker (null: no --expect).
  double* expectPackets = nullptr;
  size_t expectLength = 0;
  // New connections (SettleNew): allowed by createFastPath (not with --per-packet, --audit or
  // --expect, whose events the addon does not make), and possible once their parts are bound:
  // conntrack creation (its free rows: bindConntrack; its scalars: kBlockCtCreate), the
  // endpoints and identities (bindLocate), the policy maps (bindPolicy) and the summary's
  // pair table and rule counts (bindSummary).
  bool newAllowed = false;
  bool locateBound = false;
  bool policyBound = false;
  LocateTables locate;
  stage::PolicyTables policy;
  ct::CreateScalars ctCreate;
  bool NewConnections() const { return newAllowed && ctBound && ct.freeRows != nullptr && locateBound && policyBound && summary.newBound; }
  // RunBatch's look-ahead ring (kept here: no per-call construction), and where a call may
  // take it up again (Stopped): the next frame after the one left to TypeScript, the end of
  // the frames decoded, and the conntrack key mask their keys were made with.
  Ahead ring[kRing];
  // Decide's packet as Settle found it (see Settled), and SettleNew's findings for CommitNew.
  Settled settled;
  Fresh fresh;
  // Settle's packet as services translated it (kept here, like `fresh`: a FastPacket on the
  // stack is initialized for every packet, translated or not).
  FastPacket translatedPacket;
  uint32_t resumeAt = kNoResume;
  uint32_t decodedEnd = 0;
  int32_t decodedKeyMask = 0;
};

// A frame descriptor's words: where the frame is in the chunk and what the reader said of it.
constexpr int kDescOffset = 0;
constexpr int kDescCaplen = 1;
constexpr int kDescWireLength = 2;
constexpr int kDescLinkType = 3;
constexpr int kDescTsSec = 4;
constexpr int kDescTsNsec = 5;
constexpr int kDescInterface = 6;
constexpr int kDescWords = 7;

// DatapathState frontendFilterBit: a set bit may be a frontend (the fast path then leaves the
// packet to TypeScript's exact lookup); a clear one is none.
inline bool MayBeFrontend(const int32_t* filter, int32_t family, const uint32_t* words) {
  uint32_t h = (words[3] ^ 0x5bd1e995u) * 0x9e3779b1u;
  if (family != 4) h = (h ^ words[0] ^ (words[1] * 0x85ebca6bu) ^ (words[2] * 0xc2b2ae35u)) * 0x9e3779b1u;
  uint32_t bit = h >> 16;
  return (static_cast<uint32_t>(filter[bit >> 5]) & (1u << (bit & 31))) != 0;
}

// FlowEvent verdict and traffic direction numbers (src/datapath/events.ts).
constexpr int32_t kTrafficIngress = 1;
constexpr int32_t kTrafficEgress = 2;

// program.ts packDropPlace: where a dropped connection's drop happened, as USER1 keeps it.
inline int32_t DropPlace(int stage, int32_t node) { return stage | ((node + 1) * 2); }

// A stage's rule as FlowEvent.rule: a rule index, or -1 (cookie - 1 past int32 is no rule any
// document has).
inline int32_t EventRule(int64_t rule) { return rule >= 0 && rule <= INT32_MAX ? static_cast<int32_t>(rule) : -1; }

inline PolicyVerdictEvent VerdictEventOf(const stage::StageDecision& d, int stage, double connection) {
  PolicyVerdictEvent e;
  e.verdict = d.verdict < 0 ? kVerdictDropped : kVerdictForwarded;
  e.trafficDirection = stage == stage::kStageEgress ? kTrafficEgress : kTrafficIngress;
  e.rule = EventRule(d.rule);
  e.connection = connection;
  return e;
}

// The first packet of a connection (Settle found no entry), read-only: Datapath.decide's path
// from `row < 0` on (program.ts) — locateEndpoints, both stages' policy (stagePolicy, policy),
// Conntrack.createRow, the connection cache's claim, the summary's TRANSLATED, policy-verdict
// and final events — worked out and checked to fit without growing any TypeScript array. False
// leaves the packet to TypeScript: a redirect to a proxy, a stage passed without a policy
// lookup (no policy-verdict event), a table that would grow or evict, anything not bound.
bool SettleNew(FastPath& fp, const FastPacket& p, const FastPacket& q, const ct::Tuple& tuple, int32_t key, double now, bool translated, int32_t service,
               Settled* out) {
  if (!fp.NewConnections()) return false;
  Fresh& n = fp.fresh;
  n = Fresh();
  if (!ct::LookupMiss(fp.ct, tuple, key, now, &n.miss)) return false;
  const int32_t generation = static_cast<int32_t>(fp.block[kBlockGeneration]);
  const double connection = fp.ctCreate.w[ct::kCsNextId];
  if (!(connection >= 1 && connection <= INT32_MAX)) return false;
  const int32_t conn = static_cast<int32_t>(connection);
  Locate(fp.locate, q, &n.loc);
  const LocateResult& loc = n.loc;
  const bool local = loc.srcEndpoint >= 0 && loc.srcEndpoint == loc.dstEndpoint;
  const stage::StageInput input = stage::InputOf(q);
  n.inputKey = stage::InputKey(input);
  n.dropStage = -1;
  n.egress = loc.srcEndpoint >= 0 && !local;
  if (n.egress) {
    const uint32_t remote = IdentityOf(fp.locate, loc.srcNode, q.ipVersion, q.dst);
    if (!stage::StagePolicy(fp.policy, loc.srcEndpoint, stage::kStageEgress, remote, input, &n.eg)) return false;
    if (n.eg.verdict > 0 || n.eg.bypass || n.eg.audited) return false;
    if (n.eg.verdict < 0) n.dropStage = stage::kStageEgress;
  }
  n.ingress = n.dropStage < 0 && loc.dstEndpoint >= 0 && !local;
  if (n.ingress) {
    const uint32_t remote = IdentityOf(fp.locate, loc.dstNode, q.ipVersion, q.src);
    if (!stage::StagePolicy(fp.policy, loc.dstEndpoint, stage::kStageIngress, remote, input, &n.in)) return false;
    if (n.in.verdict > 0 || n.in.bypass || n.in.audited) return false;
    if (n.in.verdict < 0) n.dropStage = stage::kStageIngress;
  }
  // The connection cache: the first stage decided claims the connection's row, the next finds it.
  if ((n.egress || n.ingress) && stage::FindRow(fp.conn, conn, generation) < 0 && !stage::CanClaim(fp.conn, conn)) return false;
  if (!ct::CanCreate(fp.ct, fp.ctCreate, tuple, key, now, &n.plan, &n.miss)) return false;
  if (translated && !SummaryCheckTranslated(fp.summary, connection)) return false;
  if (n.egress && !SummaryCheckPolicyVerdict(fp.summary, VerdictEventOf(n.eg, stage::kStageEgress, connection))) return false;
  if (n.ingress && !SummaryCheckPolicyVerdict(fp.summary, VerdictEventOf(n.in, stage::kStageIngress, connection))) return false;
  FinalEvent& ev = out->ev;
  ev.connection = connection;
  ev.srcEndpoint = loc.srcEndpoint;
  ev.dstEndpoint = loc.dstEndpoint;
  ev.srcIdentity = loc.srcIdentity;
  ev.dstIdentity = loc.dstIdentity;
  ev.isReply = false;
  ev.ipVersion = q.ipVersion;
  ev.ipProto = q.ipProto;
  ev.sport = q.sport;
  ev.dport = q.dport;
  std::memcpy(ev.src, q.src, sizeof ev.src);
  std::memcpy(ev.dst, q.dst, sizeof ev.dst);
  ev.inherited = false;
  if (n.dropStage >= 0) {
    ev.verdict = kVerdictDropped;
    ev.dropReason = -(n.dropStage == stage::kStageEgress ? n.eg.verdict : n.in.verdict);
  } else {
    ev.verdict = kVerdictForwarded;
    ev.dropReason = 0;
  }
  if (!SummaryCheckNewFinal(fp.summary, ev, /*findVictim=*/false, &out->place)) return false;
  n.tuple = tuple;
  n.key = key;
  n.translated = translated;
  n.service = service;
  std::memcpy(n.origDst, p.dst, sizeof n.origDst);
  n.origDport = p.dport;
  out->now = now;
  out->fresh = true;
  return true;
}

// SettleNew's packet, committed: its writes in Datapath.decide's order (conntrack entry, the
// TRANSLATED event, each stage's cache row and policy-verdict event, the drop's marks or the
// allowed packet's, the final event).
void CommitNew(FastPath& fp, const FastPacket& p, const Settled& s) {
  const Fresh& n = fp.fresh;
  ct::Tables& c = fp.ct;
  const double now = s.now;
  const int32_t generation = static_cast<int32_t>(fp.block[kBlockGeneration]);
  const LocateResult& loc = n.loc;
  ct::Commit(c, n.miss, /*touch=*/false, 0, 0, now);  // the lookup's recency stamp
  const int32_t row = ct::Create(c, fp.ctCreate, n.tuple, n.key, now, &n.plan);
  if (n.translated) ct::SetTranslated(c, row, n.service, n.origDst, n.origDport);
  ct::RememberLocated(c, row, generation, loc.srcEndpoint, loc.dstEndpoint, loc.srcIdentity, loc.dstIdentity);
  const int32_t conn = *c.W(static_cast<size_t>(row), ct::kId);
  const double connection = conn;
  if (n.translated) SummaryCommitTranslated(fp.summary, connection);
  if (n.egress) {
    stage::RecordStage(fp.conn, conn, generation, stage::kStageEgress, n.inputKey, false, stage::kNoVni, n.eg);
    SummaryCommitPolicyVerdict(fp.summary, VerdictEventOf(n.eg, stage::kStageEgress, connection));
    if (n.dropStage == stage::kStageEgress) {
      ct::MarkDropped(c, row, -n.eg.verdict, DropPlace(stage::kStageEgress, loc.srcNode), EventRule(n.eg.rule) + 1, p.tcpFlags, p.ipLength, now);
      SummaryCommitNewFinal(fp.summary, s.ev);
      return;
    }
  }
  if (n.ingress) {
    stage::RecordStage(fp.conn, conn, generation, stage::kStageIngress, n.inputKey, false, stage::kNoVni, n.in);
    SummaryCommitPolicyVerdict(fp.summary, VerdictEventOf(n.in, stage::kStageIngress, connection));
    if (n.dropStage == stage::kStageIngress) {
      ct::MarkDropped(c, row, -n.in.verdict, DropPlace(stage::kStageIngress, loc.dstNode), EventRule(n.in.rule) + 1, p.tcpFlags, p.ipLength, now);
      SummaryCommitNewFinal(fp.summary, s.ev);
      return;
    }
  }
  ct::MarkAllowed(c, row, 0, 0, p.tcpFlags, p.ipLength, now);
  SummaryCommitNewFinal(fp.summary, s.ev);
}

// The read-only part of Decide: true when the addon can finish the packet (`out` then holds
// what the commit needs), false when the TypeScript program must decide it. Services translate
// the packet before conntrack (`q`); duplicate suppression, later, sees it as captured.
bool Settle(FastPath& fp, const Ahead& a, double tsSec, double tsNsec, Settled* out) {
  const FastPacket& p = a.p;
  double* block = fp.block;
  out->fresh = false;
  // Datapath.process: the L7 stage's tick runs its FQDN expiry once a second of capture time.
  if (fp.hasL7 && tsSec + tsNsec / 1e9 >= block[kBlockNextExpiry]) return false;
  // decide: services (bpf/lib/lb.h) translate before conntrack (the filter answers most packets
  // without a lookup).
  const FastPacket* pq = &p;
  const ct::Tuple* tuple = &a.tuple;
  int32_t key = a.key;
  ct::Tuple translatedTuple;
  bool translated = false;
  int32_t service = -1;
  if (p.hasPorts && (MayBeFrontend(fp.frontendFilter, p.ipVersion, p.dst) || MayBeFrontend(fp.frontendFilter, p.ipVersion, p.src))) {
    FastPacket& translatedPacket = fp.translatedPacket;
    translatedPacket = p;
    if (!Translate(fp.services, &translatedPacket, &translated, &service)) return false;
    pq = &translatedPacket;
    ct::TupleOf(translatedPacket, &translatedTuple);
    tuple = &translatedTuple;
    key = ct::KeyOf(translatedTuple, fp.ct.keyMask);
  }
  const FastPacket& q = *pq;
  double epoch = block[kBlockCtEpoch];
  if (!(epoch == epoch)) return false;
  double now = ct::ClockMs(epoch, tsSec, tsNsec);
  ct::Hit hit;
  if (!ct::Lookup(fp.ct, *tuple, key, q.tcpFlags, now, &hit)) return SettleNew(fp, p, q, *tuple, key, now, translated, service, out);
  if (!ct::CanTouch(fp.ct, hit)) return false;
  const int32_t* row = fp.ct.W(static_cast<size_t>(hit.row), 0);
  // locateConnection: the endpoints and identities kept in the entry at this generation.
  int32_t generation = static_cast<int32_t>(block[kBlockGeneration]);
  if (row[ct::kUserGen] != generation) return false;
  bool reply = hit.dir == ct::kDirReply;
  int32_t srcEndpoint = row[reply ? ct::kUserDstEndpoint : ct::kUserSrcEndpoint];
  int32_t dstEndpoint = row[reply ? ct::kUserSrcEndpoint : ct::kUserDstEndpoint];
  uint32_t srcIdentity = static_cast<uint32_t>(row[reply ? ct::kUserDstIdentity : ct::kUserSrcIdentity]);
  uint32_t dstIdentity = static_cast<uint32_t>(row[reply ? ct::kUserSrcIdentity : ct::kUserDstIdentity]);
  int32_t connection = row[ct::kId];

  // Written in place: a copy of the event at the end was a `rep movs` per packet.
  FinalEvent& ev = out->ev;
  ev.connection = connection;
  ev.srcEndpoint = srcEndpoint;
  ev.dstEndpoint = dstEndpoint;
  ev.srcIdentity = srcIdentity;
  ev.dstIdentity = dstIdentity;
  ev.isReply = reply;
  ev.ipVersion = q.ipVersion;
  ev.ipProto = q.ipProto;
  ev.sport = q.sport;
  ev.dport = q.dport;
  std::memcpy(ev.src, q.src, sizeof ev.src);
  std::memcpy(ev.dst, q.dst, sizeof ev.dst);
  int32_t user0 = row[ct::kUser0];
  if (user0 != 0 && !fp.perPacket) {
    // Connection-aware replay: the opening packet was dropped, and this one inherits it.
    ev.verdict = kVerdictDropped;
    ev.inherited = true;
    ev.dropReason = user0;
  } else if (reply) {
    // REPLY skips policy; a proxied connection's replies go back through the proxy.
    if (row[ct::kProxyPort] != 0) return false;
    ev.verdict = kVerdictForwarded;
    ev.inherited = false;
    ev.dropReason = 0;
  } else {
    // ESTABLISHED forward packet: both stages from the connection cache, a plain allow each.
    bool local = srcEndpoint >= 0 && srcEndpoint == dstEndpoint;
    if (!local && (srcEndpoint >= 0 || dstEndpoint >= 0)) {
      int64_t o = conncache::Find(fp.conn, connection, generation);
      if (o < 0) return false;
      int32_t key = conncache::PolicyInputKey(q.ipProto, q.hasPorts != 0, q.dport, q.icmpType, q.icmpCode);
      if (srcEndpoint >= 0 && !conncache::StagePlainAllow(fp.conn, o, 0, key)) return false;
      if (dstEndpoint >= 0 && !conncache::StagePlainAllow(fp.conn, o, 1, key)) return false;
    }
    ev.verdict = kVerdictForwarded;
    ev.inherited = false;
    ev.dropReason = 0;
  }
  if (!SummaryCheckFinal(fp.summary, ev, /*findVictim=*/false, &out->place)) return false;
  if (fp.expectPackets != nullptr && static_cast<size_t>(connection) >= fp.expectLength) return false;
  out->hit = hit;
  out->now = now;
  return true;
}

// The frame `a` decided: kDone, or kSlowAfterDedup for TypeScript to go on with
// (Datapath.processKept). Datapath.process counts the frame, then suppresses duplicates, and
// FastDecode takes only frames that reach that step there the same way (IP, no decode error,
// no tunnel, no fragment), so every frame it decoded is suppressed or kept here, whether the
// addon finishes it or not: what TypeScript takes from after that step is all that follows it.
int32_t Decide(FastPath& fp, DedupState& dedup, const Ahead& a, double tsSec, double tsNsec, int32_t interfaceId) {
  const FastPacket& p = a.p;
  double* block = fp.block;
  Settled& settled = fp.settled;
  const bool settles = Settle(fp, a, tsSec, tsNsec, &settled);
  if (fp.dedupOn) DedupPrefetchRing(fp.dedup, dedup);
  if (fp.dedupOn && DedupIsDuplicate(fp.dedup, dedup, p, a.dedupKey, tsSec, tsNsec, interfaceId)) {
    block[kBlockFrames] += 1;
    block[kBlockDuplicates] += 1;
    return kDone;
  }
  if (!settles) return kSlowAfterDedup;
  const FinalEvent& ev = settled.ev;
  // The Space-Saving slot a new dropped connection takes (minimum() may re-place stale tops,
  // which TypeScript does first for this same event).
  if (!SummaryCheckVictimAt(fp.summary, ev, settled.place.rec)) return kSlowAfterDedup;
  block[kBlockFrames] += 1;
  block[kBlockIpPackets] += 1;
  if (settled.fresh) {
    CommitNew(fp, p, settled);
    return kDone;
  }
  ct::Commit(fp.ct, settled.hit, true, p.tcpFlags, p.ipLength, settled.now);
  SummaryCommitFinal(fp.summary, ev, settled.place);
  if (fp.expectPackets != nullptr) fp.expectPackets[static_cast<size_t>(ev.connection)] += 1;
  return kDone;
}

FastPath* FastPathOf(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  void* data = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, nullptr, &data) != napi_ok) return nullptr;
  return static_cast<FastPath*>(data);
}

double NumberArg(napi_env env, napi_value v) {
  double out = 0;
  if (napi_get_value_double(env, v, &out) != napi_ok) return 0;
  return out;
}


inline void Prefetch(const void* at) { __builtin_prefetch(at, 1, 3); }

// Decodes frame j of the batch and prefetches its conntrack index slot.
inline void StageDecode(FastPath& fp, Ahead& a, uint32_t j) {
  const double* d = fp.desc + static_cast<size_t>(j) * kDescWords;
  double offset = d[kDescOffset];
  double caplen = d[kDescCaplen];
  a.ok = false;
  if (!(offset >= 0 && caplen >= 0 && offset + caplen <= static_cast<double>(fp.dataLength))) return;
  a.frame = fp.data + static_cast<size_t>(offset);
  a.ok = FastDecode(a.frame, static_cast<uint32_t>(caplen), static_cast<uint32_t>(d[kDescWireLength]), static_cast<uint32_t>(d[kDescLinkType]), &a.p);
  if (!a.ok) return;
  ct::TupleOf(a.p, &a.tuple);
  a.table = ct::TableIndex(a.tuple.family, a.tuple.proto);
  a.key = ct::KeyOf(a.tuple, fp.ct.keyMask);
  const int32_t* slots = fp.ct.slots[a.table];
  if (slots != nullptr) Prefetch(slots + (static_cast<uint32_t>(a.key) & fp.ct.slotMask[a.table]));
  if (fp.dedupOn && fp.dedupBound) a.dedupKey = DedupPrefetch(fp.dedup, a.p, a.frame);
}

// Reads the slot (cached by now) and prefetches the row it names.
inline void StageRow(FastPath& fp, Ahead& a) {
  a.row = -1;
  if (!a.ok) return;
  const int32_t* slots = fp.ct.slots[a.table];
  if (slots == nullptr) return;
  uint32_t v = static_cast<uint32_t>(slots[static_cast<uint32_t>(a.key) & fp.ct.slotMask[a.table]]);
  uint32_t row = v & ct::kRowMask;
  if (v == 0 || row >= fp.ct.rows) return;
  a.row = static_cast<int32_t>(row);
  const char* at = reinterpret_cast<const char*>(fp.ct.W(row, 0));
  Prefetch(at);
  Prefetch(at + 64);
  Prefetch(at + 128);
}

// Reads the row's connection number (cached by now) and prefetches its summary record and
// connection-cache row.
inline void StageConn(FastPath& fp, const Ahead& a) {
  if (a.row < 0) return;
  int32_t id = *fp.ct.W(static_cast<size_t>(a.row), ct::kId);
  if (id <= 0) return;
  if (static_cast<size_t>(id) * kSumRec < fp.summary.recordsLength) Prefetch(fp.summary.records + static_cast<size_t>(id) * kSumRec);
  if (fp.conn.rows != nullptr) Prefetch(fp.conn.rows + static_cast<size_t>(static_cast<uint32_t>(id) & fp.conn.mask) * conncache::kStride);
}

// RunBatch stopped at frame i of the batch with frames up to decodedEnd decoded: the duplicate
// table's fields go back to the block for TypeScript, and a call for the frames after i may
// take those decodings up again.
inline uint32_t Stopped(FastPath& fp, const DedupState& dedup, uint32_t i, uint32_t decodedEnd) {
  if (fp.dedupOn) DedupSave(fp.dedup, dedup);
  fp.resumeAt = i + 1;
  fp.decodedEnd = decodedEnd;
  fp.decodedKeyMask = fp.ct.keyMask;
  return i;
}

// Frames [start, end) of the batch until one the TypeScript program must take: its index (end
// when all were finished), its answer in *answer.
uint32_t RunBatch(FastPath& fp, uint32_t start, uint32_t end, int32_t* answer) {
  *answer = kDone;
  if (!fp.ctBound || !fp.connBound || !fp.summaryBound || (fp.dedupOn && !fp.dedupBound) || fp.frontendFilter == nullptr || fp.data == nullptr) {
    *answer = kSlow;
    return start;
  }
  Ahead* ring = fp.ring;
  // Resuming the batch after the frame TypeScript took: the frames decoded ahead of it are
  // still decoded (their bytes and descriptors are the same; a key is made again only when
  // the conntrack key mask changed); their row and connection prefetches are hints made
  // before TypeScript's work, so those stages run again.
  uint32_t nextDecode = start;
  if (start == fp.resumeAt && start < fp.decodedEnd) {
    nextDecode = fp.decodedEnd < end ? fp.decodedEnd : end;
    if (fp.ct.keyMask != fp.decodedKeyMask)
      for (uint32_t j = start; j < nextDecode; j++) ring[j % kRing].key = ct::KeyOf(ring[j % kRing].tuple, fp.ct.keyMask);
  }
  fp.resumeAt = kNoResume;
  uint32_t nextRow = start, nextConn = start;
  DedupState dedup;
  if (fp.dedupOn) DedupLoad(fp.dedup, &dedup);
  for (uint32_t i = start; i < end; i++) {
    for (; nextDecode < end && nextDecode < i + kAheadDecode; nextDecode++) StageDecode(fp, ring[nextDecode % kRing], nextDecode);
    for (; nextRow < end && nextRow < i + kAheadRow; nextRow++) StageRow(fp, ring[nextRow % kRing]);
    for (; nextConn < end && nextConn < i + kAheadConn; nextConn++) StageConn(fp, ring[nextConn % kRing]);
    const Ahead& a = ring[i % kRing];
    if (!a.ok) {
      *answer = kSlow;
      return Stopped(fp, dedup, i, nextDecode);
    }
    const double* d = fp.desc + static_cast<size_t>(i) * kDescWords;
    int32_t r = Decide(fp, dedup, a, d[kDescTsSec], d[kDescTsNsec], static_cast<int32_t>(d[kDescInterface]));
    if (r != kDone) {
      *answer = r;
      return Stopped(fp, dedup, i, nextDecode);
    }
  }
  if (fp.dedupOn) DedupSave(fp.dedup, dedup);
  return end;
}

// run(start, end): frames [start, end) of the batch (descriptors in the array given to
// createFastPath, bytes in setData's chunk). Returns the index of the first frame left to
// TypeScript (end when none), and its answer (kSlow or kSlowAfterDedup) in the block's kBlockAnswer.
napi_value RunCallback(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  uint32_t stop = 0;
  if (fp != nullptr && argc == 2) {
    double start = NumberArg(env, argv[0]);
    double end = NumberArg(env, argv[1]);
    if (start >= 0 && start <= end && end <= static_cast<double>(fp->descFrames)) {
      int32_t answer = kDone;
      stop = RunBatch(*fp, static_cast<uint32_t>(start), static_cast<uint32_t>(end), &answer);
      fp->block[kBlockAnswer] = answer;
    }
  }
  napi_value out;
  napi_create_uint32(env, stop, &out);
  return out;
}

// src/capture/parser.ts runPcap's record walk, for scanPcap.
constexpr uint32_t kMaxCaplen = 262144;  // src/capture/format.ts MAX_CAPLEN
constexpr double kNsPerSec = 1e9;
constexpr double kUsPerSec = 1e6;
constexpr double kNsPerUs = 1000;
constexpr int kScanLittleEndian = 1;
constexpr int kScanNano = 2;

inline uint32_t ReadU32(const uint8_t* p, bool le) {
  return le ? (static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24)
            : (static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]));
}

// How far ahead of the record it reads ScanPcap prefetches the chunk (bytes).
constexpr size_t kScanPrefetch = 2048;

// Walks whole classic pcap records of the chunk from `pos` to `end` into the batch's
// descriptors, as CaptureParser.runPcap reads them (a fraction of a second out of range carries
// whole seconds over), and stops before a record cut short, one whose captured length is over
// MAX_CAPLEN (the parser's error), or when the batch is full. Returns the records taken.
uint32_t ScanPcap(FastPath& fp, size_t pos, size_t end, int flags, uint32_t headerLen, double linkType) {
  const bool le = (flags & kScanLittleEndian) != 0;
  const bool nano = (flags & kScanNano) != 0;
  const uint8_t* b = fp.data;
  double bytes = 0;
  uint32_t n = 0;
  // Each record's position depends on the length read from the one before, so without help the
  // walk waits for one cache line at a time (fresh bytes the reader's thread wrote); every line
  // up to kScanPrefetch bytes ahead is prefetched instead, once, which also brings in the frames
  // the batch decodes next.
  size_t prefetched = pos;
  while (n < fp.descFrames && end - pos >= headerLen) {
    for (const size_t until = std::min(end, pos + kScanPrefetch); prefetched < until; prefetched += 64) __builtin_prefetch(b + prefetched, 0, 3);
    const uint8_t* h = b + pos;
    const uint32_t caplen = ReadU32(h + 8, le);
    if (caplen > kMaxCaplen || end - pos < headerLen + caplen) break;
    const double sec = ReadU32(h, le);
    const double frac = ReadU32(h + 4, le);
    double tsSec = sec, tsNsec;
    if (nano) {
      if (frac < kNsPerSec) {
        tsNsec = frac;
      } else {
        const double carry = std::floor(frac / kNsPerSec);
        tsSec = sec + carry;
        tsNsec = frac - carry * kNsPerSec;
      }
    } else if (frac < kUsPerSec) {
      tsNsec = frac * kNsPerUs;
    } else {
      const double carry = std::floor(frac / kUsPerSec);
      tsSec = sec + carry;
      tsNsec = (frac - carry * kUsPerSec) * kNsPerUs;
    }
    double* d = fp.desc + static_cast<size_t>(n) * kDescWords;
    d[kDescOffset] = static_cast<double>(pos + headerLen);
    d[kDescCaplen] = caplen;
    d[kDescWireLength] = ReadU32(h + 12, le);
    d[kDescLinkType] = linkType;
    d[kDescTsSec] = tsSec;
    d[kDescTsNsec] = tsNsec;
    d[kDescInterface] = 0;
    bytes += caplen;
    pos += headerLen + caplen;
    n++;
  }
  fp.block[kBlockScanEnd] = static_cast<double>(pos);
  fp.block[kBlockScanBytes] = bytes;
  return n;
}

// scanPcap(pos, end, flags (1 little-endian, 2 nanoseconds), recordHeaderLen, linkType): the
// batch's descriptors from the records of setData's chunk in [pos, end) (ScanPcap): the number
// taken; where they end and their bytes in the block (kBlockScanEnd, kBlockScanBytes).
napi_value ScanPcapCallback(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  uint32_t n = 0;
  if (fp != nullptr && argc == 5 && fp->data != nullptr) {
    const double pos = NumberArg(env, argv[0]);
    const double end = NumberArg(env, argv[1]);
    const double flags = NumberArg(env, argv[2]);
    const double headerLen = NumberArg(env, argv[3]);
    if (pos >= 0 && pos <= end && end <= static_cast<double>(fp->dataLength) && (headerLen == 16 || headerLen == 24)) {
      fp->resumeAt = kNoResume;  // the descriptors are another batch's now
      n = ScanPcap(*fp, static_cast<size_t>(pos), static_cast<size_t>(end), static_cast<int>(flags), static_cast<uint32_t>(headerLen), NumberArg(env, argv[4]));
    }
  }
  napi_value out;
  napi_create_uint32(env, n, &out);
  return out;
}

// setData(u8): the reader's current chunk (the caller keeps it alive while packets use it).
napi_value SetDataCallback(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  uint8_t* d = nullptr;
  size_t n = 0;
  if (argc < 1 || !TypedArg(env, argv[0], napi_uint8_array, &d, &n)) {
    fp->data = nullptr;
    fp->dataLength = 0;
    napi_throw_type_error(env, nullptr, "fastPath.setData: a Uint8Array is required");
    return nullptr;
  }
  fp->data = d;
  fp->dataLength = n;
  fp->resumeAt = kNoResume;  // the frames decoded ahead were another chunk's
  return nullptr;
}

// bindConntrack(i32, side, slots0..3 (Int32Array | null), lruBuilt0..3 (0/1), keyMask, lruResolutionMs,
// freeRows (Conntrack.nativeFreeRows)).
napi_value BindConntrackCallback(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->ctBound = false;
  if (argc != 13) return nullptr;
  ct::Tables t;
  size_t n = 0;
  if (!TypedArg(env, argv[0], napi_int32_array, &t.i32, &n)) return nullptr;
  t.rows = n / ct::kRowWords;
  if (!TypedArg(env, argv[1], napi_int32_array, &t.side, &n)) return nullptr;
  t.sideRows = n / ct::kSideWords;
  for (int k = 0; k < ct::kTables; k++) {
    napi_valuetype type;
    napi_typeof(env, argv[2 + k], &type);
    if (type == napi_null || type == napi_undefined) continue;
    int32_t* s = nullptr;
    if (!TypedArg(env, argv[2 + k], napi_int32_array, &s, &n) || n == 0 || (n & (n - 1)) != 0) return nullptr;
    t.slots[k] = s;
    t.slotMask[k] = static_cast<uint32_t>(n - 1);
  }
  for (int k = 0; k < ct::kTables; k++) t.lruBuilt[k] = NumberArg(env, argv[6 + k]) != 0;
  t.keyMask = static_cast<int32_t>(static_cast<uint32_t>(NumberArg(env, argv[10])));
  t.lruResolution = NumberArg(env, argv[11]);
  if (!TypedArg(env, argv[12], napi_int32_array, &t.freeRows, &t.freeRowsLength)) return nullptr;
  t.epoch = fp->block + kBlockCtEpoch;
  t.seq = fp->block + kBlockCtSeq;
  fp->ct = t;
  fp->ctBound = true;
  return nullptr;
}

// bindLocate(...locateBindArgs(DatapathState.nativeLocateTables())): the endpoints and the
// ipcache views new connections are located with (locate.h LocateBind); a TypeError says why
// they do not fit.
napi_value BindLocateCallback(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->locateBound = false;
  const char* why = LocateBind(env, argv, argc, &fp->locate);
  if (why != nullptr) {
    napi_throw_type_error(env, nullptr, why);
    return nullptr;
  }
  fp->locateBound = true;
  return nullptr;
}

// bindPolicy(set: NativePolicyMapSet handle, ids: Uint32Array): the endpoints' policy maps
// (DatapathState.nativePolicyMaps; stage.h BindPolicyTables). The caller keeps both alive.
napi_value BindPolicyCallback(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->policyBound = argc == 2 && stage::BindPolicyTables(env, argv[0], argv[1], &fp->policy);
  return nullptr;
}

// bindConnCache(rows: Int32Array).
napi_value BindConnCacheCallback(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->connBound = false;
  int32_t* r = nullptr;
  size_t n = 0;
  if (argc != 1 || !TypedArg(env, argv[0], napi_int32_array, &r, &n)) return nullptr;
  size_t rows = n / conncache::kStride;
  if (rows == 0 || (rows & (rows - 1)) != 0) return nullptr;
  fp->conn.rows = r;
  fp->conn.mask = static_cast<uint32_t>(rows - 1);
  fp->connBound = true;
  return nullptr;
}

// bindFrontends(filter: Int32Array of 2,048 words, table: Float64Array of
// DatapathState.frontendTable()).
napi_value BindFrontendsCallback(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->frontendFilter = nullptr;
  int32_t* f = nullptr;
  size_t n = 0;
  double* table = nullptr;
  size_t tableLength = 0;
  if (argc != 2 || !TypedArg(env, argv[0], napi_int32_array, &f, &n) || n != kFrontendFilterWords ||
      !TypedArg(env, argv[1], napi_float64_array, &table, &tableLength) || !fp->services.Load(table, tableLength)) {
    return nullptr;
  }
  fp->frontendFilter = f;
  return nullptr;
}

// bindDedup(headers, rows, links: Int32Array, bucketMask, ringRows, pendingLimit, windowNs): the
// Deduplicator's arrays and constants (Deduplicator.nativeView); its scalars are at kBlockDedup.
napi_value BindDedupCallback(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->dedupBound = false;
  int32_t* headers = nullptr;
  int32_t* rows = nullptr;
  int32_t* links = nullptr;
  size_t nh = 0, nr = 0, nl = 0;
  if (argc != 7 || !TypedArg(env, argv[0], napi_int32_array, &headers, &nh) || !TypedArg(env, argv[1], napi_int32_array, &rows, &nr) ||
      !TypedArg(env, argv[2], napi_int32_array, &links, &nl)) {
    return nullptr;
  }
  fp->dedupBound = DedupBind(fp->dedup, headers, nh, rows, nr, links, nl, NumberArg(env, argv[3]), NumberArg(env, argv[4]), NumberArg(env, argv[5]),
                             NumberArg(env, argv[6]), fp->block, fp->blockLength, kBlockDedup);
  return nullptr;
}

// bindSummary(...FlowSummary.nativeArrays() in summary_args.h order): its scalars are at
// kBlockSummary.
napi_value BindSummaryCallback(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  auto* fp = static_cast<FastPath*>(info.Data());
  if (fp == nullptr) return nullptr;
  fp->summaryBound = false;
  SummaryTables t;
  if ((info.Length() != 22 && info.Length() != 27) || !ReadSummaryTables(env, info, &t)) return nullptr;
  // After them, summaryNewArrayArgs' (new connections' events); without them, newBound stays false.
  if (info.Length() == 27 && !ReadSummaryNewTables(env, info, 22, &t)) return nullptr;
  t.scalars = fp->block + kBlockSummary;
  t.bound = true;
  fp->summary = t;
  fp->summaryBound = true;
  return nullptr;
}

// bindExpect(counts: Float64Array): the expectation checker's packets per connection number
// (ExpectationChecker.fastPackets).
napi_value BindExpectCallback(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  FastPath* fp = FastPathOf(env, info, &argc, argv);
  if (fp == nullptr) return nullptr;
  fp->expectPackets = nullptr;
  fp->expectLength = 0;
  double* counts = nullptr;
  size_t n = 0;
  if (argc != 1 || !TypedArg(env, argv[0], napi_float64_array, &counts, &n) || n == 0) return nullptr;
  fp->expectPackets = counts;
  fp->expectLength = n;
  return nullptr;
}

void ReleaseFastPath(napi_env, void* data, void*) { delete static_cast<FastPath*>(data); }

// createFastPath(block: Float64Array(96), desc: Float64Array (7 words a frame), perPacket, hasL7,
// dedupOn): an object of bound functions (run, setData, bindExpect, bindConntrack, bindConnCache, bindFrontends, bindDedup,
// bindSummary) sharing one FastPath, which lives as long as any of them.
Napi::Value CreateFastPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double* block = nullptr;
  size_t n = 0;
  double* desc = nullptr;
  size_t descLength = 0;
  if ((info.Length() != 5 && info.Length() != 6) || !TypedArg(env, info[0], napi_float64_array, &block, &n) || n < static_cast<size_t>(kBlockWords) ||
      !TypedArg(env, info[1], napi_float64_array, &desc, &descLength)) {
    Napi::TypeError::New(env, "createFastPath(block: Float64Array(96), desc: Float64Array, perPacket, hasL7, dedupOn[, newConnections])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* fp = new FastPath();
  fp->block = block;
  fp->blockLength = n;
  fp->desc = desc;
  fp->descFrames = descLength / kDescWords;
  fp->perPacket = info[2].ToBoolean().Value();
  fp->hasL7 = info[3].ToBoolean().Value();
  fp->dedupOn = info[4].ToBoolean().Value();
  fp->newAllowed = info.Length() == 6 && info[5].ToBoolean().Value() && !fp->perPacket;
  fp->ctCreate.w = block + kBlockCtCreate;
  // The finalizer belongs to one holder object; every bound function keeps the holder (and the
  // block) alive.
  Napi::Object holder = Napi::Object::New(env);
  if (napi_add_finalizer(env, holder, fp, ReleaseFastPath, nullptr, nullptr) != napi_ok) {
    delete fp;
    Napi::Error::New(env, "createFastPath: cannot attach the finalizer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object api = Napi::Object::New(env);
  std::initializer_list<std::pair<const char*, Napi::Value>> keep = {{"holder", holder}, {"block", info[0]}, {"desc", info[1]}};
  api.Set("run", BindFunction(env, "run", RunCallback, fp, nullptr, keep));
  api.Set("setData", BindFunction(env, "setData", SetDataCallback, fp, nullptr, keep));
  api.Set("scanPcap", BindFunction(env, "scanPcap", ScanPcapCallback, fp, nullptr, keep));
  api.Set("bindConntrack", BindFunction(env, "bindConntrack", BindConntrackCallback, fp, nullptr, keep));
  api.Set("bindConnCache", BindFunction(env, "bindConnCache", BindConnCacheCallback, fp, nullptr, keep));
  api.Set("bindFrontends", BindFunction(env, "bindFrontends", BindFrontendsCallback, fp, nullptr, keep));
  api.Set("bindDedup", BindFunction(env, "bindDedup", BindDedupCallback, fp, nullptr, keep));
  api.Set("bindSummary", BindFunction(env, "bindSummary", BindSummaryCallback, fp, nullptr, keep));
  api.Set("bindExpect", BindFunction(env, "bindExpect", BindExpectCallback, fp, nullptr, keep));
  api.Set("bindLocate", BindFunction(env, "bindLocate", BindLocateCallback, fp, nullptr, keep));
  api.Set("bindPolicy", BindFunction(env, "bindPolicy", BindPolicyCallback, fp, nullptr, keep));
  return api;
}

}  // namespace

void InitFastPath(Napi::Env env, Napi::Object exports) {
  exports.Set("createFastPath", Napi::Function::New<CreateFastPath>(env, "createFastPath"));
}

}  // namespace hubcap::fastpath
