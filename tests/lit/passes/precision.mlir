// RUN: tessera-opt %s -tessera-precision -split-input-file -verify-diagnostics | FileCheck %s

// bf16: the f32 input gets a Cast in, weights, constants and activations become bf16, and a
// Cast back to f32 takes the output's name.
// CHECK-LABEL: func.func @main
// CHECK-SAME: -> (tensor<4x3xf32> {tessera.name = "y"})
// CHECK: %[[IN:.*]] = tessera.Cast %arg0 {name = "precision_in_x", to = 16 : i64} : (tensor<4x8xf32>) -> tensor<4x8xbf16>
// CHECK: %[[W:.*]] = tessera.weight {name = "w"} : () -> tensor<8x3xbf16>
// CHECK: %[[MM:.*]] = tessera.MatMul %[[IN]], %[[W]] {{.*}} -> tensor<4x3xbf16>
// CHECK: tessera.constant {name = "half", value = dense<5.000000e-01> : tensor<bf16>}
// CHECK: %[[A:.*]] = tessera.Mul %[[MM]]
// CHECK: %[[OUT:.*]] = tessera.Cast %[[A]] {name = "precision_out_y", to = 1 : i64} : (tensor<4x3xbf16>) -> tensor<4x3xf32>
// CHECK: return %[[OUT]]
module attributes {tessera.cluster = "cpu", tessera.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "y"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x3xf32>
    %0 = tessera.MatMul %x, %w {name = "mm"} : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    %h = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %1 = tessera.Mul %0, %h {name = "scale"} : (tensor<4x3xf32>, tensor<f32>) -> tensor<4x3xf32>
    return %1 : tensor<4x3xf32>
  }
}

// -----

// fp16: integer inputs stay as they are (no Cast); an embedding gather comes out in fp16; an
// additive mask of finfo(f32).min saturates to -65504 instead of becoming -inf; a Cast to f32
// inside the graph now produces fp16.
// CHECK-LABEL: func.func @main
// CHECK-NOT: precision_in_
// CHECK: tessera.Gather {{.*}} -> tensor<2x4x8xf16>
// CHECK: value = dense<-6.550400e+04> : tensor<f16>
// CHECK: tessera.Cast {{.*}}to = 10 : i64{{.*}} -> tensor<2x4x8xf16>
// CHECK: tessera.Cast {{.*}}name = "precision_out_y", to = 1 : i64
module attributes {tessera.cluster = "cpu", tessera.precision = "fp16"} {
  func.func @main(%ids: tensor<2x4xi64> {tessera.name = "ids"}) -> (tensor<2x4x8xf32> {tessera.name = "y"}) {
    %e = tessera.weight {name = "emb"} : () -> tensor<16x8xf32>
    %0 = tessera.Gather %e, %ids {axis = 0 : i64, name = "g"} : (tensor<16x8xf32>, tensor<2x4xi64>) -> tensor<2x4x8xf32>
    %m = tessera.constant {name = "mask", value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
    %1 = tessera.Add %0, %m {name = "masked"} : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
    %2 = tessera.Cast %1 {name = "again", to = 1 : i64} : (tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
    return %2 : tensor<2x4x8xf32>
  }
}

// -----

// Train mode is the autodiff stage's (autocast, f32 master weights): a graph it did not
// differentiate in this precision is refused.
// expected-error @+1 {{train mode}}
module attributes {tessera.cluster = "cpu", tessera.mode = "train", tessera.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return %0 : tensor<4x8xf32>
  }
}

// -----

// A training step autodiff built in bf16 (tessera.train.precision) passes unchanged: its f32
// master weights and f32 islands stay as they are.
// CHECK-LABEL: func.func @main
// CHECK: tessera.Relu {{.*}}(tensor<4x8xf32>) -> tensor<4x8xf32>
module attributes {tessera.cluster = "cpu", tessera.mode = "train", tessera.precision = "bf16", tessera.train.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return %0 : tensor<4x8xf32>
  }
}

// -----

// An unknown precision is an error naming the choices.
// expected-error @+1 {{expected fp32, bf16 or fp16}}
module attributes {tessera.cluster = "cpu", tessera.precision = "fp8"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return %0 : tensor<4x8xf32>
  }
}

// -----

// Quantized ops under bf16: QuantizeI8 reads the bf16 activation; the per-channel w_scale and
// bias and the SmoothQuant vector stay f32 (the epilogue is defined in f32), and QMatMulI8
// writes bf16 directly (out_dtype = 16) instead of f32 plus a Cast.
// CHECK-LABEL: func.func @main
// CHECK: tessera.weight {name = "smooth"} : () -> tensor<8xf32>
// CHECK: tessera.QuantizeI8 {{.*}} : (tensor<4x8xbf16>, tensor<8xf32>) -> tensor<4x8xi8>
// CHECK: tessera.weight {name = "w_scale"} : () -> tensor<3xf32>
// CHECK: tessera.weight {name = "bias"} : () -> tensor<3xf32>
// CHECK: tessera.QMatMulI8 {{.*}}out_dtype = 16 : i64{{.*}} -> tensor<4x3xbf16>
module attributes {tessera.cluster = "cpu", tessera.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "y"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<3x8xi8>
    %s = tessera.weight {name = "w_scale"} : () -> tensor<3xf32>
    %b = tessera.weight {name = "bias"} : () -> tensor<3xf32>
    %sm = tessera.weight {name = "smooth"} : () -> tensor<8xf32>
    %q = tessera.QuantizeI8 %x, %sm {name = "q", scale = 0.5 : f32} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xi8>
    %y = tessera.QMatMulI8 %q, %w, %s, %b {name = "mm", x_scale = 0.5 : f32} : (tensor<4x8xi8>, tensor<3x8xi8>, tensor<3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    return %y : tensor<4x3xf32>
  }
}

// -----

// Per-token quantized ops under bf16: QuantizeI8 reads the bf16 activation and still writes f32
// row scales, which QMatMulI8 reads as f32 (the epilogue multiplies in f32).
// CHECK-LABEL: func.func @main
// CHECK: tessera.QuantizeI8 {{.*}}per_token = 1 : i64} : (tensor<4x8xbf16>) -> (tensor<4x8xi8>, tensor<4xf32>)
// CHECK: tessera.QMatMulI8 {{.*}}out_dtype = 16 : i64, per_token = 1 : i64} : (tensor<4x8xi8>, tensor<3x8xi8>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>) -> tensor<4x3xbf16>
module attributes {tessera.cluster = "cpu", tessera.precision = "bf16"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x3xf32> {tessera.name = "y"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<3x8xi8>
    %s = tessera.weight {name = "w_scale"} : () -> tensor<3xf32>
    %b = tessera.weight {name = "bias"} : () -> tensor<3xf32>
    %q:2 = tessera.QuantizeI8 %x {name = "q", per_token = 1 : i64} : (tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<4xf32>)
    %y = tessera.QMatMulI8 %q#0, %w, %s, %b, %q#1 {absent_inputs = [:i64 4], name = "mm", per_token = 1 : i64} : (tensor<4x8xi8>, tensor<3x8xi8>, tensor<3xf32>, tensor<3xf32>, tensor<4xf32>) -> tensor<4x3xf32>
    return %y : tensor<4x3xf32>
  }
}
