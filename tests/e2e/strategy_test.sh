#!/usr/bin/env bash
# Forced strategies (--strategy) so that every collective kind runs, whatever the solver would
# pick: compile, check the plan holds the expected collectives, run on N ranks, compare with
# the reference (1e-4) and with the single-rank run (1e-5).
# usage: strategy_test.sh BIN_DIR MODEL_DIR MESH NP STRATEGY_FILE COLLECTIVE...
set -euo pipefail
BIN=$1; MODEL=$2; MESH=$3; NP=$4; STRAT=$5; shift 5
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
"$BIN/tessera" compile "$MODEL/model.onnx" -o "$WORK/m.tsr" --mesh "$MESH" --strategy "$STRAT" -q
"$BIN/tessera" inspect "$WORK/m.tsr" > "$WORK/inspect.txt"
for c in "$@"; do
  grep -qE "^  $c +[1-9]" "$WORK/inspect.txt" || { echo "plan has no $c:"; cat "$WORK/inspect.txt"; exit 1; }
done
mpirun --oversubscribe --allow-run-as-root -np "$NP" \
  "$BIN/tessera" run "$WORK/m.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$WORK/out"
"$BIN/tessera" compare "$WORK/out/output_0.pb" "$MODEL/test_data_set_0/output_0.pb" --tolerance 1e-4
"$BIN/tessera" compile "$MODEL/model.onnx" -o "$WORK/single.tsr" -q
"$BIN/tessera" run "$WORK/single.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$WORK/single"
"$BIN/tessera" compare "$WORK/out/output_0.pb" "$WORK/single/output_0.pb" --tolerance 1e-5
