// RUN: tessera-opt %s -tessera-linear-bias -split-input-file | FileCheck %s

// BERT's nn.Linear on [batch, seq, hidden]: MatMul then Add of the bias row (either operand
// order) becomes Reshape to rows, one Gemm with the bias as C, Reshape back to the Add's value.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.linear_bias.fused = 2 : i64
// CHECK: %[[R:.*]] = tessera.Reshape %arg0 {name = "mm.rows", shape = [:i64 6, 8]} : (tensor<2x3x8xf32>) -> tensor<6x8xf32>
// CHECK: %[[G:.*]] = tessera.Gemm %[[R]], %{{.*}}, %{{.*}} {name = "mm.bias"} : (tensor<6x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT: %[[Y:.*]] = tessera.Reshape %[[G]] {name = "add.unrows", shape = [:i64 2, 3, 4]}
// CHECK: tessera.Gemm %{{.*}}, %{{.*}}, %{{.*}} {name = "mm2.bias"} : (tensor<6x4xf32>, tensor<4x4xf32>, tensor<1x4xf32>) -> tensor<6x4xf32>
// CHECK-NOT: tessera.MatMul
// CHECK-NOT: tessera.Add
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x3x8xf32> {tessera.name = "x"}) -> (tensor<2x3x4xf32> {tessera.name = "y"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x4xf32>
    %b = tessera.weight {name = "b"} : () -> tensor<4xf32>
    %w2 = tessera.weight {name = "w2"} : () -> tensor<4x4xf32>
    %b2 = tessera.weight {name = "b2"} : () -> tensor<1x4xf32>
    %m = tessera.MatMul %x, %w {name = "mm"} : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
    %y = tessera.Add %m, %b {name = "add"} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %m2 = tessera.MatMul %y, %w2 {name = "mm2"} : (tensor<2x3x4xf32>, tensor<4x4xf32>) -> tensor<2x3x4xf32>
    %y2 = tessera.Add %b2, %m2 {name = "add2"} : (tensor<1x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    return %y2 : tensor<2x3x4xf32>
  }
}

// -----

// A 2-D x needs no Reshape: the Gemm writes the Add's value itself.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.linear_bias.fused = 1 : i64
// CHECK: %[[G:.*]] = tessera.Gemm %arg0, %{{.*}}, %{{.*}} {name = "mm.bias"} : (tensor<6x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<6x4xf32>
// CHECK-NEXT: return %[[G]]
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<6x8xf32> {tessera.name = "x"}) -> (tensor<6x4xf32> {tessera.name = "y"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x4xf32>
    %b = tessera.weight {name = "b"} : () -> tensor<4xf32>
    %m = tessera.MatMul %x, %w {name = "mm"} : (tensor<6x8xf32>, tensor<8x4xf32>) -> tensor<6x4xf32>
    %y = tessera.Add %m, %b {name = "add"} : (tensor<6x4xf32>, tensor<4xf32>) -> tensor<6x4xf32>
    return %y : tensor<6x4xf32>
  }
}

// -----

// Not fused: the MatMul's result is read twice (the pre-bias value is needed), a bias that is
// not a row of N ([3, 4] here), a batched w (attention's q·kᵀ), and a graph-output product.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.linear_bias.fused
// CHECK-NOT: tessera.Gemm
// CHECK-COUNT-4: tessera.MatMul
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x3x8xf32> {tessera.name = "x"}, %k: tensor<2x8x3xf32> {tessera.name = "k"}) -> (tensor<2x3x4xf32> {tessera.name = "y"}, tensor<2x3x4xf32> {tessera.name = "y1"}, tensor<2x3x4xf32> {tessera.name = "y2"}, tensor<2x3x3xf32> {tessera.name = "y3"}, tensor<2x3x4xf32> {tessera.name = "m4"}, tensor<2x3x4xf32> {tessera.name = "y4"}) {
    %w = tessera.weight {name = "w"} : () -> tensor<8x4xf32>
    %b = tessera.weight {name = "b"} : () -> tensor<4xf32>
    %bb = tessera.weight {name = "bb"} : () -> tensor<3x4xf32>
    %c3 = tessera.weight {name = "c3"} : () -> tensor<3xf32>
    %m = tessera.MatMul %x, %w {name = "mm"} : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
    %y = tessera.Add %m, %b {name = "add"} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %y1 = tessera.Mul %m, %m {name = "mul"} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %m2 = tessera.MatMul %x, %w {name = "mm2"} : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
    %y2 = tessera.Add %m2, %bb {name = "add2"} : (tensor<2x3x4xf32>, tensor<3x4xf32>) -> tensor<2x3x4xf32>
    %m3 = tessera.MatMul %x, %k {name = "mm3"} : (tensor<2x3x8xf32>, tensor<2x8x3xf32>) -> tensor<2x3x3xf32>
    %y3 = tessera.Add %m3, %c3 {name = "add3"} : (tensor<2x3x3xf32>, tensor<3xf32>) -> tensor<2x3x3xf32>
    %m4 = tessera.MatMul %x, %w {name = "mm4"} : (tensor<2x3x8xf32>, tensor<8x4xf32>) -> tensor<2x3x4xf32>
    %y4 = tessera.Add %m4, %b {name = "add4"} : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    return %y, %y1, %y2, %y3, %m4, %y4 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x3xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
}
