#!/usr/bin/env bash
# Int8 end to end on one tiny model with the default quantization flags (plus any given):
# calibrate on generated sets, evaluate on other generated sets (another seed; never the model's
# test input) against the float32 plan: top-1 agreement >= 97% and relative L2 <= 3% of the
# logits over every eval row; weight bytes of the quantized layers. With MESH, the quantized plan
# is sharded and run on NP ranks (mpirun) for the same checks, and must agree with the
# single-rank quantized plan: top-1 >= 99%, relative L2 <= 0.5% over all rows. Not 1e-5 per set:
# float partial sums in another order can move an activation across a rounding boundary of its
# int8 grid, and one flipped code moves that set's logits by ~1% (gpt2, 1 set in 32); a wrong
# shard of a scale or acc_offset moves them by tens of percent.
# usage: quant_test.sh BIN_DIR DATA_TOOL MODEL_DIR KIND SHAPE CALIB_SETS EVAL_SETS MESH NP
#                      [compile flags...]
# SHAPE's first dim is the batch; when it differs from the model's (2), the model is re-batched
# (quant_data rebatch) so that 512 rows take a few runs instead of hundreds.
set -euo pipefail
BIN=$1; DATA=$2; MODEL=$3; KIND=$4; SHAPE=$5; NCAL=$6; NEVAL=$7; MESH=$8; NP=$9; shift 9
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
T="$BIN/tessera"
ONNX="$MODEL/model.onnx"
if [ "${SHAPE%%x*}" != 2 ]; then
  "$DATA" rebatch "$ONNX" "$WORK/model.onnx" "${SHAPE%%x*}"
  ONNX="$WORK/model.onnx"
fi
"$DATA" gen "$KIND" "$SHAPE" "$WORK/calib" "$NCAL" 1001
"$DATA" gen "$KIND" "$SHAPE" "$WORK/eval" "$NEVAL" 2002
"$T" compile "$ONNX" -o "$WORK/f.tsr" -q
"$T" compile "$ONNX" -o "$WORK/q.tsr" -q --quantize int8 --calibration "$WORK/calib" "$@"
for ((i = 0; i < NEVAL; i++)); do
  "$T" run "$WORK/f.tsr" --inputs "$WORK/eval/$i" --output-dir "$WORK/of/$i"
  "$T" run "$WORK/q.tsr" --inputs "$WORK/eval/$i" --output-dir "$WORK/oq/$i"
done
# A missed bound fails the test at the end, after every number has been printed.
FAIL=0
echo "1 rank:"
"$DATA" metrics "$WORK/of" "$WORK/oq" "$NEVAL" ${TSR_QUANT_BOUNDS:-0.97 0.03} || FAIL=1

# Weight bytes of the quantized layers and the inspect meta of every quantized op.
"$DATA" weights "$WORK/f.tsr" "$WORK/q.tsr"

if [ "$MESH" != "-" ]; then
  "$T" compile "$ONNX" -o "$WORK/qm.tsr" -q --mesh "$MESH" --quantize int8 \
    --calibration "$WORK/calib" "$@"
  for ((i = 0; i < NEVAL; i++)); do
    mpirun --oversubscribe --allow-run-as-root -np "$NP" \
      "$T" run "$WORK/qm.tsr" --inputs "$WORK/eval/$i" --output-dir "$WORK/om/$i"
  done
  echo "$NP ranks ($MESH) against float32:"
  "$DATA" metrics "$WORK/of" "$WORK/om" "$NEVAL" ${TSR_QUANT_BOUNDS:-0.97 0.03} || FAIL=1
  echo "$NP ranks ($MESH) against the single-rank quantized plan:"
  "$DATA" metrics "$WORK/oq" "$WORK/om" "$NEVAL" 0.99 0.005 || FAIL=1
fi
if [ "$FAIL" != 0 ]; then echo "FAIL: accuracy bounds missed"; exit 1; fi
echo PASS
