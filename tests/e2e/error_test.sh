#!/usr/bin/env bash
# Bad input gets a clear error naming the culprit and a non-zero exit, never a crash or hang.
# usage: error_test.sh BIN_DIR MODELS_DIR
set -uo pipefail
BIN=$1; MODELS=$2; HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fails=0
# expect_error NAME PATTERN CMD...: exit status 1..127 (not a signal), stderr matches PATTERN.
expect_error() {
  local name=$1 pattern=$2; shift 2
  timeout 60 "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
    echo "FAIL $name: exit status $rc"; cat "$WORK/err"; fails=$((fails + 1)); return
  fi
  if ! grep -qE "$pattern" "$WORK/err"; then
    echo "FAIL $name: stderr does not match '$pattern':"; cat "$WORK/err"; fails=$((fails + 1)); return
  fi
  echo "ok   $name: $(head -n1 "$WORK/err")"
}
for t in unknown_op bad_attribute shape_mismatch; do
  protoc --encode=onnx.ModelProto -I/usr/include onnx/onnx.proto < "$HERE/errors/$t.txt" > "$WORK/$t.onnx"
done
GPT2=$MODELS/tiny/gpt2
head -c 5000 "$GPT2/model.onnx" > "$WORK/truncated.onnx"
"$BIN/tessera" compile "$GPT2/model.onnx" -o "$WORK/good.tsr" -q
cp "$WORK/good.tsr" "$WORK/magic.tsr"; printf 'XXXX' | dd of="$WORK/magic.tsr" bs=1 seek=0 conv=notrunc 2>/dev/null
# Byte 9000 complemented (writing a fixed 0xff changes nothing where the byte already is 0xff).
cp "$WORK/good.tsr" "$WORK/flip.tsr"
flip=$(printf '%03o' $((255 - $(od -An -tu1 -j9000 -N1 "$WORK/good.tsr"))))
printf "\\$flip" | dd of="$WORK/flip.tsr" bs=1 seek=9000 conv=notrunc 2>/dev/null
head -c 3000 "$WORK/good.tsr" > "$WORK/trunc.tsr"
mkdir -p "$WORK/empty" "$WORK/wrongdtype"
cp "$MODELS/tiny/resnet/test_data_set_0/input_0.pb" "$WORK/wrongdtype/input_0.pb"

expect_error unknown-op "FrobnicateTensor.*weird_node" "$BIN/tessera" compile "$WORK/unknown_op.onnx" -o "$WORK/x.tsr"
expect_error bad-attribute "softmax_bad_axis" "$BIN/tessera" compile "$WORK/bad_attribute.onnx" -o "$WORK/x.tsr"
expect_error shape-mismatch "mm_mismatch" "$BIN/tessera" compile "$WORK/shape_mismatch.onnx" -o "$WORK/x.tsr"
expect_error truncated-model "truncated.onnx" "$BIN/tessera" compile "$WORK/truncated.onnx" -o "$WORK/x.tsr"
expect_error missing-model "no-such.onnx" "$BIN/tessera" compile "$WORK/no-such.onnx" -o "$WORK/x.tsr"
expect_error unbound-dim "batch|seq" "$BIN/tessera" compile "$MODELS/full/gpt2-124m/model.onnx" -o "$WORK/x.tsr"
expect_error bad-mesh "mesh" "$BIN/tessera" compile "$GPT2/model.onnx" --mesh dp=0 -o "$WORK/x.tsr"
expect_error bad-budget "memory-budget" "$BIN/tessera" compile "$GPT2/model.onnx" --memory-budget lots -o "$WORK/x.tsr"
expect_error wrong-magic "magic" "$BIN/tessera" run "$WORK/magic.tsr" --inputs "$GPT2/test_data_set_0" --output-dir "$WORK/o"
expect_error corrupted-plan "hash|corrupt" "$BIN/tessera" run "$WORK/flip.tsr" --inputs "$GPT2/test_data_set_0" --output-dir "$WORK/o"
expect_error truncated-plan "trunc" "$BIN/tessera" run "$WORK/trunc.tsr" --inputs "$GPT2/test_data_set_0" --output-dir "$WORK/o"
expect_error missing-input "input_0.pb" "$BIN/tessera" run "$WORK/good.tsr" --inputs "$WORK/empty" --output-dir "$WORK/o"
expect_error wrong-dtype "dtype|f32|i64" "$BIN/tessera" run "$WORK/good.tsr" --inputs "$WORK/wrongdtype" --output-dir "$WORK/o"
"$BIN/tessera" compile "$MODELS/full/gpt2-124m/model.onnx" --shape batch=1,seq=8 -o "$WORK/graphonly.tsr" -q
expect_error graph-only-run "no weight data" "$BIN/tessera" run "$WORK/graphonly.tsr" --inputs "$GPT2/test_data_set_0" --output-dir "$WORK/o"
exit $fails
