#!/usr/bin/env bash
# A learnable task: tiny gpt2 learns a repeated sequence (next token of i % 7); within 200 AdamW
# steps on one CPU rank the loss falls below 10% of its start.
# usage: loss_falls_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR
source "$(dirname "$0")/common.sh"
sequence_batch "$WORK/data" 7
compile_train "$WORK/t.tsr" - --optimizer adamw --lr 1e-2 --weight-decay 0
"$TSR" run "$WORK/t.tsr" --data "$WORK/data" --steps 200 > "$WORK/log"
losses "$WORK/log" | awk 'NR == 1 { first = $1 } { last = $1 }
  END { printf "loss %g -> %g (%.2f%% of start)\n", first, last, 100 * last / first
        exit !(NR == 200 && last < 0.1 * first) }'
