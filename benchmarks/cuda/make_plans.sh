#!/usr/bin/env bash
# Compiles every plan the device scripts carry (benchmarks/cuda/plans, *.tsr git-ignored) with
# this machine's compiler build, so a device call always runs plans of the current compiler:
# tiny models for device_check.sh (1 GPU and tp=2), train_check.sh (gradients-only and AdamW),
# the gpt2-124m bf16 training step (gpt2_train_bench.sh), bert-large bf16 inference
# (bert_bench.sh) and the resnet50 bf16 training step (resnet_check.sh; graph-only, so the plan
# is small: 2.8 MiB, compiled in 0.3 s). Int8 plans need calibration data: see int8_bench.sh.
#   benchmarks/cuda/make_plans.sh [BUILD_DIR] [MODELS_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
T=${1:-$root/build}/bin/tessera
M=${2:-$root/../shared/models}
P=$root/benchmarks/cuda/plans
c() { "$T" compile "$@" -q; }
for m in gpt2 bert resnet; do
  c "$M/tiny/$m/model.onnx" -o "$P/$m.tsr"
  for pr in bf16 fp16; do c "$M/tiny/$m/model.onnx" --precision $pr -o "$P/$m.$pr.tsr"; done
done
for m in gpt2 bert; do
  c "$M/tiny/$m/model.onnx" --mesh tp=2 -o "$P/$m.tp2.tsr"
  c "$M/tiny/$m/model.onnx" --mode train --gradients-only -o "$P/train/$m.grads.tsr"
  c "$M/tiny/$m/model.onnx" --mode train -o "$P/train/$m.adamw.tsr"
done
c "$M/tiny/resnet/model.onnx" --mode train --gradients-only -o "$P/train/resnet.grads.tsr"
c "$M/tiny/resnet/model.onnx" --mode train -o "$P/train/resnet.adamw.tsr"
c "$M/tiny/gpt2/model.onnx" --mode train --gradients-only --mesh dp=2 -o "$P/train/gpt2.grads.dp2.tsr"
c "$M/tiny/gpt2/model.onnx" --mode train --gradients-only --mesh tp=2 -o "$P/train/gpt2.grads.tp2.tsr"
c "$M/full/gpt2-124m/model.onnx" --shape batch=8,seq=1024 --mode train --precision bf16 \
  --cluster h100-nvlink -o "$P/gpt2-124m.train.bf16.tsr"
c "$M/full/bert-large-340m/model.onnx" --shape batch=32,seq=512 --precision bf16 \
  --cluster h100-nvlink -o "$P/bert-large.bf16.tsr"
# SGD with momentum, as torch_resnet_train_bench.py (the usual resnet recipe).
c "$M/full/resnet50/model.onnx" --shape batch=128 --mode train --precision bf16 \
  --optimizer sgd --momentum 0.9 --lr 0.1 --cluster h100-nvlink -o "$P/resnet50.train.bf16.tsr"
ls -la "$P"/*.tsr "$P"/train/*.tsr | awk '{ s += $5 } END { printf "%d plans, %.1f MiB\n", NR, s / 2^20 }'
