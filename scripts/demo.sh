#!/usr/bin/env bash
# The main job on a bundled default: compile the tiny GPT-2 for a 2x2 mesh (dp=2,tp=2), run it
# on 4 CPU ranks under mpirun, and check the logits against PyTorch's reference output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MODEL=${MODEL:-../shared/models/tiny/gpt2}
MESH=${MESH:-dp=2,tp=2}
NP=${NP:-4}
OUT=${OUT:-out/demo}
mkdir -p "$OUT"
build/bin/tessera compile "$MODEL/model.onnx" --mesh "$MESH" -o "$OUT/model.tsr"
mpirun --oversubscribe --allow-run-as-root -np "$NP" \
  build/bin/tessera run "$OUT/model.tsr" --inputs "$MODEL/test_data_set_0" --output-dir "$OUT"
build/bin/tessera compare "$OUT/output_0.pb" "$MODEL/test_data_set_0/output_0.pb" --tolerance 1e-4
