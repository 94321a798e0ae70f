#!/usr/bin/env bash
# Activation checkpointing (issue 5): modelled step time against the per-device memory budget
# for gpt2-xl training (batch 8, seq 1024, mesh dp=2,tp=4, h100-nvlink), from "everything kept"
# down to auto's minimum feasible budget, with every-layer and sqrt-n at the budgets they reach.
# Every number comes from `tessera inspect --json` of the compiled plan (step.modelled_seconds,
# step.recompute_seconds, memory.peak_per_device_bytes = weights + arena), or for the minimum
# from auto's error message ("the smallest budget that fits is ... (N bytes)"). Chunking is off
# so the curve is checkpointing alone.
#   benchmarks/checkpoint_curve.sh [BUILD_DIR] [MODELS_DIR] [POINTS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
models=${2:-$root/../shared/models/full}
points=${3:-8}
tessera=$build/bin/tessera
model=$models/gpt2-xl-1.5b/model.onnx
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--mode train --shape batch=8,seq=1024 --mesh dp=2,tp=4 --cluster h100-nvlink --chunk none -q)

# compile MODE BUDGET(0 = none given) -> "step_s recompute_s peak_bytes activations_bytes", or
# "fail MESSAGE". Also prints the plan's weight bytes.
compile() {
  local plan=$out/$1.$2.tsr args=(--checkpoint "$1")
  [ "$2" != 0 ] && args+=(--memory-budget "$2")
  if ! "$tessera" compile "$model" "${common[@]}" "${args[@]}" -o "$plan" 2> "$out/err"; then
    echo "fail $(tail -1 "$out/err")"
    return
  fi
  "$tessera" inspect "$plan" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
s, m = j["step"], j["memory"]
print(s["modelled_seconds"], s["recompute_seconds"], m["peak_per_device_bytes"], m["activations"],
      m["weight_bytes"])'
  rm -f "$plan"
}

gib() { awk -v b="$1" 'BEGIN{printf "%.2f", b / 2^30}'; }

read -r t0 _ p0 a0 w0 <<<"$(compile none 0)"
read -r tel rel pel _ <<<"$(compile every-layer 0)"
read -r tsq rsq psq _ <<<"$(compile sqrt-n 0)"
# auto's minimum: the budget its error names. spmd-search also reads the budget (its rows hold
# parameters, gradients and optimizer state), so the sharding, and with it the minimum, depends
# on the budget given: 1 GiB below every-layer's peak keeps the unconstrained sharding (the
# curve's), 1 GiB above the weights forces spmd-search to shard further.
least() {
  echo "$1" | sed -n 's/.*smallest budget that fits is .*(\([0-9]*\) bytes).*/\1/p'
}
# auto's minimum for the curve's sharding (the one spmd-search picks without a budget, whose
# weight bytes are w0). spmd-search also reads the budget, so a small enough budget changes the
# sharding: descend from 1 GiB below every-layer's peak (while auto fits with w0's sharding, go
# 1 GiB below the peak it planned); when auto fails, the budget its error names is the minimum
# if auto fits there; when the sharding changes (weights beyond 1% of w0), bisect (5 steps) between the last budget with
# w0's sharding and the first without: the minimum is the smallest budget seen to keep it.
pmin="" lowest=""
ok=0 pok=0 bad=""  # smallest budget that fit with w0's sharding (its peak in pok); first that did not
b=$((pel - (1 << 30)))
for _ in $(seq 1 20); do
  r=$(compile auto "$b")
  if [ "${r%% *}" != fail ]; then
    read -r _ _ p _ w <<<"$r"
    # Within 1% of w0's weight bytes: the same sharding of the parameters (a budget may move a
    # few small tensors; splitting the parameters changes the weights by gigabytes).
    if [ $((w > w0 ? w - w0 : w0 - w)) -le $((w0 / 100)) ]; then
      echo "minimum search: auto fits $(gib "$b") GiB (peak $(gib "$p") GiB)" >&2
      ok=$b pok=$p
      [ -z "$bad" ] && b=$((p - (1 << 30))) || b=$(((ok + bad) / 2))
    else
      echo "minimum search: at $(gib "$b") GiB spmd-search shards differently (weights $(gib "$w") GiB, peak $(gib "$p") GiB)" >&2
      [ -z "$lowest" ] && lowest="$b $p $w"
      bad=$b
      b=$(((ok + bad) / 2))
    fi
    [ -n "$bad" ] && [ $((ok - bad)) -lt $((1 << 26)) ] && { pmin=$ok; break; }
    continue
  fi
  m=$(least "$r")
  if [ -z "$m" ]; then
    echo "minimum search: $(gib "$b") GiB: ${r#fail }" >&2
    bad=$b; b=$(((ok + bad) / 2)); continue
  fi
  echo "minimum search: $(gib "$b") GiB fails, named $(gib "$m") GiB" >&2
  r=$(compile auto "$m")
  if [ "${r%% *}" != fail ]; then pmin=$m; break; fi
  echo "minimum search: the named $(gib "$m") GiB fails too: ${r#fail }" >&2
  b=$((m + (1 << 28)))
done
[ -n "$pmin" ] || [ "$ok" = 0 ] || pmin=$ok
[ -n "$pmin" ] || { echo "no minimum budget found" >&2; exit 1; }
plow=""
# Half the no-checkpoint activation memory: `inspect`'s activations at the peak of the plan
# that keeps everything (the saved activations at the end of the forward pass).
phalf=$((p0 - a0 / 2))

echo "no checkpointing: step $(awk -v t="$t0" 'BEGIN{printf "%.2f", t*1e3}') ms, peak $(gib "$p0") GiB, activations $(gib "$a0") GiB"
echo
printf '| budget GiB | auto step ms | auto added | auto peak GiB | note |\n'
printf '|---|---|---|---|---|\n'
budgets=$( (awk -v hi="$p0" -v lo="$pmin" -v n="$points" \
             'BEGIN{for (i = 0; i < n; ++i) printf "%.0f\n", hi - (hi - lo) * i / (n - 1)}'
           echo "$phalf"; echo "$pel"; echo "$psq"; [ -z "$plow" ] || echo "$plow") | sort -rn | uniq)
declare -A auto_added
for b in $budgets; do
  note=""
  [ "$b" = "$p0" ] && note="everything kept"
  [ "$b" = "$pmin" ] && note="auto's minimum"
  [ "$b" = "$phalf" ] && note="half the activations"
  [ "$b" = "$pel" ] && note="every-layer's peak"
  [ "$b" = "$psq" ] && note="sqrt-n's peak"
  [ "$b" = "${plow:-}" ] && note="minimum named for a budget of weights + 1 GiB"
  r=$(compile auto "$b")
  if [ "${r%% *}" = fail ]; then
    printf '| %s | infeasible | | | %s: %s |\n' "$(gib "$b")" "$note" "${r#fail }"
    continue
  fi
  read -r t rt p _ w <<<"$r"
  auto_added[$b]="$t $rt"
  [ $((w > w0 ? w - w0 : w0 - w)) -le $((w0 / 100)) ] ||
    note="$note (another sharding: weights $(gib "$w") GiB)"
  printf '| %s | %.2f | %+.1f%% | %s | %s |\n' "$(gib "$b")" "$(awk -v t="$t" 'BEGIN{print t*1e3}')" \
    "$(awk -v t="$t" -v z="$t0" 'BEGIN{print (t/z - 1) * 100}')" "$(gib "$p")" "$note"
done
echo
printf '| schedule | peak GiB | step ms | added | auto at that budget: added |\n'
printf '|---|---|---|---|---|\n'
for row in "every-layer $tel $rel $pel" "sqrt-n $tsq $rsq $psq"; do
  read -r name t rt p <<<"$row"
  read -r a ar <<<"${auto_added[$p]:-}"
  printf '| %s | %s | %.2f | %+.1f%% | %s |\n' "$name" "$(gib "$p")" \
    "$(awk -v t="$t" 'BEGIN{print t*1e3}')" "$(awk -v t="$t" -v z="$t0" 'BEGIN{print (t/z-1)*100}')" \
    "$([ -n "$a" ] && awk -v a="$a" -v ar="$ar" -v z="$t0" -v r="$rt" \
        'BEGIN{printf "%+.1f%% (%.2fx of its recompute)", (a/z-1)*100, (r > 0 ? ar/r : 0)}' || echo infeasible)"
done
echo
if [ -n "$lowest" ]; then
  read -r lb lp lw <<<"$lowest"
  echo "sharding changes: at a budget of $(gib "$lb") GiB spmd-search picks another sharding (weights $(gib "$lw") GiB, auto's peak $(gib "$lp") GiB)"
fi
if [ -n "$plow" ]; then
  echo "auto's minimum named for a budget of weights + 1 GiB (another sharding): $(gib "$plow") GiB"
fi
echo "minimum feasible budget: auto $(gib "$pmin") GiB, sqrt-n $(gib "$psq") GiB, every-layer $(gib "$pel") GiB"
echo "half the activations: budget $(gib "$phalf") GiB (goal: added <= 10%)"
