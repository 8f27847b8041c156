// Test bindings of the summary port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-summary.test.ts).
#include <napi.h>

namespace hubcap::fastpath {

void InitFastSummaryTesting(Napi::Env env, Napi::Object testing) {}

}  // namespace hubcap::fastpath
