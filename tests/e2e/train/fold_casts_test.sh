#!/usr/bin/env bash
# The fold-casts stage (passes/fold_casts.cpp) changes no bit of a 16-bit training step on the
# CPU backend: the same model compiled with --fold-casts on and off gives byte-identical loss and
# gradients (--gradients-only, one step) and byte-identical weights and optimizer state after
# two AdamW steps; and the folded plan has fewer Casts (inspect lists fold_casts.removed).
# usage: fold_casts_test.sh BIN_DIR TRAIN_TOOL MODEL_DIR PRECISION
source "$(dirname "$0")/common.sh"
P=$1

casts() { "$TSR" inspect "$1" | awk '$1 == "Cast" && NF == 2 { print $2 }'; }

reference_batch "$WORK/data"
for f in on off; do
  compile_train "$WORK/g$f.tsr" - --gradients-only --batchnorm eval --precision "$P" \
    --fold-casts "$f"
  "$TSR" run "$WORK/g$f.tsr" --data "$WORK/data" --steps 1 --dump-gradients "$WORK/grads$f" \
    > "$WORK/glog$f"
  compile_train "$WORK/a$f.tsr" - --optimizer adamw --lr 1e-3 --precision "$P" --fold-casts "$f"
  "$TSR" run "$WORK/a$f.tsr" --data "$WORK/data" --steps 2 --save-weights "$WORK/w$f" \
    > "$WORK/alog$f"
done
"$TOOL" identical "$WORK/gradson" "$WORK/gradsoff"
"$TOOL" identical "$WORK/won" "$WORK/woff"
cmp <(losses "$WORK/alogon") <(losses "$WORK/alogoff") ||
  { echo "FAIL: losses differ with and without folding"; exit 1; }

on=$(casts "$WORK/aon.tsr"); off=$(casts "$WORK/aoff.tsr")
removed=$("$TSR" inspect "$WORK/aon.tsr" | awk '$1 == "fold_casts.removed:" { print $2 }')
echo "$P: Casts $off -> $on (fold_casts.removed $removed)"
[ -n "$removed" ] && [ "$on" -lt "$off" ] && [ $((off - on)) -eq "$removed" ] ||
  { echo "FAIL: folding removed no Cast, or inspect disagrees with the count"; exit 1; }
if "$TSR" inspect "$WORK/aoff.tsr" | grep -q fold_casts.removed; then
  echo "FAIL: --fold-casts off still folded"
  exit 1
fi
