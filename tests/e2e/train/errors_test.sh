#!/usr/bin/env bash
# Training errors are one clear line and a non-zero exit: missing labels.pb, labels of the
# wrong dtype, --steps on an inference plan, --dump-gradients without gradient outputs.
# usage: errors_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR
source "$(dirname "$0")/common.sh"
compile_train "$WORK/t.tsr" - --optimizer sgd
"$TSRC" compile "$MODEL/model.onnx" -q -o "$WORK/infer.tsr"

# expect_error WANT CMD...: CMD fails (non-zero) and its stderr contains WANT.
expect_error() {
  local want=$1; shift
  if "$@" 2> "$WORK/err"; then echo "FAIL: succeeded: $*"; exit 1; fi
  if ! grep -qF -- "$want" "$WORK/err"; then
    echo "FAIL: expected '$want' in: $(cat "$WORK/err")"; exit 1
  fi
  echo "ok: $(head -1 "$WORK/err")"
}

mkdir -p "$WORK/nolabels"; cp "$MODEL/test_data_set_0/input_0.pb" "$WORK/nolabels/"
expect_error "nolabels/labels.pb: missing" \
  "$TSR" run "$WORK/t.tsr" --data "$WORK/nolabels" --steps 1

mkdir -p "$WORK/f32"; cp "$MODEL/test_data_set_0/input_0.pb" "$WORK/f32/"
"$TOOL" tensor "$WORK/f32/labels.pb" labels f32 2x16 mod:7
expect_error "f32/labels.pb: input 'labels': got f32 2x16, plan expects i64 2x16" \
  "$TSR" run "$WORK/t.tsr" --data "$WORK/f32" --steps 1

sequence_batch "$WORK/data" 7
expect_error "this plan is for inference" \
  "$TSR" run "$WORK/infer.tsr" --data "$WORK/data" --steps 1
expect_error "has no gradient outputs" \
  "$TSR" run "$WORK/t.tsr" --data "$WORK/data" --steps 1 --dump-gradients "$WORK/g"
expect_error "--steps needs --data" "$TSR" run "$WORK/t.tsr" --steps 3

expect_error "--precision 'fp8': expected fp32, bf16 or fp16" \
  "$TSRC" compile "$MODEL/model.onnx" --mode train --precision fp8 -q -o "$WORK/p.tsr"
