#!/usr/bin/env bash
# Whole-compile time (`tessera compile`, wall seconds) for the issue-3/4 search-time goals:
# infer < 5 s, train < 10 s on the 2-core build machine. Graph-only models, h100-nvlink,
# mesh dp=2,tp=4; train mode uses the 80 GB profile capacity. Prints wall seconds, CPU seconds
# (user + sys: what the compile costs when the shared machine is busy) and spmd-search's wall.
#   benchmarks/search_time.sh [BUILD_DIR] [MODELS_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
models=${2:-$root/../shared/models/full}
tessera=$build/bin/tessera
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '| model | shape | mode | goal s | compile wall s | compile CPU s | spmd-search wall s |\n'
printf '|---|---|---|---|---|---|---|\n'
while read -r name shape; do
  for mode in infer train; do
    goal=5; [ "$mode" = train ] && goal=10
    args=(compile "$models/$name/model.onnx" --mesh dp=2,tp=4 --cluster h100-nvlink --mode "$mode"
          --timings -o "$out/p.tsr")
    [ -n "$shape" ] && [ "$shape" != - ] && args+=(--shape "$shape")
    if log=$(/usr/bin/time -f 'TIME %e %U %S' "$tessera" "${args[@]}" 2>&1); then
      read -r wall user sys <<<"$(echo "$log" | awk '/^TIME/ {print $2, $3, $4}')"
      search=$(echo "$log" | awk '/^spmd-search/ {print $2}')
      printf '| %s | %s | %s | %s | %.2f | %.2f | %s |\n' "$name" "$shape" "$mode" "$goal" "$wall" \
        "$(echo "$user + $sys" | bc)" "$search"
    else
      printf '| %s | %s | %s | %s | failed: %s | | |\n' "$name" "$shape" "$mode" "$goal" \
        "$(echo "$log" | tail -1)"
    fi
  done
done <<'LIST'
gpt2-xl-1.5b batch=8,seq=1024
bert-large-340m batch=8,seq=512
resnet50 batch=128
LIST
