// RUN: tessera-opt %s -tessera-gelu -split-input-file | FileCheck %s

// GPT-2's NewGELU (tanh form): 0.5·x · (1 + tanh(sqrt(2/pi)·(x + 0.044715·x^3))). One Gelu node
// takes the last Mul's name and output; the chain and its constants are pruned.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.gelu.fused = 1 : i64
// CHECK-NOT: tessera.gelu.unverified
// CHECK: %[[Y:.*]] = tessera.Gelu %arg0 {approximate = "tanh", name = "mul_y.gelu"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}) {
    %c0 = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %c1 = tessera.constant {name = "three", value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %c2 = tessera.constant {name = "cubic", value = dense<0.044715> : tensor<f32>} : () -> tensor<f32>
    %c3 = tessera.constant {name = "s2pi", value = dense<0.7978845608> : tensor<f32>} : () -> tensor<f32>
    %c4 = tessera.constant {name = "one", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %h = tessera.Mul %x, %c0 {name = "mul_h"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %p = tessera.Pow %x, %c1 {name = "pow"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %m = tessera.Mul %c2, %p {name = "mul_m"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %a = tessera.Add %m, %x {name = "add_a"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %b = tessera.Mul %a, %c3 {name = "mul_b"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %t = tessera.Tanh %b {name = "tanh"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %t, %c4 {name = "add_u"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %y = tessera.Mul %h, %u {name = "mul_y"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    return %y : tensor<2x8xf32>
  }
}

// -----

// BERT's erf form: Div(x, sqrt 2) -> Erf -> Add 1 -> Mul(0.5, .) -> Mul(x, .); and the same
// with x·(1/sqrt 2) and the half applied last, (x·u)·0.5. Both become approximate = "none".
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.gelu.fused = 2 : i64
// CHECK: %[[A:.*]] = tessera.Gelu %arg0 {approximate = "none", name = "gelu_a.gelu"}
// CHECK: %[[B:.*]] = tessera.Gelu %[[A]] {approximate = "none", name = "gelu_b.gelu"}
// CHECK-NEXT: return %[[B]]
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}) {
    %s2 = tessera.constant {name = "sqrt2", value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %r2 = tessera.constant {name = "rsqrt2", value = dense<0.70710678> : tensor<f32>} : () -> tensor<f32>
    %one = tessera.constant {name = "one", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %d = tessera.Div %x, %s2 {name = "div"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %e = tessera.Erf %d {name = "erf"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %e, %one {name = "add"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %hu = tessera.Mul %half, %u {name = "mul_half"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %ya = tessera.Mul %x, %hu {name = "gelu_a"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %d2 = tessera.Mul %ya, %r2 {name = "mul_r"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %e2 = tessera.Erf %d2 {name = "erf2"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u2 = tessera.Add %one, %e2 {name = "add2"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %xu = tessera.Mul %u2, %ya {name = "mul_xu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %yb = tessera.Mul %xu, %half {name = "gelu_b"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    return %yb : tensor<2x8xf32>
  }
}

// -----

// A wrong constant (0.04 instead of 0.044715): not GELU, the chain stays.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.gelu.fused
// CHECK-NOT: tessera.Gelu
// CHECK: tessera.Tanh
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}) {
    %c0 = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %c1 = tessera.constant {name = "three", value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
    %c2 = tessera.constant {name = "cubic", value = dense<0.04> : tensor<f32>} : () -> tensor<f32>
    %c3 = tessera.constant {name = "s2pi", value = dense<0.7978845608> : tensor<f32>} : () -> tensor<f32>
    %c4 = tessera.constant {name = "one", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %h = tessera.Mul %x, %c0 {name = "mul_h"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %p = tessera.Pow %x, %c1 {name = "pow"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %m = tessera.Mul %p, %c2 {name = "mul_m"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %a = tessera.Add %x, %m {name = "add_a"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %b = tessera.Mul %a, %c3 {name = "mul_b"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %t = tessera.Tanh %b {name = "tanh"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %t, %c4 {name = "add_u"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %y = tessera.Mul %h, %u {name = "mul_y"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    return %y : tensor<2x8xf32>
  }
}

// -----

// An intermediate with a second reader (the Erf's output is also returned): fusing would lose
// it, so nothing changes.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.Gelu
// CHECK: tessera.Erf
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}, tensor<2x8xf32> {tessera.name = "e"}) {
    %s2 = tessera.constant {name = "sqrt2", value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %one = tessera.constant {name = "one", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %d = tessera.Div %x, %s2 {name = "div"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %e = tessera.Erf %d {name = "erf"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %e, %one {name = "add"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %hu = tessera.Mul %half, %u {name = "mul_half"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %y = tessera.Mul %x, %hu {name = "gelu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %e2 = tessera.Add %e, %e {name = "reader2"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    return %y, %e2 : tensor<2x8xf32>, tensor<2x8xf32>
  }
}

// -----

// Weights without data (graph-only models): fused on the structure alone, counted as
// unverified.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.gelu.fused = 1 : i64, tessera.gelu.unverified = 1 : i64
// CHECK: tessera.Gelu %arg0 {approximate = "none", name = "gelu.gelu"}
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}) {
    %s2 = tessera.weight {name = "sqrt2"} : () -> tensor<f32>
    %one = tessera.weight {name = "one"} : () -> tensor<f32>
    %half = tessera.weight {name = "half"} : () -> tensor<f32>
    %d = tessera.Div %x, %s2 {name = "div"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %e = tessera.Erf %d {name = "erf"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %e, %one {name = "add"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %hu = tessera.Mul %half, %u {name = "mul_half"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %y = tessera.Mul %x, %hu {name = "gelu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    return %y : tensor<2x8xf32>
  }
}

// -----

// tessera.gelu = "unfused" (--gelu unfused) leaves a valid chain alone.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.Gelu
// CHECK: tessera.Erf
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.gelu = "unfused"} {
  func.func @main(%x: tensor<2x8xf32> {tessera.name = "x"}) -> (tensor<2x8xf32> {tessera.name = "y"}) {
    %s2 = tessera.constant {name = "sqrt2", value = dense<1.4142135> : tensor<f32>} : () -> tensor<f32>
    %one = tessera.constant {name = "one", value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
    %half = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %d = tessera.Div %x, %s2 {name = "div"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %e = tessera.Erf %d {name = "erf"} : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %u = tessera.Add %e, %one {name = "add"} : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
    %hu = tessera.Mul %half, %u {name = "mul_half"} : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    %y = tessera.Mul %x, %hu {name = "gelu"} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
    return %y : tensor<2x8xf32>
  }
}
