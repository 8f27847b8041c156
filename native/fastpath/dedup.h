// Duplicate suppression (src/datapath/dedup.ts Deduplicator) over the Deduplicator's own typed
// arrays and scalars, decision for decision. OWNER: the dedup port.
#ifndef HUBCAP_NATIVE_FASTPATH_DEDUP_H_
#define HUBCAP_NATIVE_FASTPATH_DEDUP_H_

#include <cstdint>

#include "packet.h"

namespace hubcap::fastpath {

struct DedupTable {
  // TODO(dedup port): pointers into the Deduplicator's arrays, its constants, and its scalars in
  // a Float64Array block shared with TypeScript.
  bool bound = false;
};

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_DEDUP_H_
