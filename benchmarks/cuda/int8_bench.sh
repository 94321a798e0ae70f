#!/usr/bin/env bash
# One device call for the int8 CUDA path (issue 7): build the runtime with CUDA, the quantized
# kernels' differential tests (CUDA against the CPU kernels, bit for bit), the int8 tiny-model
# plans on the GPU against the same plans on the CPU backend, then the int8-vs-bf16 Linear
# benchmark. Plans compiled on a machine with the compiler, carried in benchmarks/cuda/plans:
#   quant_data gen tokens 2x16 CALIB 8 1001
#   tessera compile ../shared/models/tiny/$m/model.onnx -o benchmarks/cuda/plans/$m.int8.tsr \
#     --quantize int8 --calibration CALIB        (default flags: per-token activation scales
#     for gpt2 and bert; --activation-scales tensor gives the static path with zero points)
#   (the same plus --precision bf16 -o $m.int8bf16.tsr), for m in gpt2 bert.
# Usage (device tool, carry benchmarks/cuda/plans): bash benchmarks/cuda/int8_bench.sh
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 cuda_kernels_test cuda_quant_test cuda_int8_bench >"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
# The CLI separately: TSR_SKIP_E2E=1 skips the plan runs (kernels and benchmark only).
[ "${TSR_SKIP_E2E:-0}" = 1 ] || ninja -C $B -j16 tessera >>"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -30; exit 1; }
T=$B/bin/tessera

echo "== differential kernel tests (quantized ops, then the whole table)"
$B/bin/cuda_quant_test 2>&1 | tail -8 || fail=1
$B/bin/cuda_kernels_test --gtest_brief=1 2>&1 | tail -3 || fail=1

echo "== int8 plans: CUDA against the CPU backend"
for m in $([ "${TSR_SKIP_E2E:-0}" = 1 ] || echo gpt2 bert); do
  $T run $P/$m.int8.tsr --inputs $P/$m --output-dir /tmp/c8_$m --backend cpu >/dev/null || fail=1
  $T run $P/$m.int8.tsr --inputs $P/$m --output-dir /tmp/g8_$m --backend cuda -v || fail=1
  echo -n "$m int8 (f32 activations) cuda vs cpu: "
  $T compare /tmp/g8_$m/output_0.pb /tmp/c8_$m/output_0.pb --tolerance 1e-3 || fail=1
  $T run $P/$m.int8bf16.tsr --inputs $P/$m --output-dir /tmp/gb_$m --backend cuda -v || fail=1
  echo -n "$m int8 + bf16 activations (cuda) vs int8 f32 (cpu): "
  $T compare /tmp/gb_$m/output_0.pb /tmp/c8_$m/output_0.pb --tolerance 5e-2 || fail=1
done

echo "== benchmark: int8 Linear vs bf16 Linear (T=8192 tokens), tile sizes ${*:-24 64 full}"
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
$B/bin/cuda_int8_bench "$@" | tee "$OUT/int8_bench.txt"
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
