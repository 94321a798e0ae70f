#!/usr/bin/env bash
# Writes a small ONNX model with a training-mode Dropout and a BatchNormalization whose batch
# statistics are well conditioned (8 images of 6x6: 288 values per channel), as protobuf text
# encoded by protoc: Conv -> BatchNormalization (momentum 0.8) -> Relu -> Dropout(0.25, mask
# output) -> GlobalAveragePool -> Flatten -> Gemm. Input x [8,4,6,6], logits [8,10].
# usage: conv_bn_dropout_model.sh OUT.onnx
set -euo pipefail
PROTO=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
# floats N SEED: N pseudo-random values in [-0.5, 0.5) as float_data lines (awk LCG).
floats() { awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) { s = (s * 1103515245 + 12345) % 2147483648; printf "float_data: %.6f\n", s / 2147483648 - 0.5 } }'; }
text() {
cat <<TXT
ir_version: 8
opset_import { domain: "" version: 17 }
graph {
  name: "conv_bn_dropout"
  node { input: "x" input: "w1" output: "c" name: "conv" op_type: "Conv"
         attribute { name: "pads" ints: 1 ints: 1 ints: 1 ints: 1 type: INTS } }
  node { input: "c" input: "bn.weight" input: "bn.bias" input: "bn.running_mean" input: "bn.running_var"
         output: "n" name: "bn" op_type: "BatchNormalization"
         attribute { name: "momentum" f: 0.8 type: FLOAT } }
  node { input: "n" output: "r" name: "relu" op_type: "Relu" }
  node { input: "r" input: "ratio" output: "d" output: "mask" name: "drop" op_type: "Dropout" }
  node { input: "d" output: "p" name: "gap" op_type: "GlobalAveragePool" }
  node { input: "p" output: "f" name: "flat" op_type: "Flatten" }
  node { input: "f" input: "w2" input: "b2" output: "logits" name: "fc" op_type: "Gemm"
         attribute { name: "transB" i: 1 type: INT } }
  initializer { name: "w1" data_type: 1 dims: 8 dims: 4 dims: 3 dims: 3
$(floats 288 11) }
  initializer { name: "bn.weight" data_type: 1 dims: 8
$(floats 8 12 | awk '{ printf "float_data: %.6f\n", $2 + 1 }') }
  initializer { name: "bn.bias" data_type: 1 dims: 8
$(floats 8 13) }
  initializer { name: "bn.running_mean" data_type: 1 dims: 8
$(floats 8 14) }
  initializer { name: "bn.running_var" data_type: 1 dims: 8
$(floats 8 15 | awk '{ printf "float_data: %.6f\n", $2 + 1 }') }
  initializer { name: "ratio" data_type: 1 float_data: 0.25 }
  initializer { name: "w2" data_type: 1 dims: 10 dims: 8
$(floats 80 16) }
  initializer { name: "b2" data_type: 1 dims: 10
$(floats 10 17) }
  input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_value: 8 } dim { dim_value: 4 } dim { dim_value: 6 } dim { dim_value: 6 } } } } }
  output { name: "logits" type { tensor_type { elem_type: 1 shape { dim { dim_value: 8 } dim { dim_value: 10 } } } } }
}
TXT
}
text | protoc --encode=onnx.ModelProto -I"$(dirname "$PROTO")" "$PROTO" > "$1"
