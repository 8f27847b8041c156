// Test bindings of the decode port (exports.fastpathTesting.*): differential tests against the
// TypeScript implementation (test/datapath/fast-decode.test.ts).
#include <napi.h>

namespace hubcap::fastpath {

void InitFastDecodeTesting(Napi::Env env, Napi::Object testing) {}

}  // namespace hubcap::fastpath
