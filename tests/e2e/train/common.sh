# Shared by the training tests: argument layout, temp dir, an mpirun wrapper, data helpers.
# Every script is called as: SCRIPT BIN_DIR TRAIN_TOOL MODEL_DIR [more...]
set -euo pipefail
BIN=$1; TOOL=$2; MODEL=$3; shift 3
TSR=$BIN/tessera
# The tessera that compiles plans (default: the same one); plans are files, any will do.
TSRC=${TSR_COMPILER:-$TSR}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# run_np NP CMD...: the command on NP ranks (mpirun) or directly for one.
run_np() {
  local np=$1; shift
  if [ "$np" -gt 1 ]; then
    mpirun --oversubscribe --allow-run-as-root -np "$np" "$@"
  else
    "$@"
  fi
}

# compile_train OUT MESH FLAGS...: a training plan; MESH "-" is one device.
compile_train() {
  local out=$1 mesh=$2; shift 2
  local mesh_flag=(); [ "$mesh" != "-" ] && mesh_flag=(--mesh "$mesh")
  "$TSRC" compile "$MODEL/${TSR_MODEL_FILE:-model.onnx}" --mode train "${mesh_flag[@]}" -q -o "$out" "$@"
}

# reference_batch DIR: the model's test input with labels[i] = i % C (train_reference's labels).
reference_batch() {
  mkdir -p "$1"
  cp "$MODEL/test_data_set_0/input_0.pb" "$1/input_0.pb"
  "$TOOL" labels "$1/labels.pb" "$MODEL/test_data_set_0/output_0.pb"
}

# sequence_batch DIR P: input_ids a repeated pattern i % P over [2,16], labels the next token.
sequence_batch() {
  mkdir -p "$1"
  "$TOOL" tensor "$1/input_0.pb" input_ids i64 2x16 "mod:$2"
  "$TOOL" tensor "$1/labels.pb" labels i64 2x16 "next:$2"
}

# losses LOG: the loss column of `step K loss L` lines.
losses() { awk '$1 == "step" && $3 == "loss" { print $4 }' "$1"; }
