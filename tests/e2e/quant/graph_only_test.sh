#!/usr/bin/env bash
# Quantized benchmark plans of graph-only models (docs/quantization.md, "Graph-only models"):
# gpt2-124m (no weight data) compiled at batch 4 x seq 64 with --random-weights and calibration
# at batch 1 x seq 8 (--calibration-shape); the plan is quantized, graph-only, records the seed
# and the calibration shape, and the same flags give the same scales. Then every misuse fails
# with its own message: a flag that does not apply, calibration sets of the wrong shape, a
# calibration shape the model has no dim for, random weights for a model with weights, and
# --quantize on a graph-only model without --random-weights.
# usage: graph_only_test.sh BIN_DIR DATA_TOOL MODELS_DIR
set -euo pipefail
BIN=$1; DATA=$2; MODELS=$3
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
T="$BIN/tessera"
M="$MODELS/full/gpt2-124m/model.onnx"
"$DATA" gen tokens 1x8 "$WORK/cal" 2 1001
Q=(--shape batch=4,seq=64 --quantize int8 --calibration "$WORK/cal" --activation-scales tensor)

"$T" compile "$M" "${Q[@]}" --calibration-shape batch=1,seq=8 --random-weights 7 -o "$WORK/a.tsr" -q
"$T" inspect "$WORK/a.tsr" > "$WORK/a.txt"
grep -q "no data: graph-only plan" "$WORK/a.txt"
grep -q "quant_random_weights: seed 7:" "$WORK/a.txt"
grep -q "quant_calibration_shape: batch=1,seq=8" "$WORK/a.txt"
grep -Eq "^  QMatMulI8 +[1-9]" "$WORK/a.txt"
grep -Eq "QuantizeI8 .*\[256, 768\]" "$WORK/a.txt"  # 4 x 64 rows: the plan's shape, not 1 x 8
# Deterministic: the same seed and sets give the same scales.
"$T" compile "$M" "${Q[@]}" --calibration-shape batch=1,seq=8 --random-weights 7 -o "$WORK/b.tsr" -q
"$T" inspect "$WORK/b.tsr" > "$WORK/b.txt"
diff <(grep "quant\." "$WORK/a.txt") <(grep "quant\." "$WORK/b.txt")
echo "plan: $(grep -c 'quant\.' "$WORK/a.txt") quantized ops, graph-only, deterministic"

# expect_error MESSAGE compile-args...: the compile fails and prints MESSAGE.
expect_error() {
  local want=$1; shift
  if "$T" compile "$@" -o "$WORK/x.tsr" -q 2> "$WORK/err.txt"; then
    echo "FAIL: compile $* succeeded; wanted: $want"; exit 1
  fi
  grep -qF -- "$want" "$WORK/err.txt" || { echo "FAIL: wanted '$want', got:"; cat "$WORK/err.txt"; exit 1; }
  echo "ok: $(head -c 160 "$WORK/err.txt")"
}
expect_error "--random-weights applies to --quantize" "$M" --shape batch=4,seq=64 --random-weights 1
expect_error "--calibration-shape applies to --quantize only" "$M" --shape batch=4,seq=64 \
  --calibration-shape batch=1,seq=8
expect_error "graph input 'input_ids' is i64 1x16 (the model at --shape, or at --calibration-shape" "$M" "${Q[@]}" --random-weights 1 \
  --calibration-shape batch=1,seq=16
expect_error "leaves the graph inputs' shapes as the plan's" "$M" "${Q[@]}" --random-weights 1 \
  --calibration-shape bogus=3
expect_error "the model carries no weight data (graph-only)" "$M" "${Q[@]}" \
  --calibration-shape batch=1,seq=8
expect_error "--random-weights is for graph-only models" "$MODELS/tiny/bert/model.onnx" \
  --quantize int8 --calibration "$WORK/cal" --random-weights 1
expect_error "--random-weights: the seed must be >= 0" "$M" "${Q[@]}" --random-weights=-5
echo PASS
