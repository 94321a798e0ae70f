#!/usr/bin/env bash
# --export-onnx writes the trained weights into the source model: the exported model, compiled
# afresh, computes on its first step the loss that the trained run computes on its next step
# (the loss is taken before the update).
# usage: export_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR
source "$(dirname "$0")/common.sh"
sequence_batch "$WORK/data" 7
compile_train "$WORK/t.tsr" - --optimizer adamw --lr 1e-2
"$TSR" run "$WORK/t.tsr" --data "$WORK/data" --steps 5 --save-weights "$WORK/ck" \
  --export-onnx "$WORK/trained.onnx" --source-model "$MODEL/model.onnx"
"$TSR" run "$WORK/t.tsr" --data "$WORK/data" --steps 1 --load-weights "$WORK/ck" > "$WORK/next.log"
"$TSRC" compile "$WORK/trained.onnx" --mode train -q -o "$WORK/e.tsr"
"$TSR" run "$WORK/e.tsr" --data "$WORK/data" --steps 1 > "$WORK/exported.log"
cat "$WORK/next.log" "$WORK/exported.log"
[ "$(losses "$WORK/next.log")" = "$(losses "$WORK/exported.log")" ]
