#!/usr/bin/env bash
# Graph-only resnet50 (torch.onnx tied its equal initializers: `bn1.running_mean =
# Identity(bn1.bias)`, one running variance read by several layers) compiles to training plans
# whose every train.updates state is a weight of its own. The plan writer checks the pairs
# (runtime/src/plan_validate.cpp), as a session would on load; before the fix the compile
# failed there with "no weight tensor named 'bn1.running_mean'".
# usage: graph_only_bn_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR (the full resnet50)
source "$(dirname "$0")/common.sh"
compile_train "$WORK/bf16.tsr" - --shape batch=2 --precision bf16 --optimizer sgd \
  --momentum 0.9 --lr 0.1
compile_train "$WORK/dp2.tsr" dp=2 --shape batch=4 --optimizer sgd --momentum 0.9 --lr 0.1
"$TSR" inspect "$WORK/bf16.tsr" > "$WORK/bf16.txt"
grep -q "no data: graph-only plan" "$WORK/bf16.txt"
echo PASS
