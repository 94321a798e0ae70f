#!/bin/bash
# Checkpointed training steps equal the plain one (1e-6 relative) on the tiny models, on 1 and 4
# ranks, and the planned peak (arena + weights) is within 5% of the measured one and never
# below it. auto runs at the smallest budget its error names (asked for 1 byte less than the
# no-checkpoint peak: spmd-search reads the budget too, and a much smaller one would change the
# sharding) and half way between that and the no-checkpoint peak; its planned peak must not
# exceed the budget.
# Run from the repo root: tests/unit/checkpoint_e2e.sh [build dir]
set -euo pipefail
B=${1:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for m in gpt2 bert resnet; do
  d=../shared/models/tiny/$m
  mkdir -p "$T/$m/in"
  cp "$d/test_data_set_0/input_0.pb" "$T/$m/in/input_0.pb"
  python3 tests/unit/checkpoint_labels.py "$d/test_data_set_0" "$T/$m/in/input_1.pb"
  for np in 1 4; do
    mesh=""; launch=""; least=""
    if [ $np = 4 ]; then mesh="--mesh dp=2,tp=2"; launch="mpirun --oversubscribe --allow-run-as-root -np 4"; fi
    for mode in none every-layer sqrt-n auto-min auto-mid; do
      budget=""
      if [ $mode = auto-min ]; then
        if $B/bin/tessera compile "$d/model.onnx" --mode train --gradients-only $mesh \
            --checkpoint auto --memory-budget $((none_peak - 1)) -o "$T/x.tsr" -q 2> "$T/err"; then
          least=$((none_peak - 1))  # recomputation fits below the no-checkpoint peak
        else
          least=$(sed -n 's/.*smallest budget that fits is .*(\([0-9]*\) bytes).*/\1/p' "$T/err")
        fi
        [ -n "$least" ] || { echo "$m np=$np: no smallest budget in: $(cat "$T/err")"; fail=1; continue; }
        budget=$least
      fi
      if [ $mode = auto-mid ]; then
        [ -n "$least" ] || continue
        budget=$(( (least + none_peak) / 2 ))
      fi
      plan=$T/$m/$mode.$np.tsr
      if ! $B/bin/tessera compile "$d/model.onnx" --mode train --gradients-only $mesh \
          --checkpoint ${mode%%-m??} ${budget:+--memory-budget $budget} -o "$plan" -q 2> "$T/err"; then
        echo "$m np=$np $mode: compile: $(cat "$T/err")"; fail=1; continue
      fi
      $launch $B/bin/tessera run "$plan" --inputs "$T/$m/in" --output-dir "$T/$m/out.$mode.$np" --report-memory -v \
        > "$T/mem" 2> "$T/sum"
      planned=$(sed -n 's/.*arena \([0-9]*\) bytes, weights \([0-9]*\).*/\1 \2/p' "$T/sum" | awk '{print $1+$2}')
      measured=$(awk '$1=="rank"{if($4>m)m=$4}END{print m}' "$T/mem")
      [ $mode = none ] && none_peak=$planned
      ok=$(awk -v p="$planned" -v q="$measured" 'BEGIN{print (p>=q && p<=1.05*q)?"ok":"BAD"}')
      [ -n "$budget" ] && [ "$planned" -gt "$budget" ] && ok="BAD (over the budget $budget)"
      [ "$ok" = ok ] || fail=1
      echo "$m np=$np $mode: budget ${budget:--} planned $planned measured $measured $ok"
      if [ $mode != none ]; then
        for f in "$T/$m/out.none.$np"/output_*.pb; do
          $B/bin/tessera compare "$f" "$T/$m/out.$mode.$np/$(basename "$f")" --tolerance 1e-6 \
            > /dev/null || { echo "  $(basename "$f") differs"; fail=1; }
        done
      fi
    done
  done
done
# With the optimizer (AdamW, updates in place): the planned peak against the measured one of a
# training step (`run --data --steps 1 --report-memory`), on 1 and 4 ranks.
m=gpt2
d=../shared/models/tiny/$m
mkdir -p "$T/data"
cp "$T/$m/in/input_0.pb" "$T/data/input_0.pb"
cp "$T/$m/in/input_1.pb" "$T/data/labels.pb"
for np in 1 4; do
  mesh=""; launch=""
  if [ $np = 4 ]; then mesh="--mesh dp=2,tp=2"; launch="mpirun --oversubscribe --allow-run-as-root -np 4"; fi
  for mode in none every-layer; do
    plan=$T/adamw.$mode.$np.tsr
    if ! $B/bin/tessera compile "$d/model.onnx" --mode train $mesh --checkpoint $mode -o "$plan" -q \
        2> "$T/err"; then
      echo "$m adamw np=$np $mode: compile: $(cat "$T/err")"; fail=1; continue
    fi
    planned=$($B/bin/tessera inspect "$plan" --json |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["memory"]["peak_per_device_bytes"])')
    $launch $B/bin/tessera run "$plan" --data "$T/data" --steps 1 --report-memory > "$T/mem" 2> "$T/sum" ||
      { echo "$m adamw np=$np $mode: run: $(cat "$T/sum")"; fail=1; continue; }
    measured=$(awk '$1=="rank"{if($4>m)m=$4}END{print m}' "$T/mem")
    ok=$(awk -v p="$planned" -v q="$measured" 'BEGIN{print (q>0 && p>=q && p<=1.05*q)?"ok":"BAD"}')
    [ "$ok" = ok ] || fail=1
    echo "$m adamw np=$np $mode: planned $planned measured $measured $ok"
  done
done
exit $fail
