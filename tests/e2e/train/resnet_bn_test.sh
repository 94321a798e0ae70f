#!/usr/bin/env bash
# Tiny resnet trains with batch statistics (the train-mode default): the loss falls over five
# SGD steps on one rank, and dp=2,tp=2 follows the single-rank run. Tolerance 1e-3, not 1e-5:
# layer4's BatchNormalization sees batch 2 on 1x1 maps, i.e. 2 values per channel, where
# xhat = +-1 whatever the input, so its input gradient is exactly zero in exact arithmetic and
# float32 rounding noise (the all-reduced partial sums round differently) divided by a std
# near sqrt(epsilon) instead. tests/e2e/train/dropout_bn_test.sh checks 1e-5 on a
# well-conditioned BatchNormalization.
# usage: resnet_bn_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR
source "$(dirname "$0")/common.sh"
reference_batch "$WORK/data/0"
compile_train "$WORK/single.tsr" - --optimizer sgd --lr 0.01
compile_train "$WORK/sharded.tsr" dp=2,tp=2 --optimizer sgd --lr 0.01
"$TSR" run "$WORK/single.tsr" --data "$WORK/data" --steps 5 --save-weights "$WORK/s5" \
  > "$WORK/single.log"
"$TSR" run "$WORK/single.tsr" --data "$WORK/data" --steps 1 --save-weights "$WORK/s1" > /dev/null
run_np 4 "$TSR" run "$WORK/sharded.tsr" --data "$WORK/data" --steps 1 \
  --save-weights "$WORK/p1" > /dev/null
"$TOOL" same "$WORK/p1" "$WORK/s1" 1e-3 1e-3
losses "$WORK/single.log" | awk 'NR == 1 { first = $1 } { last = $1 }
  END { printf "loss %g -> %g\n", first, last; exit !(NR == 5 && last < 0.8 * first) }'
