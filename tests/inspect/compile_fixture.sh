#!/usr/bin/env bash
# Plans the inspect tests read: tiny GPT-2 on dp=2,tp=2 (the solver's choice), on tp=2 with
# Megatron-style forced strategies (every collective kind), and on one device (run -v checks).
# usage: compile_fixture.sh BIN_DIR MODELS_DIR STRATEGY_DIR OUT_DIR
set -euo pipefail
BIN=$1; MODELS=$2; STRAT=$3; OUT=$4
mkdir -p "$OUT"
"$BIN/tessera" compile "$MODELS/gpt2/model.onnx" --mesh dp=2,tp=2 -o "$OUT/g.tsr" -q
"$BIN/tessera" compile "$MODELS/gpt2/model.onnx" --mesh tp=2 -o "$OUT/m.tsr" -q \
  --strategy "$STRAT/gpt2_megatron_tp2.txt"
"$BIN/tessera" compile "$MODELS/gpt2/model.onnx" -o "$OUT/s.tsr" -q
