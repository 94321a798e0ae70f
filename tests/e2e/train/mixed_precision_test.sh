#!/usr/bin/env bash
# Mixed-precision training (--precision bf16|fp16: f32 master weights, 16-bit forward and
# backward, fp16 dynamic loss scaling) on tiny gpt2, CPU backend (16-bit storage, f32 compute).
# usage: mixed_precision_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR CHECK [ARGS]
#   grads P TOL     one --gradients-only step: loss and every gradient within TOL of PyTorch's
#                   f32 train_reference, and NOT within 1e-4 (the f32 plans' tolerance): the
#                   16-bit arithmetic must show, or the plan is not running 16-bit
#   sharded P TOL   dp=2,tp=2 on 4 ranks against one rank, both P: one step's gradients, then
#                   3 SGD steps' weights, within TOL (tensor-parallel partial sums are rounded
#                   to 16 bits before their f32 all-reduce, one rounding more than one rank);
#                   fp16: an overflow on 4 ranks skips the step and halves the scale
#   loss_falls P    the learnable sequence (loss_falls_test.sh) in P: below 10% within 200 steps
#   loss_scale      fp16: a step whose gradients overflow (scale forced to 2^100) changes no
#                   weight or optimizer state and halves the scale; 2000 good steps (counter
#                   forced to 1999) double it; every saved state of bf16/fp16 plans is f32
#                   except the int64 counters; resume bit-identical; --export-onnx works
source "$(dirname "$0")/common.sh"
CHECK=$1; shift

case "$CHECK" in
grads)
  P=$1; TOL=$2
  compile_train "$WORK/g.tsr" - --gradients-only --batchnorm eval --precision "$P"
  reference_batch "$WORK/data"
  "$TSR" run "$WORK/g.tsr" --data "$WORK/data" --steps 1 --dump-gradients "$WORK/grads"
  "$TOOL" grads "$WORK/grads" "$MODEL/train_reference" "$TOL" 1e-5
  if "$TOOL" grads "$WORK/grads" "$MODEL/train_reference" 1e-4 1e-5 > /dev/null; then
    echo "FAIL: $P gradients match the f32 reference to 1e-4: no 16-bit rounding happened"
    exit 1
  fi
  ;;
sharded)
  P=$1; TOL=$2
  reference_batch "$WORK/data"
  for m in - dp=2,tp=2; do
    tag=${m//[=,]/_}
    compile_train "$WORK/g$tag.tsr" "$m" --gradients-only --batchnorm eval --precision "$P"
    compile_train "$WORK/s$tag.tsr" "$m" --optimizer sgd --lr 1e-2 --precision "$P"
  done
  "$TSR" run "$WORK/g-.tsr" --data "$WORK/data" --steps 1 --dump-gradients "$WORK/g1"
  run_np 4 "$TSR" run "$WORK/gdp_2_tp_2.tsr" --data "$WORK/data" --steps 1 \
    --dump-gradients "$WORK/g4"
  "$TOOL" same "$WORK/g4" "$WORK/g1" "$TOL" 1e-5
  "$TSR" run "$WORK/s-.tsr" --data "$WORK/data" --steps 3 --save-weights "$WORK/w1"
  run_np 4 "$TSR" run "$WORK/sdp_2_tp_2.tsr" --data "$WORK/data" --steps 3 \
    --save-weights "$WORK/w4"
  "$TOOL" same "$WORK/w4" "$WORK/w1" "$TOL" 1e-5
  if [ "$P" = fp16 ]; then  # an overflow on 4 ranks skips the step everywhere
    "$TOOL" scalar "$WORK/w1/loss_scale.pb" loss_scale f32 1.2676506002282294e30
    run_np 4 "$TSR" run "$WORK/sdp_2_tp_2.tsr" --data "$WORK/data" --steps 1 \
      --load-weights "$WORK/w1" --save-weights "$WORK/w5"
    "$TOOL" same "$WORK/w1" "$WORK/w5" 0 1e-30 loss_scale.pb good_steps.pb steps_done.pb
    [ "$("$TOOL" show "$WORK/w5/loss_scale.pb")" = "f32 scalar 6.338253e+29" ] ||
      { echo "FAIL: scale after overflow: $("$TOOL" show "$WORK/w5/loss_scale.pb")"; exit 1; }
  fi
  ;;
loss_falls)
  P=$1
  sequence_batch "$WORK/data" 7
  compile_train "$WORK/t.tsr" - --optimizer adamw --lr 1e-2 --weight-decay 0 --precision "$P"
  "$TSR" run "$WORK/t.tsr" --data "$WORK/data" --steps 200 > "$WORK/log"
  losses "$WORK/log" | awk 'NR == 1 { first = $1 } { last = $1 }
    END { printf "loss %g -> %g (%.2f%% of start)\n", first, last, 100 * last / first
          exit !(NR == 200 && last < 0.1 * first) }'
  ;;
loss_scale)
  reference_batch "$WORK/data"
  expect() {  # expect FILE "DTYPE SHAPE VALUE"
    local got; got=$("$TOOL" show "$1")
    [ "$got" = "$2" ] || { echo "FAIL: $1 is '$got', want '$2'"; exit 1; }
  }
  compile_train "$WORK/f.tsr" - --optimizer adamw --lr 1e-3 --precision fp16
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --save-weights "$WORK/c0"
  expect "$WORK/c0/loss_scale.pb" "f32 scalar 65536"
  expect "$WORK/c0/loss_scale.good_steps.pb" "i64 scalar 1"
  expect "$WORK/c0/optimizer.step.pb" "i64 scalar 1"
  # Overflow: 2^100 times the loss gradient is inf in fp16.
  "$TOOL" scalar "$WORK/c0/loss_scale.pb" loss_scale f32 1.2676506002282294e30
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --load-weights "$WORK/c0" \
    --save-weights "$WORK/c1" | tee "$WORK/log1"
  losses "$WORK/log1" | awk '{ exit !($1 > 0 && $1 < 100) }'  # the loss is not scaled
  expect "$WORK/c1/loss_scale.pb" "f32 scalar 6.338253e+29"
  expect "$WORK/c1/loss_scale.good_steps.pb" "i64 scalar 0"
  expect "$WORK/c1/optimizer.step.pb" "i64 scalar 1"
  "$TOOL" same "$WORK/c0" "$WORK/c1" 0 1e-30 loss_scale.pb good_steps.pb steps_done.pb
  # Growth: the 2000th good step doubles the scale and restarts the count.
  "$TOOL" scalar "$WORK/c0/loss_scale.pb" loss_scale f32 1024
  "$TOOL" scalar "$WORK/c0/loss_scale.good_steps.pb" loss_scale.good_steps i64 1999
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --load-weights "$WORK/c0" \
    --save-weights "$WORK/c2"
  expect "$WORK/c2/loss_scale.pb" "f32 scalar 2048"
  expect "$WORK/c2/loss_scale.good_steps.pb" "i64 scalar 0"
  expect "$WORK/c2/optimizer.step.pb" "i64 scalar 2"
  if "$TOOL" same "$WORK/c0" "$WORK/c2" 0 1e-30 loss_scale.pb good_steps.pb steps_done.pb \
    optimizer.step.pb > /dev/null; then
    echo "FAIL: a good fp16 step left every state unchanged"
    exit 1
  fi
  # Resume is bit-identical with the scale state; --export-onnx leaves the scale out.
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 2 --save-weights "$WORK/r2" > /dev/null
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --load-weights "$WORK/c2" \
    --save-weights "$WORK/r11" --export-onnx "$WORK/e.onnx" > /dev/null
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --save-weights "$WORK/r1" > /dev/null
  "$TSR" run "$WORK/f.tsr" --data "$WORK/data" --steps 1 --load-weights "$WORK/r1" \
    --save-weights "$WORK/r1_1" > /dev/null
  "$TOOL" identical "$WORK/r2" "$WORK/r1_1"
  [ -s "$WORK/e.onnx" ] || { echo "FAIL: no exported model"; exit 1; }
  # Master weights and optimizer state stay f32 in 16-bit plans (the plan's states, saved).
  compile_train "$WORK/b.tsr" - --optimizer adamw --precision bf16
  "$TSR" run "$WORK/b.tsr" --data "$WORK/data" --steps 1 --save-weights "$WORK/cb"
  for f in "$WORK"/c2/*.pb "$WORK"/cb/*.pb; do
    case "$(basename "$f")" in
    optimizer.step.pb | loss_scale.good_steps.pb | steps_done.pb | dropout.step.pb) ;;
    *) "$TOOL" show "$f" | grep -q '^f32 ' || { echo "FAIL: $f: $("$TOOL" show "$f")"; exit 1; } ;;
    esac
  done
  echo "OK: fp16 overflow skipped the step and halved the scale; growth after 2000; states f32"
  ;;
*)
  echo "unknown check '$CHECK'"
  exit 2
  ;;
esac
