#!/usr/bin/env bash
# Issue-6 benchmark: gpt2-124m activation arena and modelled step with and without chunking,
# each case against the plain plan (--chunk none: no region chunked, attention unfused) in the
# same run. Graph only (compile, no device), h100-nvlink profile, one device. Prints a markdown
# table: arena (the per-rank activations the emitter plans), modelled step, and both as ratios of
# the baseline row of the same mode.
#   benchmarks/chunk_bench.sh [BUILD_DIR] [MODELS_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
models=${2:-$root/../shared/models/full}
tessera=$build/bin/tessera
M=$models/gpt2-124m/model.onnx
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# "arena_bytes modelled_ms" of one compile.
measure() {
  local log
  log=$("$tessera" compile "$M" --cluster h100-nvlink "$@" -o "$out/p.tsr" 2>&1) ||
    { echo "failed: $(echo "$log" | tail -1)" >&2; return 1; }
  "$tessera" inspect "$out/p.tsr" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["memory"]["arena_bytes"], d["step"]["modelled_seconds"] * 1000)'
}
printf '| case | flags | arena GiB | vs base | modelled ms | vs base |\n|---|---|---|---|---|---|\n'
row() {  # name base_arena base_ms flags...
  local name=$1 ba=$2 bm=$3; shift 3
  local r
  if ! r=$(measure "$@"); then echo "| $name | \`$*\` | does not compile | | | |"; return; fi
  read -r a m <<<"$r"
  awk -v n="$name" -v f="$*" -v a="$a" -v m="$m" -v ba="$ba" -v bm="$bm" 'BEGIN {
    printf "| %s | `%s` | %.2f | %+.1f%% | %.1f | %+.1f%% |\n", n, f, a / 2^30,
      100 * (a / ba - 1), m, 100 * (m / bm - 1) }'
}
INF=(--shape batch=1,seq=16384)
read -r ba bm <<<"$(measure "${INF[@]}" --chunk none)"
row "infer base" "$ba" "$bm" "${INF[@]}" --chunk none
row "infer chunked" "$ba" "$bm" "${INF[@]}" --chunk-budget 6GiB
row "infer chunked, attention unfused" "$ba" "$bm" "${INF[@]}" --chunk-budget 6GiB --attention unfused
TR=(--shape batch=8,seq=4096 --mode train)
read -r ba bm <<<"$(measure "${TR[@]}" --memory-budget 1000GiB --checkpoint none --chunk none)"
row "train base" "$ba" "$bm" "${TR[@]}" --memory-budget 1000GiB --checkpoint none --chunk none
row "train chunked" "$ba" "$bm" "${TR[@]}" --memory-budget 1000GiB --checkpoint none
row "train chunked, budget 20GiB" "$ba" "$bm" "${TR[@]}" --memory-budget 20GiB --checkpoint auto
row "train checkpoint only, 26GiB" "$ba" "$bm" "${TR[@]}" --memory-budget 26GiB --checkpoint auto --chunk none
row "train every-layer" "$ba" "$bm" "${TR[@]}" --memory-budget 1000GiB --checkpoint every-layer --chunk none
row "train every-layer, chunked" "$ba" "$bm" "${TR[@]}" --memory-budget 1000GiB --checkpoint every-layer
