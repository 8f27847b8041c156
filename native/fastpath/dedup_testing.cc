// Test bindings of the dedup port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-dedup.test.ts).
#include <napi.h>

namespace hubcap::fastpath {

void InitFastDedupTesting(Napi::Env env, Napi::Object testing) {}

}  // namespace hubcap::fastpath
