#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UBSan (binding.gyp hubcap_sanitize=1: -O1 -g
# -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all, heap blocks for
# every block so ASan sees them) into build/asan, then runs the native differential suites
# (test/maps/native-*.test.ts, and the fast path's test/datapath/fast-*.test.ts) against it.
# Node itself is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD) ahead of
# everything else; leak checking is off (V8 keeps memory alive until exit). Any sanitizer report
# fails the run: ASan and UBSan abort the process on the first error, and the log is scanned
# for reports as well.
#
# Usage: native/sanitize.sh [vitest args...]   (npm run test:asan)
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=build/asan
rm -rf "$out"
mkdir -p "$out"
cp binding.gyp "$out/binding.gyp"
echo "sanitize: building the addon with ASan + UBSan in $out"
(cd "$out" && npx --no-install node-gyp rebuild -- -Dhubcap_sanitize=1 -Dhubcap_src=../../native) >"$out/build.log" 2>&1 || {
  tail -40 "$out/build.log" >&2
  echo "sanitize: the sanitizer build failed (log: $out/build.log)" >&2
  exit 1
}
addon="$PWD/$out/build/Release/hubcap.node"

libasan="$(g++ -print-file-name=libasan.so)"
libubsan="$(g++ -print-file-name=libubsan.so)"
for lib in "$libasan" "$libubsan"; do
  if [[ ! -e "$lib" ]]; then
    echo "sanitize: $lib not found (install the g++ sanitizer runtimes: libasan, libubsan)" >&2
    exit 1
  fi
done

export HUBCAP_NATIVE_ADDON="$addon"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"

# The suites must load this build, not build/Release.
LD_PRELOAD="$libasan $libubsan" node -e '
  const m = require(process.env.HUBCAP_NATIVE_ADDON);
  if (m.sanitized !== true) { console.error("sanitize: " + process.env.HUBCAP_NATIVE_ADDON + " is not the sanitizer build"); process.exit(1); }
'

log="$out/test.log"
echo "sanitize: running the native differential suites under ASan + UBSan"
status=0
LD_PRELOAD="$libasan $libubsan" npx --no-install vitest run test/maps/native-ipcache.test.ts test/maps/native-policy.test.ts test/maps/native-policy-any.test.ts test/maps/native-policy-simd.test.ts \
  test/maps/native-loader.test.ts test/maps/native-bound-lookups.test.ts \
  test/datapath/fast-decode.test.ts test/datapath/fast-dedup.test.ts test/datapath/fast-summary.test.ts test/datapath/fast-summary-new.test.ts test/datapath/fast-stage.test.ts test/datapath/fast-locate.test.ts test/datapath/fast-path.test.ts test/datapath/fast-ct-create.test.ts "$@" 2>&1 | tee "$log" || status=$?
if grep -qE "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer" "$log"; then
  echo "sanitize: sanitizer reports above (log: $log)" >&2
  exit 1
fi
if [[ $status -ne 0 ]]; then
  echo "sanitize: the suites failed under the sanitizers (exit $status, log: $log)" >&2
  exit "$status"
fi
echo "sanitize: clean"
