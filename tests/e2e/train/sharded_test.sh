#!/usr/bin/env bash
# Ten training steps on dp=2,tp=2 (4 ranks) equal ten single-rank steps: every saved weight and
# optimizer state to 1e-5 relative. Two batches, so the batch cycle is exercised too.
# usage: sharded_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR COMPILE_FLAGS...
#
# AdamW needs care (tests/e2e/train/CMakeLists.txt passes it): its first step moves each weight
# by lr * g / (|g| + eps), so a gradient element at rounding-noise level (|g| ~ 1e-7 where the
# largest is 0.07) moves by a noise-dependent fraction of lr. At lr 1e-3 one element of gpt2's
# c_attn.weight ends 1.8e-5 apart, though the gradients agree to 1e-7 relative. And the key
# bias has an identically zero gradient (softmax ignores a per-row shift), so AdamW turns pure
# rounding noise into +-lr steps there: c_attn.bias is frozen for AdamW.
source "$(dirname "$0")/common.sh"
reference_batch "$WORK/data/0"
sequence_batch "$WORK/data/1" 7
compile_train "$WORK/single.tsr" - "$@"
compile_train "$WORK/sharded.tsr" dp=2,tp=2 "$@"
"$TSR" run "$WORK/single.tsr" --data "$WORK/data" --steps 10 --save-weights "$WORK/single" \
  > "$WORK/single.log"
run_np 4 "$TSR" run "$WORK/sharded.tsr" --data "$WORK/data" --steps 10 \
  --save-weights "$WORK/sharded" > "$WORK/sharded.log"
paste "$WORK/single.log" "$WORK/sharded.log"
"$TOOL" same "$WORK/sharded" "$WORK/single" 1e-5 1e-5
