# hubcap's native addon (native/): the ipcache LPM and the policy map sets behind
# src/maps/native.ts. Built by `npm install` (the root package's install script runs
# `node-gyp rebuild` through npm, so npm's nodedir and the local Node headers are used).
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
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fexceptions"],
      "cflags_cc!": ["-fexceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["hubcap_sanitize==1", {
          "defines": ["HUBCAP_SANITIZE"],
          "cflags_cc": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"],
          "ldflags": ["-fsanitize=address,undefined"],
        }, {
          "cflags_cc": ["-O3"],
        }],
      ],
    },
  ],
}
