#!/usr/bin/env bash
# End-to-end: compile a shared tiny model for a mesh, run it on N CPU ranks (mpirun), compare
# the logits with PyTorch's reference (1e-4) and, for N > 1, with the single-rank run (1e-5).
# usage: model_test.sh BIN_DIR MODEL_DIR MESH NP [extra compile flags...]
# TSR_MODEL_FILE picks the file in MODEL_DIR (default model.onnx; model.torchscript.pt for TorchScript).
set -euo pipefail
BIN=$1; MODEL=$2; MESH=$3; NP=$4; shift 4
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
MESH_FLAG=(); [ "$MESH" != "-" ] && MESH_FLAG=(--mesh "$MESH")
"$BIN/tessera" compile "$MODEL/${TSR_MODEL_FILE:-model.onnx}" -o "$WORK/m.tsr" "${MESH_FLAG[@]}" -q "$@"
if [ "$NP" -gt 1 ]; then
  mpirun --oversubscribe --allow-run-as-root -np "$NP" \
    "$BIN/tessera" run "$WORK/m.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$WORK/out"
else
  "$BIN/tessera" run "$WORK/m.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$WORK/out"
fi
"$BIN/tessera" compare "$WORK/out/output_0.pb" "$MODEL/test_data_set_0/output_0.pb" --tolerance 1e-4
if [ "$NP" -gt 1 ]; then
  "$BIN/tessera" compile "$MODEL/${TSR_MODEL_FILE:-model.onnx}" -o "$WORK/single.tsr" -q "$@"
  "$BIN/tessera" run "$WORK/single.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$WORK/single"
  "$BIN/tessera" compare "$WORK/out/output_0.pb" "$WORK/single/output_0.pb" --tolerance 1e-5
fi
