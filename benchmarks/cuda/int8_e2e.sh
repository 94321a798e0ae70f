#!/usr/bin/env bash
# One device call for issue 7's end-to-end goal: bert-large inference (batch 32, seq 512,
# random weights) as an int8 plan against the bf16 plan of the same model, same GPU, same call
# (goal: bf16 time / int8 time >= 1.3). Also runs cuda_quant_test (every quantized CUDA kernel,
# QConvI8 included, bit for bit against the CPU backend) first.
# Plans (compiled where the compiler builds, carried in benchmarks/cuda/plans, *.tsr ignored):
#   benchmarks/cuda/make_plans.sh       -> bert-large.bf16.tsr
#   benchmarks/cuda/make_int8_plans.sh  -> bert-large.int8.tsr (--random-weights: calibrated
#     at batch 1 x seq 128 on random weights; graph-only, ~9 MB: the runtime fills the int8
#     weights (zeros) and scales (random) itself, as it does the bf16 plan's weights. Timing
#     only: the int8 GEMMs' speed does not depend on the values.)
# Usage (device tool, carry ["benchmarks/cuda/plans"], timeout 600):
#   bash benchmarks/cuda/int8_e2e.sh            (BENCH_PROFILE=1: per-op profile of both plans)
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
for f in $P/bert-large.bf16.tsr $P/bert-large.int8.tsr; do
  [ -f "$f" ] || { echo "missing $f: run make_plans.sh / make_int8_plans.sh and carry $P"; exit 1; }
done
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 cuda_quant_test cuda_plan_bench >"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }

echo "== cuda_quant_test (quantized kernels vs CPU, bit for bit)"
$B/bin/cuda_quant_test --gtest_brief=1 2>&1 | tail -6
[ "${PIPESTATUS[0]}" = 0 ] || fail=1

prof=$([ "${BENCH_PROFILE:-0}" = 1 ] && echo --profile)
for pr in bf16 int8 bf16again; do  # bf16 twice: clock or thermal drift shows as a change
  plan=$P/bert-large.${pr%again}.tsr
  echo "== bert-large $pr: $plan"
  $B/bin/cuda_plan_bench "$plan" --warmup 3 --iters 20 $([ $pr = bf16again ] || echo $prof) \
    2>&1 | tee "$OUT/bert_large_$pr.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || fail=1
done

echo "== summary (bert-large, batch 32, seq 512, random weights)"
python3 - "$OUT" <<'PY'
import re, sys
def ms(name):
    m = re.search(r"tessera_ms_median ([0-9.]+)", open(f"{sys.argv[1]}/bert_large_{name}.txt").read())
    return float(m.group(1)) if m else None
b, i, b2 = ms("bf16"), ms("int8"), ms("bf16again")
print(f"bf16 {b} ms (again {b2} ms), int8 {i} ms")
if b and i:
    print(f"int8 speed-up over bf16: {b / i:.2f}x (with the second bf16 run: {b2 / i:.2f}x); goal 1.3x")
PY
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
