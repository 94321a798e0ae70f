#!/usr/bin/env bash
# One device call: build the CUDA runtime, run the differential kernel tests, check bf16/fp16
# plans of the tiny models against the fp32 PyTorch references, then bert-large inference
# (batch 32, seq 512, bf16, random weights): Tessera's plan vs PyTorch eager and torch.compile,
# side by side, with ratios. Plans are compiled where the compiler builds and carried in
# benchmarks/cuda/plans (carry=["benchmarks/cuda/plans"]: *.tsr is git-ignored):
#   T=build/bin/tessera; P=benchmarks/cuda/plans
#   for m in bert gpt2; do for pr in bf16 fp16; do
#     $T compile ../shared/models/tiny/$m/model.onnx --precision $pr -o $P/$m.$pr.tsr; done; done
#   $T compile ../shared/models/full/bert-large-340m/model.onnx --shape batch=32,seq=512 \
#     --precision bf16 --cluster h100-nvlink -o $P/bert-large.bf16.tsr
# Usage (device tool, timeout 600): bash benchmarks/cuda/bert_bench.sh
# (BENCH_COMPILE=0 skips torch.compile, ~60 s of the call)
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
step() { echo "== $*"; }

step build
nvidia-smi --query-gpu=name,driver_version,memory.used --format=csv,noheader
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 tessera cuda_kernels_test cuda_plan_bench >"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
T=$B/bin/tessera

step differential kernel tests
$B/bin/cuda_kernels_test --gtest_brief=1 2>&1 | tail -8 || fail=1

step "tiny models in bf16/fp16 vs the fp32 PyTorch reference (max|diff|/max|ref|)"
for m in bert gpt2; do
  for pr in bf16 fp16; do
    $T run $P/$m.$pr.tsr --inputs $P/$m --output-dir /tmp/o_${m}_$pr --backend cuda || fail=1
    echo -n "$m $pr: "; $T compare /tmp/o_${m}_$pr/output_0.pb $P/$m/output_0.pb --tolerance 2e-2 || fail=1
  done
done

step "bert-large inference, batch 32, seq 512, bf16, random weights"
$B/bin/cuda_plan_bench $P/bert-large.bf16.tsr --iters 10 --profile 2>&1 | tee "$OUT/tessera_bert.txt" || fail=1
PYTHONUNBUFFERED=1 timeout 240 python3 benchmarks/cuda/torch_bert_bench.py --iters 10 \
  $([ "${BENCH_COMPILE:-1}" = 1 ] && echo --compile) \
  2>&1 | grep -v Warning | tee "$OUT/torch_bert.txt"

step summary
python3 - "$OUT/tessera_bert.txt" "$OUT/torch_bert.txt" <<'EOF'
import re, sys
txt = open(sys.argv[1]).read() + open(sys.argv[2]).read()
def val(key):
    m = re.search(key + r" ([0-9.]+)", txt)
    return float(m.group(1)) if m else None
t, tm = val("tessera_ms_median"), val("tessera_device_mib")
print(f"tessera          {t} ms, device {tm} MiB (session: arena + weights + workspace + cuBLASLt)")
for mode in ("eager", "compile"):
    ms, mib = val(f"torch_{mode}_ms_median"), val(f"torch_{mode}_peak_mib")
    if ms and t:
        print(f"torch {mode:8s} {ms} ms, peak {mib} MiB; tessera/torch time {t / ms:.2f}")
EOF
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
