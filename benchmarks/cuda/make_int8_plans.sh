#!/usr/bin/env bash
# The int8 plans the device scripts carry (benchmarks/cuda/plans; sibling of make_plans.sh, which
# makes the float ones): tiny gpt2/bert int8 plans for int8_bench.sh (f32 and bf16 activations)
# and bert-large int8 for int8_e2e.sh. Calibration sets are generated here (quant_data, seed
# 1001; token ids uniform in [0, 512), the tiny models' test distribution).
# bert-large is graph-only: --random-weights 1 fills its weights for calibration and
# quantization, and the plan stores none (the runtime fills them: timing only). Calibration
# runs the reference interpreter at batch 1 x seq 128 (--calibration-shape), not the plan's
# 32 x 512, which would take hours on a CPU. docs/quantization.md, "Graph-only models".
#   benchmarks/cuda/make_int8_plans.sh [BUILD_DIR] [MODELS_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$root/build}/bin
M=${2:-$root/../shared/models}
P=$root/benchmarks/cuda/plans
C=$(mktemp -d); trap 'rm -rf "$C"' EXIT
c() { "$BIN/tessera" compile "$@" -q; }
"$BIN/quant_data" gen tokens 2x16 "$C/tiny" 8 1001
for m in gpt2 bert; do
  c "$M/tiny/$m/model.onnx" --quantize int8 --calibration "$C/tiny" -o "$P/$m.int8.tsr"
  c "$M/tiny/$m/model.onnx" --quantize int8 --calibration "$C/tiny" --precision bf16 \
    -o "$P/$m.int8bf16.tsr"
done
"$BIN/quant_data" gen tokens 1x128 "$C/bert-large" 2 1001
time c "$M/full/bert-large-340m/model.onnx" --shape batch=32,seq=512 --precision bf16 \
  --cluster h100-nvlink --quantize int8 --calibration "$C/bert-large" \
  --calibration-shape batch=1,seq=128 --random-weights 1 -o "$P/bert-large.int8.tsr"
ls -la "$P"/*.tsr "$P"/train/*.tsr | awk '{ s += $5 } END { printf "%d plans, %.1f MiB\n", NR, s / 2^20 }'
