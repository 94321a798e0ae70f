#!/usr/bin/env bash
# One device call for resnet training on the CUDA backend (convolutions through cuDNN): build,
# the kernel differential tests (with cuDNN, then the conv/pool cases again on the direct
# kernels with TESSERA_CUDNN=0), tiny resnet training CUDA vs CPU (train_check.sh), then the
# resnet50 bf16 training step (batch 128, SGD momentum 0.9) against PyTorch in the same call.
# Plans: benchmarks/cuda/make_plans.sh, carried (benchmarks/cuda/plans).
# Usage (device tool): bash benchmarks/cuda/resnet_check.sh
#   TORCH_MODES=eager: no torch.compile (saves ~2-4 min); SKIP_TORCH=1: no PyTorch at all.
# cuDNN: the toolkit's when it has one, else the wheel PyTorch brings (nvidia-cudnn-cu13), found
# through python3 and passed to CMake as CUDNN_ROOT (and to the loader: cuDNN dlopens its engine
# sub-libraries from its own directory).
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
step() { echo "== $* ($(date +%T))"; }
step build
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
if ! ls /usr/local/cuda/lib64/libcudnn.so* /usr/local/cuda/lib/libcudnn.so* >/dev/null 2>&1 &&
  [ -z "${CUDNN_ROOT:-}" ]; then
  CUDNN_ROOT=$(python3 -c 'import nvidia.cudnn as c; print(list(c.__path__)[0])' 2>/dev/null) &&
    export CUDNN_ROOT
fi
[ -n "${CUDNN_ROOT:-}" ] && export LD_LIBRARY_PATH=$CUDNN_ROOT/lib:${LD_LIBRARY_PATH:-}
echo "CUDNN_ROOT=${CUDNN_ROOT:-<toolkit>}"
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
grep -i cudnn "$OUT/cmake.log"
ninja -C $B -j16 tessera cuda_kernels_test cuda_plan_bench >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
T=$B/bin/tessera

step "kernel differential tests, CUDA vs CPU (cuDNN on)"
TESSERA_CUDNN_VERBOSE=1 $B/bin/cuda_kernels_test --gtest_brief=1 >"$OUT/kernels_test.txt" 2>&1 ||
  fail=1
grep -E "^\[  (PASSED|FAILED|SKIPPED)|Failure|error|relative error" "$OUT/kernels_test.txt" | head -40
echo "cuDNN plans (config picked / direct fallbacks):"
grep "^cudnn " "$OUT/kernels_test.txt" | sed 's/\[.*\]//' | sort | uniq -c | sort -rn | head -12
step "conv/pool cases on the direct kernels (TESSERA_CUDNN=0)"
TESSERA_CUDNN=0 $B/bin/cuda_kernels_test --gtest_brief=1 --gtest_filter='*conv*:*pool*' 2>&1 |
  grep -E "^\[  (PASSED|FAILED)|Failure|relative error" | head -20 || fail=1

step "tiny resnet training: CUDA vs the CPU backend"
bash benchmarks/cuda/train_check.sh $B resnet 2>&1 | grep -vE "^(step|loss)" | tail -8 || fail=1

step "resnet50 bf16 training step (batch 128, SGD momentum 0.9), tessera"
TESSERA_CUDNN_VERBOSE=1 timeout 300 $B/bin/cuda_plan_bench $P/resnet50.train.bf16.tsr --warmup 3 \
  --iters 10 --profile >"$OUT/resnet50_tessera_full.txt" 2>&1 || fail=1
grep -v "^cudnn " "$OUT/resnet50_tessera_full.txt" | head -40 | tee "$OUT/resnet50_tessera.txt"
echo "cuDNN problems: $(grep -c '^cudnn ' "$OUT/resnet50_tessera_full.txt"), direct-kernel" \
  "fallbacks: $(grep '^cudnn ' "$OUT/resnet50_tessera_full.txt" | grep -c 'direct kernel')," \
  "nondeterministic: $(grep -c 'nondeterministic' "$OUT/resnet50_tessera_full.txt")"
grep "^cudnn .*direct kernel" "$OUT/resnet50_tessera_full.txt" | head -5

if [ "${SKIP_TORCH:-0}" != 1 ]; then
  step "resnet50 training step, PyTorch (NCHW and channels_last)"
  PYTHONUNBUFFERED=1 timeout 420 python3 benchmarks/cuda/torch_resnet_train_bench.py --iters 10 \
    --modes "${TORCH_MODES:-eager,compile}" 2>&1 | grep -v Warning | tee "$OUT/resnet50_torch.txt"
fi
echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL) ($(date +%T))"
exit $fail
