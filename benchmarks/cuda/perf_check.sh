#!/usr/bin/env bash
# One device call for the issue-12 step benchmarks after a compiler change: build the runtime,
# the fused attention kernel tests, the tiny models on the GPU against their references (fused
# attention and GELU in the plans), training CUDA vs CPU (train_check.sh), then the gpt2-124m
# bf16 training step (CUDA graphs off and on, a per-op profile) and bert-large bf16 inference,
# each against PyTorch in the same call. Plans: benchmarks/cuda/make_plans.sh, carried.
# Usage (device tool): bash benchmarks/cuda/perf_check.sh   (BENCH_COMPILE=0: bert without
# torch.compile; TORCH_MODES=eager: gpt2 without it; SKIP_BERT=1: no bert-large)
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
step() { echo "== $* ($(date +%T))"; }
step build
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 tessera cuda_attention_test cuda_plan_bench >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
T=$B/bin/tessera
step "fused attention vs float64 reference"
$B/bin/cuda_attention_test --gtest_brief=1 2>&1 | tail -4 || fail=1
step "tiny models on the GPU vs the PyTorch reference"
for m in gpt2 bert resnet; do
  $T run $P/$m.tsr --inputs $P/$m --output-dir /tmp/o_$m --backend cuda >/dev/null || fail=1
  echo -n "$m f32: "; $T compare /tmp/o_$m/output_0.pb $P/$m/output_0.pb --tolerance 1e-4 || fail=1
  $T run $P/$m.bf16.tsr --inputs $P/$m --output-dir /tmp/b_$m --backend cuda >/dev/null || fail=1
  echo -n "$m bf16: "; $T compare /tmp/b_$m/output_0.pb $P/$m/output_0.pb --tolerance 2e-2 || fail=1
done
step "training: CUDA vs the CPU backend"
bash benchmarks/cuda/train_check.sh $B 2>&1 | grep -vE "^(step|loss)" | tail -8 || fail=1
step "gpt2-124m bf16 training step (batch 8, seq 1024, AdamW)"
$B/bin/cuda_plan_bench $P/gpt2-124m.train.bf16.tsr --warmup 3 --iters 10 --profile 2>&1 |
  head -30 | tee "$OUT/gpt2_tessera.txt"
echo "-- CUDA graphs on (TESSERA_CUDA_GRAPHS=1):"
TESSERA_CUDA_GRAPHS=1 TESSERA_CUDA_GRAPHS_VERBOSE=1 $B/bin/cuda_plan_bench $P/gpt2-124m.train.bf16.tsr --warmup 3 --iters 10 \
  2>&1 | grep -E "ms_median|device_mib" | tee "$OUT/gpt2_tessera_graphs.txt"
PYTHONUNBUFFERED=1 timeout 200 python3 benchmarks/cuda/torch_gpt2_train_bench.py --iters 10 \
  --modes "${TORCH_MODES:-eager,compile}" 2>&1 | grep -v Warning | tee "$OUT/gpt2_torch.txt"
if [ "${SKIP_BERT:-0}" = 1 ]; then echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL)"; exit $fail; fi
step "bert-large bf16 inference (batch 32, seq 512)"
$B/bin/cuda_plan_bench $P/bert-large.bf16.tsr --iters 10 --profile 2>&1 | head -22 |
  tee "$OUT/bert_tessera.txt" || fail=1
PYTHONUNBUFFERED=1 timeout 150 python3 benchmarks/cuda/torch_bert_bench.py --iters 10 \
  $([ "${BENCH_COMPILE:-1}" = 1 ] && echo --compile) 2>&1 | grep -v Warning |
  tee "$OUT/bert_torch.txt"
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL) ($(date +%T))"
exit $fail
