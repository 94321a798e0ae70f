#!/usr/bin/env bash
# One device call for the flash attention kernels (kernels/cuda/flash_attention.cu): build the
# CUDA kernels, the fused attention tests and benchmark, then run the tests against the float64
# reference (flash cases, both paths compared, the GEMM path once more alone with
# TESSERA_ATTENTION_KERNEL=gemm) and time flash vs the GEMM path at gpt2 and bert-large sizes.
# Usage (device tool): bash benchmarks/cuda/flash_check.sh   (TESSERA_TEST_VERBOSE=1: every error)
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
fail=0
step() { echo "== $* ($(date +%T))"; }

step build
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
extra=()
[ -f /usr/include/gtest/gtest.h ] || extra+=(-DGTEST_ROOT=$PWD/.devdeps)
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON "${extra[@]}" >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 cuda_attention_test cuda_attention_bench flash_layout_test >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }

step "lane mappings of ldmatrix / mma.m16n8k16, emulated on the CPU"
$B/bin/flash_layout_test --gtest_brief=1 2>&1 | tail -3 || fail=1

step "fused attention vs float64 reference (flash where it applies)"
# compute-sanitizer: memcheck over the flash cases catches out-of-bounds tile loads and stores;
# racecheck over two small ones catches a missing __syncwarp/__syncthreads between the shared
# tiles' writers and readers, which a right answer on one GPU might not show.
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$CS" ]; then
  timeout 400 $CS --tool memcheck --error-exitcode 3 $B/bin/cuda_attention_test --gtest_brief=1 \
    --gtest_filter='Cases/CudaFlash.*' 2>&1 | tail -12 || fail=1
  timeout 300 $CS --tool racecheck --error-exitcode 3 $B/bin/cuda_attention_test --gtest_brief=1 \
    --gtest_filter='Cases/CudaFlash.*/s65_d128_causal_*:Cases/CudaFlash.*/s200_d64_padding*' \
    2>&1 | tail -12 || fail=1
else
  echo "no compute-sanitizer: skipped"
fi
$B/bin/cuda_attention_test --gtest_brief=1 2>&1 | tee "$OUT/attention_test.txt" | tail -40 || fail=1
grep -q "FAILED" "$OUT/attention_test.txt" && fail=1

step "the GEMM path alone (TESSERA_ATTENTION_KERNEL=gemm)"
TESSERA_ATTENTION_KERNEL=gemm $B/bin/cuda_attention_test --gtest_brief=1 \
  --gtest_filter='Cases/CudaAttention.*:CudaAttentionLarge.*' 2>&1 | tail -8 || fail=1

step "benchmark: flash vs the GEMM path"
$B/bin/cuda_attention_bench 2>&1 | tee "$OUT/attention_flash_bench.txt" || fail=1

echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL) ($(date +%T))"
exit $fail
