// RUN: tessera-opt %s -tessera-fold-casts -split-input-file -verify-diagnostics | FileCheck %s

// A bf16 training step's LayerNorm: the residual widened for it, its output narrowed for the
// next GEMM, and the same backwards. All four Casts go; LayerNormalization(Grad) read and write
// bf16 (one dtype in, one out: no out_dtype), scale and the weight gradients stay f32.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.fold_casts.removed = 4 : i64
// CHECK-NOT: tessera.Cast
// CHECK: %[[Y:.*]] = tessera.LayerNormalization %arg0, %{{.*}}, %{{.*}} {{.*}}name = "ln"} : (tensor<2x4x8xbf16>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xbf16>
// CHECK: %[[G:.*]]:3 = tessera.LayerNormalizationGrad %arg1, %arg0, %{{.*}} {{.*}}name = "ln_grad"} : (tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<8xf32>) -> (tensor<2x4x8xbf16>, tensor<8xf32>, tensor<8xf32>)
// CHECK: return %[[Y]], %[[G]]#0, %[[G]]#1
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x4x8xbf16> {tessera.name = "x"}, %dy: tensor<2x4x8xbf16> {tessera.name = "dy"}) -> (tensor<2x4x8xbf16> {tessera.name = "y"}, tensor<2x4x8xbf16> {tessera.name = "dx"}, tensor<8xf32> {tessera.name = "dscale"}) {
    %s = tessera.weight {name = "scale"} : () -> tensor<8xf32>
    %b = tessera.weight {name = "bias"} : () -> tensor<8xf32>
    %xf = tessera.Cast %x {name = "autocast/x", to = 1 : i64} : (tensor<2x4x8xbf16>) -> tensor<2x4x8xf32>
    %yf = tessera.LayerNormalization %xf, %s, %b {axis = 2 : i64, epsilon = 1.0e-5 : f64, name = "ln"} : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
    %y = tessera.Cast %yf {name = "autocast/ln", to = 16 : i64} : (tensor<2x4x8xf32>) -> tensor<2x4x8xbf16>
    %dyf = tessera.Cast %dy {name = "grad/autocast/ln", to = 1 : i64} : (tensor<2x4x8xbf16>) -> tensor<2x4x8xf32>
    %g:3 = tessera.LayerNormalizationGrad %dyf, %xf, %s {axis = 2 : i64, epsilon = 1.0e-5 : f64, name = "ln_grad"} : (tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<8xf32>) -> (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>)
    %dx = tessera.Cast %g#0 {name = "grad/autocast/x", to = 16 : i64} : (tensor<2x4x8xf32>) -> tensor<2x4x8xbf16>
    return %y, %dx, %g#1 : tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<8xf32>
  }
}

// -----

// The loss: fp16 logits widened, reshaped to [N, C] for the loss; the gradient reshaped back and
// narrowed. The Reshapes carry fp16 now; the loss reads fp16 logits and keeps an f32 loss and
// softmax (out_dtype f32), its gradient writes fp16 dlogits (out_dtype f16).
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.fold_casts.removed = 2 : i64
// CHECK-NOT: tessera.Cast
// CHECK: %[[R:.*]] = tessera.Reshape %arg0 {{.*}} : (tensor<2x3x5xf16>) -> tensor<6x5xf16>
// CHECK: %[[L:.*]]:2 = tessera.SoftmaxCrossEntropyLoss %[[R]], %{{.*}} {name = "loss", out_dtype = 1 : i64, rows = 6 : i64} : (tensor<6x5xf16>, tensor<6xi64>) -> (tensor<f32>, tensor<6x5xf32>)
// CHECK: %[[D:.*]] = tessera.SoftmaxCrossEntropyGrad %{{.*}}, %[[L]]#1, %{{.*}} {name = "loss_grad", out_dtype = 10 : i64, rows = 6 : i64} : (tensor<f32>, tensor<6x5xf32>, tensor<6xi64>) -> tensor<6x5xf16>
// CHECK: %[[B:.*]] = tessera.Reshape %[[D]] {{.*}} : (tensor<6x5xf16>) -> tensor<2x3x5xf16>
// CHECK: return %[[L]]#0, %[[B]]
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%logits: tensor<2x3x5xf16> {tessera.name = "logits"}, %labels: tensor<2x3xi64> {tessera.name = "labels"}) -> (tensor<f32> {tessera.name = "loss"}, tensor<2x3x5xf16> {tessera.name = "dlogits"}) {
    %lf = tessera.Cast %logits {name = "autocast/logits", to = 1 : i64} : (tensor<2x3x5xf16>) -> tensor<2x3x5xf32>
    %r = tessera.Reshape %lf {name = "rows", shape = [:i64 6, 5]} : (tensor<2x3x5xf32>) -> tensor<6x5xf32>
    %lab = tessera.Reshape %labels {name = "label_rows", shape = [:i64 6]} : (tensor<2x3xi64>) -> tensor<6xi64>
    %l:2 = tessera.SoftmaxCrossEntropyLoss %r, %lab {name = "loss", rows = 6 : i64} : (tensor<6x5xf32>, tensor<6xi64>) -> (tensor<f32>, tensor<6x5xf32>)
    %one = tessera.constant {name = "seed", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %d = tessera.SoftmaxCrossEntropyGrad %one, %l#1, %lab {name = "loss_grad", rows = 6 : i64} : (tensor<f32>, tensor<6x5xf32>, tensor<6xi64>) -> tensor<6x5xf32>
    %db = tessera.Reshape %d {name = "unrows", shape = [:i64 2, 3, 5]} : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
    %dl = tessera.Cast %db {name = "grad/autocast/logits", to = 10 : i64} : (tensor<2x3x5xf32>) -> tensor<2x3x5xf16>
    return %l#0, %dl : tensor<f32>, tensor<2x3x5xf16>
  }
}

// -----

// Only the input Cast folds: the LayerNorm's f32 output has another reader (a Relu), so it stays
// f32 and the node says so (out_dtype = 1); its Cast to bf16 stays. Left alone: a widened value
// read by an f32 op (Exp), a Cast from f64, a widened value that leaves the graph, and an f32
// output that leaves the graph before its Cast.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.fold_casts.removed = 1 : i64
// CHECK: tessera.LayerNormalization %arg0, {{.*}}name = "ln", out_dtype = 1 : i64{{.*}} : (tensor<4x8xbf16>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: tessera.Cast {{.*}}name = "narrow"
// CHECK: tessera.Cast %arg1 {name = "widen_exp"
// CHECK: tessera.Cast %arg2 {name = "widen_f64"
// CHECK: tessera.Cast %arg3 {name = "widen_out"
// CHECK: tessera.LayerNormalization {{.*}}name = "ln_out"
// CHECK: tessera.Cast {{.*}}name = "narrow_out"
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<4x8xbf16> {tessera.name = "x"}, %x2: tensor<4x8xbf16> {tessera.name = "x2"}, %x3: tensor<4x8xf64> {tessera.name = "x3"}, %x4: tensor<4x8xbf16> {tessera.name = "x4"}) -> (tensor<4x8xbf16> {tessera.name = "y"}, tensor<4x8xf32> {tessera.name = "r"}, tensor<4x8xf32> {tessera.name = "e"}, tensor<4x8xf32> {tessera.name = "y3"}, tensor<4x8xf32> {tessera.name = "x4f"}, tensor<4x8xf32> {tessera.name = "y4"}, tensor<4x8xbf16> {tessera.name = "y4h"}) {
    %s = tessera.weight {name = "scale"} : () -> tensor<8xf32>
    %xf = tessera.Cast %x {name = "widen", to = 1 : i64} : (tensor<4x8xbf16>) -> tensor<4x8xf32>
    %yf = tessera.LayerNormalization %xf, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64, name = "ln"} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %y = tessera.Cast %yf {name = "narrow", to = 16 : i64} : (tensor<4x8xf32>) -> tensor<4x8xbf16>
    %r = tessera.Relu %yf {name = "relu"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %x2f = tessera.Cast %x2 {name = "widen_exp", to = 1 : i64} : (tensor<4x8xbf16>) -> tensor<4x8xf32>
    %y2 = tessera.LayerNormalization %x2f, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64, name = "ln_exp"} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %e = tessera.Exp %x2f {name = "exp"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %x3f = tessera.Cast %x3 {name = "widen_f64", to = 1 : i64} : (tensor<4x8xf64>) -> tensor<4x8xf32>
    %y3 = tessera.LayerNormalization %x3f, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64, name = "ln_f64"} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %x4f = tessera.Cast %x4 {name = "widen_out", to = 1 : i64} : (tensor<4x8xbf16>) -> tensor<4x8xf32>
    %y4 = tessera.LayerNormalization %x4f, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64, name = "ln_out"} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %y4h = tessera.Cast %y4 {name = "narrow_out", to = 16 : i64} : (tensor<4x8xf32>) -> tensor<4x8xbf16>
    %sum = tessera.Add %r, %y2 {name = "sum"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    return %y, %sum, %e, %y3, %x4f, %y4, %y4h : tensor<4x8xbf16>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xbf16>
  }
}

// -----

// --fold-casts off: nothing changes.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.fold_casts.removed
// CHECK: tessera.Cast
// CHECK: tessera.LayerNormalization {{.*}} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
// CHECK: tessera.Cast
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.fold_casts = "off"} {
  func.func @main(%x: tensor<4x8xbf16> {tessera.name = "x"}) -> (tensor<4x8xbf16> {tessera.name = "y"}) {
    %s = tessera.weight {name = "scale"} : () -> tensor<8xf32>
    %xf = tessera.Cast %x {name = "widen", to = 1 : i64} : (tensor<4x8xbf16>) -> tensor<4x8xf32>
    %yf = tessera.LayerNormalization %xf, %s {axis = 1 : i64, epsilon = 1.0e-5 : f64, name = "ln"} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %y = tessera.Cast %yf {name = "narrow", to = 16 : i64} : (tensor<4x8xf32>) -> tensor<4x8xbf16>
    return %y : tensor<4x8xbf16>
  }
}

// -----

// expected-error @+1 {{--fold-casts 'maybe': expected on or off}}
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.fold_casts = "maybe"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return %0 : tensor<4x8xf32>
  }
}
