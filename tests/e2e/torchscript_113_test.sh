#!/usr/bin/env bash
# TorchScript archives written by PyTorch 1.13 (tests/data/torchscript-1.13, made by
# make_fixtures.py with Debian's python3-torch): 1.13 stores no example-input shapes, so
# `compile --inputs DIR` supplies them. Each archive compiles and runs to PyTorch's output
# (1e-4) on 1 rank and on a dp=2,tp=2 mesh of 4 ranks; without --inputs the error names the
# missing shapes and the flag.
# usage: torchscript_113_test.sh BIN_DIR FIXTURE_DIR
set -euo pipefail
BIN=$1; FIX=$2
T=$BIN/tessera
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
for m in block convnet; do
  "$T" compile "$FIX/$m.pt" --inputs "$FIX/$m" -q -o "$WORK/$m.tsr"
  "$T" run "$WORK/$m.tsr" --inputs "$FIX/$m" --output-dir "$WORK/o1_$m"
  "$T" compare "$WORK/o1_$m/output_0.pb" "$FIX/$m/output_0.pb" --tolerance 1e-4
  "$T" compile "$FIX/$m.pt" --inputs "$FIX/$m" --mesh dp=2,tp=2 -q -o "$WORK/$m.4.tsr"
  mpirun --oversubscribe --allow-run-as-root -np 4 \
    "$T" run "$WORK/$m.4.tsr" --inputs "$FIX/$m" --output-dir "$WORK/o4_$m"
  "$T" compare "$WORK/o4_$m/output_0.pb" "$FIX/$m/output_0.pb" --tolerance 1e-4
done
if "$T" compile "$FIX/block.pt" -q -o "$WORK/x.tsr" 2>"$WORK/err"; then
  echo "FAIL: compiled without input shapes"; exit 1
fi
grep -q "no shape for forward input 'ids'.*--inputs" "$WORK/err" || { cat "$WORK/err"; exit 1; }
echo PASS
