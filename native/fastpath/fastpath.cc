// The native fast path of the replay (src/datapath/fast-path.ts). OWNER: the integration.
#include <napi.h>

namespace hubcap::fastpath {

void InitFastPath(Napi::Env env, Napi::Object exports) {}

}  // namespace hubcap::fastpath
