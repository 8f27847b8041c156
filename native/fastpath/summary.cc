#include "summary.h"

namespace hubcap::fastpath {}  // namespace hubcap::fastpath
