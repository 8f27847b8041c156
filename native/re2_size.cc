// hubcap_re2: the size of the program RE2 compiles a pattern into, for src/policy/re2-size.ts.
//
//   programSize(pattern: string) -> RE2::ProgramSize(); -2 when the program is too large to
//       compile within RE2's default memory budget (RE2::ErrorPatternTooLarge: Envoy, which uses
//       the default options, rejects the regex as well); -1 for any other error
//
// Why: Envoy refuses a regex whose program is larger than the runtime value
// `re2.max_program_size.error_level` (100 unless the bootstrap sets it; Cilium's does not by
// default), and when an HTTP rule of a CiliumNetworkPolicy has such a path, method or host, Envoy
// NACKs the endpoint's whole NetworkPolicy update (cilium/cilium#41314, #48773). The `re2` npm
// package that validates policy regexes does not expose the size, so this small addon builds the
// same RE2 sources (native/re2-sources.cjs lists them from that package) and asks. Envoy compiles
// with RE2::Quiet, as here; the size is what this RE2 version counts, which may differ a little
// from the RE2 inside a given Envoy build.
#include <node_api.h>

#include <string>

#include "re2/re2.h"

namespace {

napi_value ProgramSize(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  size_t length = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], nullptr, 0, &length) != napi_ok) {
    napi_throw_type_error(env, nullptr, "programSize(pattern): pattern must be a string");
    return nullptr;
  }
  std::string pattern(length, '\0');
  napi_get_value_string_utf8(env, argv[0], pattern.data(), length + 1, &length);
  const re2::RE2 re(pattern, re2::RE2::Quiet);
  napi_value out;
  napi_create_int32(env, re.ok() ? re.ProgramSize() : re.error_code() == re2::RE2::ErrorPatternTooLarge ? -2 : -1, &out);
  return out;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "programSize", NAPI_AUTO_LENGTH, ProgramSize, nullptr, &fn);
  napi_set_named_property(env, exports, "programSize", fn);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
