#!/usr/bin/env bash
# One --gradients-only step of a shared tiny model on a mesh: the loss and every gradient in
# train_reference/grads.json match PyTorch to 1e-4 relative (max|diff| / max|ref|, with max|ref|
# floored at 1e-5: bert's key-bias gradients are pure rounding noise around zero).
# usage: grads_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR MESH NP
source "$(dirname "$0")/common.sh"
MESH=$1; NP=$2
compile_train "$WORK/g.tsr" "$MESH" --gradients-only --batchnorm eval
reference_batch "$WORK/data"
run_np "$NP" "$TSR" run "$WORK/g.tsr" --data "$WORK/data" --steps 1 --dump-gradients "$WORK/grads"
"$TOOL" grads "$WORK/grads" "$MODEL/train_reference" 1e-4 1e-5 "${TSR_GRAD_MATCH:-name}"
