// RUN: tessera-opt %s -tessera-attention -split-input-file | FileCheck %s

// BERT's form: MatMul(q, Transpose(k)) / 8 + mask -> Softmax -> MatMul v. The mask stays an
// input, the scale folds into the attribute, k is read through the Transpose.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tessera.Softmax
// CHECK: tessera.FusedAttention %arg0, %arg1, %arg2, %arg3 {{.*}}causal = 0 : i64, chunk = 0 : i64{{.*}}scale = 1.250000e-01
// CHECK-SAME: -> (tensor<2x4x16x8xf32>, tensor<2x4x16x16xf32>)
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<2x4x16x8xf32> {tessera.name = "q"}, %k: tensor<2x4x16x8xf32> {tessera.name = "k"}, %v: tensor<2x4x16x8xf32> {tessera.name = "v"}, %m: tensor<2x1x1x16xf32> {tessera.name = "mask"}) -> (tensor<2x4x16x8xf32> {tessera.name = "y"}) {
    %kt = tessera.Transpose %k {name = "kt", perm = [:i64 0, 1, 3, 2]} : (tensor<2x4x16x8xf32>) -> tensor<2x4x8x16xf32>
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<2x4x16x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x16x16xf32>
    %c = tessera.constant {name = "eight", value = dense<8.0> : tensor<f32>} : () -> tensor<f32>
    %d = tessera.Div %s, %c {name = "div"} : (tensor<2x4x16x16xf32>, tensor<f32>) -> tensor<2x4x16x16xf32>
    %a = tessera.Add %d, %m {name = "add"} : (tensor<2x4x16x16xf32>, tensor<2x1x1x16xf32>) -> tensor<2x4x16x16xf32>
    %p = tessera.Softmax %a {name = "softmax", axis = 3 : i64} : (tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<2x4x16x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x16x8xf32>
    return %y : tensor<2x4x16x8xf32>
  }
}

// -----

// GPT-2's form: a constant lower-triangular condition in Where(cond, x, min) is the causal
// pattern: no mask input, causal = 1; kT is not a Transpose, so one is inserted.
// CHECK-LABEL: func.func @main
// CHECK: %[[K:.*]] = tessera.Transpose %arg1 {{.*}}perm = [:i64 1, 0]
// CHECK: tessera.FusedAttention %arg0, %[[K]], %arg2 {{.*}}causal = 1 : i64{{.*}}scale = 5.000000e-01
// CHECK-NOT: tessera.Where
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %h = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %x = tessera.Mul %h, %s {name = "mul"} : (tensor<f32>, tensor<3x3xf32>) -> tensor<3x3xf32>
    %c = tessera.constant {name = "tril", value = dense<[[true, false, false], [true, true, false], [true, true, true]]> : tensor<3x3xi1>} : () -> tensor<3x3xi1>
    %f = tessera.constant {name = "min", value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
    %w = tessera.Where %c, %x, %f {name = "where"} : (tensor<3x3xi1>, tensor<3x3xf32>, tensor<f32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %w {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// Not the causal pattern (the condition is upper-triangular): left unfused.
// CHECK-LABEL: func.func @main
// CHECK-NOT: FusedAttention
// CHECK: tessera.Softmax
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %c = tessera.constant {name = "triu", value = dense<[[true, true, true], [false, true, true], [false, false, true]]> : tensor<3x3xi1>} : () -> tensor<3x3xi1>
    %f = tessera.constant {name = "min", value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
    %w = tessera.Where %c, %s, %f {name = "where"} : (tensor<3x3xi1>, tensor<3x3xf32>, tensor<f32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %w {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// The probabilities have a second reader (returned): fusing would lose them, so nothing changes.
// Softmax over the queries (axis 0) is not attention either.
// CHECK-LABEL: func.func @main
// CHECK-NOT: FusedAttention
// CHECK: return
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}) -> (tensor<3x2xf32> {tessera.name = "y"}, tensor<3x3xf32> {tessera.name = "p"}, tensor<3x2xf32> {tessera.name = "y2"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %s {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    %s2 = tessera.MatMul %q, %kt {name = "scores2"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %p2 = tessera.Softmax %s2 {name = "softmax2", axis = 0 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y2 = tessera.MatMul %p2, %v {name = "out2"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y, %p, %y2 : tensor<3x2xf32>, tensor<3x3xf32>, tensor<3x2xf32>
  }
}

// -----

// A mask added after the scale is fine; a scale applied after the mask would scale the mask:
// left unfused. Under tessera.attention = "unfused" nothing is fused at all.
// CHECK-LABEL: func.func @main
// CHECK-NOT: FusedAttention
// CHECK: return
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}, %m: tensor<3x3xf32> {tessera.name = "m"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %a = tessera.Add %s, %m {name = "add"} : (tensor<3x3xf32>, tensor<3x3xf32>) -> tensor<3x3xf32>
    %h = tessera.constant {name = "half", value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
    %x = tessera.Mul %a, %h {name = "mul"} : (tensor<3x3xf32>, tensor<f32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %x {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// CHECK-LABEL: func.func @main
// CHECK-NOT: FusedAttention
// CHECK: return
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "unfused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %s {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// Training: a mask computed from a weight (a learned position bias, as in Swin or T5) needs a
// gradient FusedAttentionGrad does not give: left unfused. (Inference would fuse it.)
// CHECK-LABEL: func.func @main
// CHECK-NOT: FusedAttention
// CHECK: tessera.Softmax
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused", tessera.mode = "train"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %w = tessera.weight {name = "bias_table", value = dense<0.1> : tensor<3x3xf32>} : () -> tensor<3x3xf32>
    %h = tessera.constant {name = "two", value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
    %b = tessera.Mul %w, %h {name = "bias"} : (tensor<3x3xf32>, tensor<f32>) -> tensor<3x3xf32>
    %a = tessera.Add %s, %b {name = "add"} : (tensor<3x3xf32>, tensor<3x3xf32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %a {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// A full-size mask as the Add's first operand: either operand may be the mask, the one that
// leads back to q·kT is the scores.
// CHECK-LABEL: func.func @main
// CHECK: tessera.FusedAttention %arg0, %{{.*}}, %arg2, %arg3 {{.*}}causal = 0
// CHECK-NOT: tessera.Softmax
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention = "fused"} {
  func.func @main(%q: tensor<3x2xf32> {tessera.name = "q"}, %kt: tensor<2x3xf32> {tessera.name = "kt"}, %v: tensor<3x2xf32> {tessera.name = "v"}, %m: tensor<3x3xf32> {tessera.name = "m"}) -> (tensor<3x2xf32> {tessera.name = "y"}) {
    %s = tessera.MatMul %q, %kt {name = "scores"} : (tensor<3x2xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
    %a = tessera.Add %m, %s {name = "add"} : (tensor<3x3xf32>, tensor<3x3xf32>) -> tensor<3x3xf32>
    %p = tessera.Softmax %a {name = "softmax", axis = 1 : i64} : (tensor<3x3xf32>) -> tensor<3x3xf32>
    %y = tessera.MatMul %p, %v {name = "out"} : (tensor<3x3xf32>, tensor<3x2xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}
