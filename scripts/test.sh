#!/usr/bin/env bash
# Installs, builds and runs the whole test suite: gtest, lit, end-to-end model runs on CPU ranks;
# then the unit tests once more under AddressSanitizer + UBSan (build-asan/, runtime and
# compiler cores; the MLIR-heavy tools are left out there to keep CI time down).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j2
if [ "${SKIP_ASAN:-0}" != 1 ]; then
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo \
    CMAKE_FLAGS="-DTESSERA_SANITIZE=ON -DTESSERA_BUILD_COMPILER=OFF" scripts/setup.sh
  ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan --output-on-failure -j2
fi
