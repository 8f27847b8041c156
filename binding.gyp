# hubcap's native addon (native/): the ipcache LPM and the policy map sets behind
# src/maps/native.ts. Built by `npm install` (the root package's install script runs
# `node-gyp rebuild` through npm, so npm's nodedir and the local Node headers are used).
#
# Targets: hubcap (native/*.cc but re2_size.cc) and hubcap_re2 (native/re2_size.cc over the RE2
# and Abseil sources of the re2 package, listed by native/re2-sources.cjs; not in the sanitizer
# build, which checks the maps).
#
# Variables:
#   hubcap_sanitize=1   AddressSanitizer + UBSan build (native/sanitize.sh)
#   hubcap_src          where the sources are, relative to this file (the sanitizer build
#                       copies this file into build/asan and points back at ../../native)
{
  "variables": {
    "hubcap_sanitize%": 0,
    "hubcap_src%": "native",
  },
  "targets": [
    {
      "target_name": "hubcap",
      "sources": [
        "<(hubcap_src)/addon.cc",
        "<(hubcap_src)/common.cc",
        "<(hubcap_src)/ipcache.cc",
        "<(hubcap_src)/lpm.cc",
        "<(hubcap_src)/policy.cc",
        "<(hubcap_src)/policy_map.cc",
        "<(hubcap_src)/fastpath/decode.cc",
        "<(hubcap_src)/fastpath/decode_testing.cc",
        "<(hubcap_src)/fastpath/dedup.cc",
        "<(hubcap_src)/fastpath/dedup_testing.cc",
        "<(hubcap_src)/fastpath/fastpath.cc",
        "<(hubcap_src)/fastpath/locate.cc",
        "<(hubcap_src)/fastpath/locate_testing.cc",
        "<(hubcap_src)/fastpath/summary.cc",
        "<(hubcap_src)/fastpath/summary_testing.cc",
        "<(hubcap_src)/fastpath/stage.cc",
        "<(hubcap_src)/fastpath/stage_testing.cc",
        "<(hubcap_src)/fastpath/ct_create_testing.cc",
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fexceptions"],
      "cflags_cc!": ["-fexceptions", "-std=gnu++17"],
      # -ffp-contract=off: the fast path mirrors JavaScript's double arithmetic bit for bit, which a
      # fused multiply-add would not.
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-ffp-contract=off"],
      "conditions": [
        ["hubcap_sanitize==1", {
          "defines": ["HUBCAP_SANITIZE"],
          "cflags_cc": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"],
          "ldflags": ["-fsanitize=address,undefined"],
        }, {
          "cflags_cc": ["-O3", "-g"],
        }],
      ],
    },
  ],
  "conditions": [
    ["hubcap_sanitize==0", {
      "targets": [
        {
          "target_name": "hubcap_re2",
          "sources": ["<(hubcap_src)/re2_size.cc", "<!@(node <(hubcap_src)/re2-sources.cjs sources)"],
          "include_dirs": ["<!@(node <(hubcap_src)/re2-sources.cjs include)"],
          "defines": ["NDEBUG", "NOMINMAX", "NAPI_VERSION=8"],
          "cflags": ["-pthread", "-Wno-sign-compare", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
          "cflags_cc!": ["-std=gnu++17"],
          "cflags_cc": ["-std=c++2a", "-O2"],
          "ldflags": ["-pthread"],
        },
      ],
    }],
  ],
}
