#include "dedup.h"

namespace hubcap::fastpath {}  // namespace hubcap::fastpath
