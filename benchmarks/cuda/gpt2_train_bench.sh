#!/usr/bin/env bash
# gpt2-124m training step on one GPU: Tessera's plan against PyTorch eager and torch.compile in
# the same call (issue 12, benchmark 1). The plan (carried: benchmarks/cuda/plans, *.tsr ignored)
#   tessera compile ../shared/models/full/gpt2-124m/model.onnx --shape batch=8,seq=1024 \
#     --mode train --precision bf16 --cluster h100-nvlink -o benchmarks/cuda/plans/gpt2-124m.train.bf16.tsr
# is graph-only: cuda_plan_bench fills random weights and token ids in [0, 1000) (labels too)
# and times Session::run (forward, backward, AdamW; the in-place copy of the updated states is
# not included). FLOPs for MFU: 6 * 124M params * 8192 tokens + attention 12 * 2 * 2 * 8 * 12
# * 1024^2 * 64 * 3 (fwd+bwd) ≈ 6.1e12 + 0.58e12 per step.
# Usage (device tool): bash benchmarks/cuda/gpt2_train_bench.sh
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 cuda_plan_bench >"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -40; exit 1; }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
echo "== tessera (bf16 mixed precision plan)"
$B/bin/cuda_plan_bench benchmarks/cuda/plans/gpt2-124m.train.bf16.tsr --warmup 3 --iters 10 \
  ${TSR_PROFILE:+--profile} 2>&1 | tee "$OUT/tessera.txt"
echo "== pytorch"
python3 benchmarks/cuda/torch_gpt2_train_bench.py --iters 10 2>&1 | grep -v Warning | tee "$OUT/torch.txt"
