#!/usr/bin/env bash
# Save at step 5, stop, resume with --load-weights for 5 more on the same mesh (dp=2,tp=2, so
# the checkpoint is gathered and cut again): weights, optimizer state and the loss curve are
# bit-identical to an uninterrupted 10-step run. Two batches: the cycle must continue too.
# usage: resume_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR
source "$(dirname "$0")/common.sh"
reference_batch "$WORK/data/0"
sequence_batch "$WORK/data/1" 7
compile_train "$WORK/t.tsr" dp=2,tp=2 --optimizer adamw --lr 1e-3
T=(run_np 4 "$TSR" run "$WORK/t.tsr" --data "$WORK/data")
"${T[@]}" --steps 10 --save-weights "$WORK/full" > "$WORK/full.log"
"${T[@]}" --steps 5 --save-weights "$WORK/half" > "$WORK/a.log"
"${T[@]}" --steps 5 --load-weights "$WORK/half" --save-weights "$WORK/resumed" > "$WORK/b.log"
cat "$WORK/a.log" "$WORK/b.log" > "$WORK/resumed.log"
diff "$WORK/full.log" "$WORK/resumed.log"
"$TOOL" identical "$WORK/full" "$WORK/resumed"
