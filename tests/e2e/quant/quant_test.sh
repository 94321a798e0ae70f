#!/usr/bin/env bash
# Int8 end to end on one tiny model: calibrate on generated sets, evaluate on other generated
# sets (never the model's test input) against the float32 plan: top-1 agreement and relative L2
# of the logits; weight bytes of the quantized layers; with MESH, the sharded quantized plan
# against the single-rank one.
# usage: quant_test.sh BIN_DIR DATA_TOOL MODEL_DIR KIND SHAPE EVAL_SETS MESH NP [compile flags...]
set -euo pipefail
BIN=$1; DATA=$2; MODEL=$3; KIND=$4; SHAPE=$5; NEVAL=$6; MESH=$7; NP=$8; shift 8
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
"$DATA" gen "$KIND" "$SHAPE" "$WORK/calib" 8 1001
"$DATA" gen "$KIND" "$SHAPE" "$WORK/eval" "$NEVAL" 2002
T="$BIN/tessera"
"$T" compile "$MODEL/model.onnx" -o "$WORK/f.tsr" -q
"$T" compile "$MODEL/model.onnx" -o "$WORK/q.tsr" -q --quantize int8 --calibration "$WORK/calib" "$@"
for ((i = 0; i < NEVAL; i++)); do
  "$T" run "$WORK/f.tsr" --inputs "$WORK/eval/$i" --output-dir "$WORK/of/$i"
  "$T" run "$WORK/q.tsr" --inputs "$WORK/eval/$i" --output-dir "$WORK/oq/$i"
done
# The bounds apply to the 512-row runs; the sharded runs use fewer sets and only report.
if [ "$MESH" = "-" ]; then BOUNDS=(0.97 0.03); else BOUNDS=(0 1); fi
"$DATA" metrics "$WORK/of" "$WORK/oq" "$NEVAL" "${BOUNDS[@]}"

# Weight bytes of the quantized layers and the inspect meta of every quantized op.
"$DATA" weights "$WORK/f.tsr" "$WORK/q.tsr"

if [ "$MESH" != "-" ]; then
  "$T" compile "$MODEL/model.onnx" -o "$WORK/qm.tsr" -q --mesh "$MESH" --quantize int8 \
    --calibration "$WORK/calib" "$@"
  mpirun --oversubscribe --allow-run-as-root -np "$NP" \
    "$T" run "$WORK/qm.tsr" --inputs "$WORK/eval/0" --output-dir "$WORK/om"
  "$T" compare "$WORK/om/output_0.pb" "$WORK/oq/0/output_0.pb" --tolerance 1e-5
fi
echo PASS
