#!/usr/bin/env bash
# Training-mode Dropout and BatchNormalization on a generated model (conv_bn_dropout_model.sh):
# - six steps on dp=2,tp=2 (4 ranks) equal six single-rank steps to 1e-5 (the Philox mask
#   follows global element indices; batch statistics are all-reduced over the sharded batch);
# - stop after three and resume: bit-identical to the uninterrupted run (dropout.step and the
#   running statistics are states saved with --save-weights);
# - the running statistics moved; --seed changes the masks (hence the first loss);
#   --export-onnx writes a model that compiles (dropout.step is no initializer); --mode infer
#   keeps no Dropout.
# usage: dropout_bn_test.sh BIN_DIR TRAIN_TOOL -
source "$(dirname "$0")/common.sh"
MODEL=$WORK/model
mkdir -p "$MODEL"
bash "$(dirname "$0")/conv_bn_dropout_model.sh" "$MODEL/model.onnx"
mkdir -p "$WORK/data/0" "$WORK/data/1"
"$TOOL" tensor "$WORK/data/0/input_0.pb" x f32 8x4x6x6 mod:7
"$TOOL" tensor "$WORK/data/0/labels.pb" labels i64 8 mod:10
"$TOOL" tensor "$WORK/data/1/input_0.pb" x f32 8x4x6x6 mod:5
"$TOOL" tensor "$WORK/data/1/labels.pb" labels i64 8 next:10
FLAGS=(--optimizer sgd --lr 0.1 --momentum 0.9)
compile_train "$WORK/single.tsr" - "${FLAGS[@]}"
compile_train "$WORK/sharded.tsr" dp=2,tp=2 "${FLAGS[@]}"
compile_train "$WORK/seed1.tsr" - "${FLAGS[@]}" --seed 1
"$TSR" run "$WORK/single.tsr" --data "$WORK/data" --steps 6 --save-weights "$WORK/single" \
  --export-onnx "$WORK/trained.onnx" > "$WORK/single.log"
# The export holds the trained running statistics and compiles again.
"$TSRC" compile "$WORK/trained.onnx" -q -o "$WORK/trained.tsr"
run_np 4 "$TSR" run "$WORK/sharded.tsr" --data "$WORK/data" --steps 6 \
  --save-weights "$WORK/sharded" > "$WORK/sharded.log"
paste "$WORK/single.log" "$WORK/sharded.log"
"$TOOL" same "$WORK/sharded" "$WORK/single" 1e-5 1e-5

T=(run_np 4 "$TSR" run "$WORK/sharded.tsr" --data "$WORK/data")
"${T[@]}" --steps 3 --save-weights "$WORK/half" > "$WORK/a.log"
"${T[@]}" --steps 3 --load-weights "$WORK/half" --save-weights "$WORK/resumed" > "$WORK/b.log"
cat "$WORK/a.log" "$WORK/b.log" | diff "$WORK/sharded.log" -
"$TOOL" identical "$WORK/sharded" "$WORK/resumed"

# The running statistics are trained states: they must have moved from the model's.
"$TSR" run "$WORK/single.tsr" --steps 0 --save-weights "$WORK/init" > /dev/null
mkdir -p "$WORK/rm0" "$WORK/rm6"
cp "$WORK/init/bn.running_var.pb" "$WORK/rm0/"
cp "$WORK/single/bn.running_var.pb" "$WORK/rm6/"
if "$TOOL" same "$WORK/rm6" "$WORK/rm0" 1e-3 1e-3; then
  echo "FAIL: bn.running_var did not change in training"; exit 1
fi
"$TSR" run "$WORK/seed1.tsr" --data "$WORK/data" --steps 1 > "$WORK/seed1.log"
a=$(losses "$WORK/single.log" | head -1); b=$(losses "$WORK/seed1.log")
echo "first loss: seed 0 $a, seed 1 $b"
[ "$a" != "$b" ] || { echo "FAIL: --seed does not change the dropout mask"; exit 1; }
"$TSRC" compile "$MODEL/model.onnx" -q -o "$WORK/infer.tsr" --dump-dir "$WORK/idump"
if grep -q "tessera.Dropout" "$WORK/idump/00-import.mlir"; then
  echo "FAIL: --mode infer kept a Dropout"; exit 1
fi
