// RUN: tessera-opt %s -tessera-autodiff -split-input-file | FileCheck %s

// Train mode: cross-entropy on the first output, the backward graph, one AdamW per weight.
// CHECK-LABEL: func.func @main
// CHECK-SAME: tessera.name = "labels"
// CHECK: tessera.SoftmaxCrossEntropyLoss
// CHECK: tessera.SoftmaxCrossEntropyGrad
// CHECK: tessera.MatMul
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
