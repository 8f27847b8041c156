// The summary's count of one final event (src/flow/summary.ts FlowSummary.addFinal and
// TopDropped.add) over FlowSummary's own typed arrays and scalars. OWNER: the summary port.
#ifndef HUBCAP_NATIVE_FASTPATH_SUMMARY_H_
#define HUBCAP_NATIVE_FASTPATH_SUMMARY_H_

#include <cstdint>

namespace hubcap::fastpath {

struct SummaryTables {
  // TODO(summary port)
  bool bound = false;
};

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_SUMMARY_H_
