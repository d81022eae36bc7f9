#!/usr/bin/env bash
# One command: install what is missing, build, and run the whole test suite through CTest, twice:
# a Release build, then an AddressSanitizer + UndefinedBehaviorSanitizer build.
# Golden fixtures are read from ../shared (override with MINNOW_SHARED); with CI=true their absence fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
JOBS=${JOBS:-$(nproc)}
SHARED=${MINNOW_SHARED:-$(cd .. && pwd)/shared}
export MINNOW_SHARED="$SHARED"

echo "=== Release build ==="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS")

if [ "${MINNOW_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "=== ASan + UBSan build ==="
  # -O1: sanitizer builds compile and run fast enough at -O1; no benchmarks there
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DMINNOW_SANITIZE=ON -DMINNOW_BENCH=OFF >/dev/null
  cmake --build build-asan -j "$JOBS"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$JOBS")
fi
