// RUN: tessera-opt %s -tessera-autodiff -split-input-file | FileCheck %s

// Train mode: cross-entropy on the first output, the backward graph, one AdamW per weight.
// CHECK-LABEL: func.func @main
// CHECK-SAME: tessera.name = "labels"
// CHECK: tessera.SoftmaxCrossEntropyLoss
// CHECK: tessera.SoftmaxCrossEntropyGrad
// The weight gradient xᵀ·dy is a Gemm with the transpose in its flag.
// CHECK: tessera.Gemm {{.*}}transA = 1 : i64, transB = 0 : i64{{.*}}-> tensor<8x3xf32>
// CHECK: tessera.AdamW {{.*}}lr = 1.000000e-02
// CHECK: return
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.mode = "train", tessera.train.request.lr = 1.0e-2 : f64} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "logits"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
    %0 = tessera.MatMul %x, %w {name = "mm"} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    return %0 : tensor<4x3xf32>
  }
}

// -----

// Gradients only: outputs are the loss and the weight's gradient, no optimizer.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tessera.AdamW
// CHECK: tessera.name = "w.grad"
module attributes {tessera.cluster = "cpu", tessera.mode = "train", tessera.train.request.optimizer = "none"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "logits"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
    %0 = tessera.MatMul %x, %w {name = "mm"} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    return %0 : tensor<4x3xf32>
  }
}

// -----

// Mixed precision bf16 (tessera.train.request.precision): the f32 weight stays the master copy
// (AdamW updates it in f32); a Cast makes the 16-bit compute copy, activations are bf16 except
// around Softmax (f32, as autocast), and the weight's bf16 gradient is Cast back to f32.
// CHECK: module attributes {{.*}}tessera.train.precision = "bf16"
// CHECK: %[[X:.*]] = tessera.Cast %arg0 {{.*}}-> tensor<4x8xbf16>
// CHECK: %[[W:.*]] = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
// CHECK: %[[WB:.*]] = tessera.Cast %[[W]] {{.*}}-> tensor<8x3xbf16>
// CHECK: %[[MM:.*]] = tessera.MatMul %[[X]], %[[WB]] {{.*}}-> tensor<4x3xbf16>
// CHECK: %[[MF:.*]] = tessera.Cast %[[MM]] {{.*}}-> tensor<4x3xf32>
// CHECK: tessera.Softmax %[[MF]] {{.*}}-> tensor<4x3xf32>
// CHECK: tessera.Gemm {{.*}}-> tensor<8x3xbf16>
// CHECK: %[[G:.*]] = tessera.Cast {{.*}}(tensor<8x3xbf16>) -> tensor<8x3xf32>
// CHECK: tessera.AdamW %[[W]], %[[G]], {{.*}}-> (tensor<8x3xf32>, tensor<8x3xf32>, tensor<8x3xf32>)
module attributes {tessera.cluster = "cpu", tessera.mode = "train", tessera.train.request.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "logits"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
    %0 = tessera.MatMul %x, %w {name = "mm"} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    %1 = tessera.Softmax %0 {name = "sm", axis = 1 : i64} : (tensor<4x3xf32>) -> tensor<4x3xf32>
    return %1 : tensor<4x3xf32>
  }
}

// -----

// fp16: the backward is seeded with the loss_scale state, gradients are multiplied by its
// reciprocal, a non-finite gradient (IsNaN of the sum of g*0) gates every update through Where,
// and the scale and its good-step counter are states updated with the step.
// CHECK: module attributes {{.*}}"loss_scale", "loss_scale.new", "loss_scale.good_steps", "loss_scale.good_steps.new"
// CHECK: tessera.MatMul {{.*}}-> tensor<4x3xf16>
// CHECK: %[[S:.*]] = tessera.weight {name = "loss_scale"} : () -> tensor<f32>
// CHECK: tessera.SoftmaxCrossEntropyGrad %[[S]],
// CHECK: %[[INV:.*]] = tessera.Reciprocal %[[S]]
// CHECK: %[[U:.*]] = tessera.Mul %{{.*}}, %[[INV]]
// CHECK: %[[BAD:.*]] = tessera.IsNaN
// CHECK: tessera.AdamW %{{.*}}, %[[U]],
// CHECK: tessera.Where %[[BAD]],
// CHECK: tessera.weight {name = "loss_scale.good_steps"}
// CHECK: tessera.GreaterOrEqual
module attributes {tessera.cluster = "cpu", tessera.mode = "train", tessera.train.request.precision = "fp16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "logits"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
    %0 = tessera.MatMul %x, %w {name = "mm"} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    return %0 : tensor<4x3xf32>
  }
}
