#!/usr/bin/env bash
# Installs the Debian packages Tessera builds with (skipped when all are present), then
# configures and builds into build/ (or $BUILD_DIR). Extra CMake flags: $CMAKE_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS="cmake ninja-build ccache g++ lld-15 libmlir-15-dev mlir-15-tools llvm-15-dev llvm-15-tools
  libonnx-dev libprotobuf-dev protobuf-compiler libfmt-dev libcli11-dev libgtest-dev libgmock-dev
  libbenchmark-dev coinor-libcbc-dev libopenblas-dev libopenmpi-dev openmpi-bin libpmix-dev
  python3 python3-numpy slurm-wlm munge graphviz chromium"
missing=$(dpkg-query -W -f='${Status} ${Package}\n' $PKGS 2>/dev/null | grep -v "install ok installed" | awk '{print $NF}' || true)
for p in $PKGS; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$(echo $missing | tr -d ' ')" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
