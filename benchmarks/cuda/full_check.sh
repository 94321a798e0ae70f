#!/usr/bin/env bash
# One device call for everything the CUDA issues measure, when device minutes are few: build
# every CUDA target once, then the differential tests (kernels, quantized ops, attention), the
# tiny models and training against the CPU backend, and the step benchmarks each beside PyTorch
# (gpt2-124m training, bert-large inference, resnet50 training), the attention and int8 Linear
# benchmarks. The focused scripts (perf_check.sh, flash_check.sh, resnet_check.sh,
# int8_bench.sh) do one part each with more detail. Plans: benchmarks/cuda/make_plans.sh here,
# carried (benchmarks/cuda/plans).
# Usage (device tool): bash benchmarks/cuda/full_check.sh
#   SECTIONS="attntest gpt2 bert tests train resnet int8 attn gemm" (the default: all, most wanted
#   first, run in the order given); TORCH_MODES=eager,compile
#   (default eager: torch.compile costs a minute per model).
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
S="${SECTIONS:-attntest gpt2 bert tests train resnet int8 attn gemm}"
TM=${TORCH_MODES:-eager}
fail=0
LOG=$OUT/full.log
step() { echo "== $* ($(date +%T))" | tee -a "$LOG"; }
step build
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
if ! ls /usr/local/cuda/lib64/libcudnn.so* >/dev/null 2>&1 && [ -z "${CUDNN_ROOT:-}" ]; then
  CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn as c; print(list(c.__path__)[0])' 2>/dev/null) &&
    export CUDNN_ROOT
fi
[ -n "${CUDNN_ROOT:-}" ] && export LD_LIBRARY_PATH=$CUDNN_ROOT/lib:${LD_LIBRARY_PATH:-}
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
grep -i "cudnn" "$OUT/cmake.log" | head -3
ninja -C $B -j16 tessera cuda_kernels_test cuda_quant_test cuda_attention_test cuda_plan_bench \
  cuda_attention_bench cuda_int8_bench cuda_gemm_bench flash_layout_test >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
T=$B/bin/tessera
gt() { # gtest binary, brief: the summary and the first failures
  "$@" --gtest_brief=1 >/tmp/gt.txt 2>&1 || fail=1
  cat /tmp/gt.txt >>"$LOG"
  grep -E "Failure|error:|Which is|relative|^\[  (PASSED|FAILED)" /tmp/gt.txt | head -24
}
sec_attntest() {
  step "flash kernels' lane mappings (CPU emulation)"; gt $B/bin/flash_layout_test
  step "fused attention vs float64 (flash where it applies)"; gt $B/bin/cuda_attention_test
}
sec_tests() {
  step "differential kernel tests"; gt $B/bin/cuda_kernels_test
  step "quantized ops, bit for bit"; gt $B/bin/cuda_quant_test
  step "tiny models vs the PyTorch reference"
  for m in gpt2 bert resnet; do
    for pr in "" .bf16; do
      tol=$([ -z "$pr" ] && echo 1e-4 || echo 2e-2)
      $T run $P/$m$pr.tsr --inputs $P/$m --output-dir /tmp/o_$m$pr --backend cuda >>"$LOG" 2>&1 || fail=1
      echo -n "$m${pr:-.f32}: "; $T compare /tmp/o_$m$pr/output_0.pb $P/$m/output_0.pb --tolerance $tol || fail=1
    done
  done
}
sec_train() {
  step "training: CUDA vs the CPU backend"
  bash benchmarks/cuda/train_check.sh $B 2>&1 | grep -vE "^(step|loss)" | tail -8 || fail=1
}
bench() { # NAME PLAN: tessera step time and profile head
  timeout 200 $B/bin/cuda_plan_bench "$2" --warmup 3 --iters 10 --profile >"$OUT/$1.txt" 2>&1 || fail=1
  grep -E "ms_median|device_mib|arena|^  [A-Z]" "$OUT/$1.txt" | head -16
}
sec_gpt2() {
  step "gpt2-124m bf16 training step (batch 8, seq 1024, AdamW)"
  bench gpt2_tessera $P/gpt2-124m.train.bf16.tsr
  # MFU as RESULTS.md counts it: 6.7 TFLOP per step (6·params·tokens plus attention) over the
  # H100 SXM's 989 TFLOP/s dense bf16 datasheet peak.
  awk '/tessera_ms_median/ { printf "gpt2 step MFU %.1f%% (6.7 TFLOP per step, 989 TFLOP/s peak)\n", 6.7e12 / ($2 * 1e-3) / 989e12 * 100 }' \
    "$OUT/gpt2_tessera.txt"
  echo "-- without row padding of the LM head GEMMs (TESSERA_GEMM_PAD=0):"
  TESSERA_GEMM_PAD=0 timeout 100 $B/bin/cuda_plan_bench $P/gpt2-124m.train.bf16.tsr --warmup 3 \
    --iters 10 2>&1 | grep -E "ms_median"
  echo "-- attention on the cuBLASLt path (TESSERA_ATTENTION_KERNEL=gemm):"
  TESSERA_ATTENTION_KERNEL=gemm timeout 100 $B/bin/cuda_plan_bench $P/gpt2-124m.train.bf16.tsr \
    --warmup 3 --iters 10 2>&1 | grep -E "ms_median"
  echo "-- CUDA graphs on:"
  TESSERA_CUDA_GRAPHS=1 TESSERA_CUDA_GRAPHS_VERBOSE=1 timeout 100 $B/bin/cuda_plan_bench \
    $P/gpt2-124m.train.bf16.tsr --warmup 3 --iters 10 2>&1 | grep -iE "ms_median|graph" | head -4
  PYTHONUNBUFFERED=1 timeout 200 python3 benchmarks/cuda/torch_gpt2_train_bench.py --iters 10 \
    --modes "$TM" 2>&1 | grep -E "^torch|^#"
}
sec_bert() {
  step "bert-large bf16 inference (batch 32, seq 512)"
  bench bert_tessera $P/bert-large.bf16.tsr
  echo "-- attention on the cuBLASLt path (TESSERA_ATTENTION_KERNEL=gemm):"
  TESSERA_ATTENTION_KERNEL=gemm timeout 100 $B/bin/cuda_plan_bench $P/bert-large.bf16.tsr \
    --warmup 3 --iters 10 2>&1 | grep -E "ms_median"
  echo "-- CUDA graphs on:"
  TESSERA_CUDA_GRAPHS=1 timeout 100 $B/bin/cuda_plan_bench $P/bert-large.bf16.tsr --warmup 3 \
    --iters 10 2>&1 | grep -E "ms_median"
  if [ -f $P/bert-large.int8.tsr ]; then  # make_int8_plans.sh: issue 7's int8-vs-bf16 plan
    echo "-- int8 plan:"; bench bert_int8 $P/bert-large.int8.tsr
  fi
  PYTHONUNBUFFERED=1 timeout 150 python3 benchmarks/cuda/torch_bert_bench.py --iters 10 \
    $([[ "$TM" == *compile* ]] && echo --compile) 2>&1 | grep -E "^torch"
}
sec_resnet() {
  step "resnet50 bf16 training step (batch 128, SGD momentum 0.9)"
  bench resnet_tessera $P/resnet50.train.bf16.tsr
  PYTHONUNBUFFERED=1 timeout 200 python3 benchmarks/cuda/torch_resnet_train_bench.py --iters 10 \
    --modes "$TM" --formats "${TORCH_FORMATS:-nhwc}" 2>&1 | grep -E "^torch|^#"
}
sec_attn() {
  step "attention: flash vs the GEMM path"
  timeout 120 $B/bin/cuda_attention_bench 2>&1 | tail -14 || fail=1
}
sec_gemm() {
  step "bf16 GEMMs: Tessera (row-padded where rows are misaligned) vs torch.matmul"
  timeout 120 $B/bin/cuda_gemm_bench 2>&1 | tail -12 || fail=1
  timeout 120 python3 benchmarks/cuda/torch_gemm_bench.py 2>&1 | tail -12
}
sec_int8() {
  step "int8 Linear vs bf16 Linear (8192 tokens)"
  timeout 120 $B/bin/cuda_int8_bench 2>&1 | tail -12 || fail=1
}
for sec in $S; do "sec_$sec"; done
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL) ($(date +%T))"
exit $fail
