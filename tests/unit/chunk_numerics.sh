#!/usr/bin/env bash
# Chunked equals unchunked on a shared tiny model: inference and training (--gradients-only,
# labels[i] = i % C), on NP ranks (1: one device; 4: dp=2,tp=2), every output within 1e-6
# relative; and the measured peak (--report-memory) of the chunked plan is not above the whole
# one (on these tiny models the peak often sits at the logits, which no chunking removes); and
# `inspect` lists the fused attention chunked in 4 (gpt2, bert).
# usage: chunk_numerics.sh BIN_DIR TRAIN_TOOL MODEL_DIR NP
set -euo pipefail
BIN=$1; TOOL=$2; MODEL=$3; NP=$4
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
MESH=(); [ "$NP" -gt 1 ] && MESH=(--mesh dp=2,tp=2)
run() {
  if [ "$NP" -gt 1 ]; then mpirun --oversubscribe --allow-run-as-root -np "$NP" "$@"; else "$@"; fi
}
peak() { awk '$1 == "rank" && $3 == "peak_bytes" { if ($4 > m) m = $4 } END { print m + 0 }' "$1"; }
mkdir -p "$WORK/data"
cp "$MODEL/test_data_set_0/input_0.pb" "$WORK/data/input_0.pb"
"$TOOL" labels "$WORK/data/input_1.pb" "$MODEL/test_data_set_0/output_0.pb"
for mode in infer train; do
  FLAGS=(--mode "$mode"); [ "$mode" = train ] && FLAGS+=(--gradients-only)
  "$BIN/tessera" compile "$MODEL/model.onnx" "${MESH[@]}" "${FLAGS[@]}" --chunk none -q \
    -o "$WORK/$mode-whole.tsr"
  "$BIN/tessera" compile "$MODEL/model.onnx" "${MESH[@]}" "${FLAGS[@]}" --chunk-count 4 -q \
    --dump-dir "$WORK/dump-$mode" -o "$WORK/$mode-chunk.tsr"
  # One-rank inference must chunk something; elsewhere a forced count may find nothing that
  # lowers the arena (resnet on dp=2,tp=2), and then the plans are simply the same.
  if ! grep -q "tessera.Concat" "$WORK"/dump-$mode/*chunk.mlir; then
    echo "no region chunked ($mode)"; [ "$mode" = train ] || [ "$NP" -gt 1 ] || exit 1
  fi
  # inspect names every chunked region with its dim, count and the peak before -> after; fused
  # attention (transformers) is chunked inside the op and must be listed as such.
  "$BIN/tessera" inspect "$WORK/$mode-chunk.tsr" > "$WORK/$mode-inspect.txt"
  if grep -q "attention.fused:" "$WORK/$mode-inspect.txt"; then
    grep -qE "fused attention '[^']+' query rows \(dim [0-9]+\) in 4 chunks, peak [0-9]+ -> [0-9]+ bytes" \
      "$WORK/$mode-inspect.txt" || { echo "inspect lists no chunked attention ($mode)"; exit 1; }
  fi
  IN="$WORK/data"; [ "$mode" = infer ] && IN="$MODEL/test_data_set_0"
  run "$BIN/tessera" run "$WORK/$mode-whole.tsr" --inputs "$IN" --output-dir "$WORK/$mode-whole" \
    --report-memory > "$WORK/$mode-whole.log"
  run "$BIN/tessera" run "$WORK/$mode-chunk.tsr" --inputs "$IN" --output-dir "$WORK/$mode-chunk" \
    --report-memory > "$WORK/$mode-chunk.log"
  n=0
  for f in "$WORK/$mode-whole"/*.pb; do
    # 1e-6 relative; a tensor that is zero up to rounding (|ref| ~1e-11, e.g. a gradient that
    # cancels) is compared absolutely instead: chunking reorders its sums.
    if ! out=$("$BIN/tessera" compare "$WORK/$mode-chunk/$(basename "$f")" "$f" --tolerance 1e-6); then
      echo "$out"
      awk '{ for (i = 1; i < NF; i++) if ($i == "max|diff|") d = $(i + 1) + 0 }
           END { exit !(d <= 1e-9) }' <<< "$out" || exit 1
      echo "  (accepted: absolute difference at rounding level)"
    fi
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { echo "no outputs ($mode)"; exit 1; }
  whole=$(peak "$WORK/$mode-whole.log"); chunk=$(peak "$WORK/$mode-chunk.log")
  echo "$mode: peak_bytes whole $whole chunked $chunk"
  [ "$chunk" -le "$whole" ] || { echo "peak rose ($mode)"; exit 1; }
done
