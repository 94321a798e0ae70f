// RUN: tessera-opt %s -tessera-attention-layout -split-input-file | FileCheck %s

// BERT's layer: q, k, v Transposed from the projections' [B,S,H,D] to [B,H,S,D] (q scaled at
// run time after its Transpose), y Transposed back. The op takes [B,S,H,D] (layout bshd), the
// four Transposes go, the scalar Mul moves onto [B,S,H,D], the mask and the ws output keep the
// scores' [B,H,Sq,Sk] order.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.attention_layout.nodes = 1 : i64
// CHECK-SAME: tessera.attention_layout.transposes = 4 : i64
// CHECK-NOT: tessera.Transpose
// CHECK: %[[Q:.*]] = tessera.Mul %arg0, %{{.*}} {name = "qs"} : (tensor<2x5x3x4xf32>, tensor<f32>) -> tensor<2x5x3x4xf32>
// CHECK: %[[A:.*]]:2 = tessera.FusedAttention %[[Q]], %arg1, %arg2, %arg3 {{{.*}}layout = "bshd"{{.*}}} : (tensor<2x5x3x4xf32>, tensor<2x5x3x4xf32>, tensor<2x5x3x4xf32>, tensor<2x1x1x5xf32>) -> (tensor<2x5x3x4xf32>, tensor<2x3x5x5xf32>)
// CHECK-NOT: tessera.Transpose
// CHECK: return %[[A]]#0
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%q: tensor<2x5x3x4xf32> {tessera.name = "q"}, %k: tensor<2x5x3x4xf32> {tessera.name = "k"}, %v: tensor<2x5x3x4xf32> {tessera.name = "v"}, %m: tensor<2x1x1x5xf32> {tessera.name = "mask"}) -> (tensor<2x5x3x4xf32> {tessera.name = "y"}) {
    %c = tessera.weight {name = "c"} : () -> tensor<f32>
    %qt = tessera.Transpose %q {name = "qt", perm = [:i64 0, 2, 1, 3]} : (tensor<2x5x3x4xf32>) -> tensor<2x3x5x4xf32>
    %kt = tessera.Transpose %k {name = "kt", perm = [:i64 0, 2, 1, 3]} : (tensor<2x5x3x4xf32>) -> tensor<2x3x5x4xf32>
    %vt = tessera.Transpose %v {name = "vt", perm = [:i64 0, 2, 1, 3]} : (tensor<2x5x3x4xf32>) -> tensor<2x3x5x4xf32>
    %qs = tessera.Mul %qt, %c {name = "qs"} : (tensor<2x3x5x4xf32>, tensor<f32>) -> tensor<2x3x5x4xf32>
    %a:2 = tessera.FusedAttention %qs, %kt, %vt, %m {name = "attn", scale = 0.5 : f64, causal = 0 : i64, chunk = 0 : i64} : (tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x3x5x4xf32>, tensor<2x1x1x5xf32>) -> (tensor<2x3x5x4xf32>, tensor<2x3x5x5xf32>)
    %y = tessera.Transpose %a#0 {name = "yt", perm = [:i64 0, 2, 1, 3]} : (tensor<2x3x5x4xf32>) -> tensor<2x5x3x4xf32>
    return %y : tensor<2x5x3x4xf32>
  }
}

// -----

// GPT-2's causal form without a mask, v's Transpose also read elsewhere: three of the four
// match (q, k, y), so the node turns bshd with one Transpose inserted for v (from its [B,H,S,D]
// value, which stays): net two Transposes fewer.
// CHECK-LABEL: module attributes
// CHECK-SAME: tessera.attention_layout.transposes = 2 : i64
// CHECK: %[[VT:.*]] = tessera.Transpose %arg2 {name = "vt"
// CHECK: %[[VB:.*]] = tessera.Transpose %[[VT]] {name = "attn.v_to_bshd", perm = [:i64 0, 2, 1, 3]} : (tensor<1x2x6x4xf32>) -> tensor<1x6x2x4xf32>
// CHECK: %[[A:.*]]:2 = tessera.FusedAttention %arg0, %arg1, %[[VB]] {{{.*}}layout = "bshd"
// CHECK-SAME: -> (tensor<1x6x2x4xf32>, tensor<1x2x6x6xf32>)
// CHECK: return %[[A]]#0, %[[VT]]
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%q: tensor<1x6x2x4xf32> {tessera.name = "q"}, %k: tensor<1x6x2x4xf32> {tessera.name = "k"}, %v: tensor<1x6x2x4xf32> {tessera.name = "v"}) -> (tensor<1x6x2x4xf32> {tessera.name = "y"}, tensor<1x2x6x4xf32> {tessera.name = "vt"}) {
    %qt = tessera.Transpose %q {name = "qt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %kt = tessera.Transpose %k {name = "kt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %vt = tessera.Transpose %v {name = "vt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %a:2 = tessera.FusedAttention %qt, %kt, %vt {name = "attn", scale = 0.5 : f64, causal = 1 : i64, chunk = 0 : i64} : (tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>) -> (tensor<1x2x6x4xf32>, tensor<1x2x6x6xf32>)
    %y = tessera.Transpose %a#0 {name = "yt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x2x6x4xf32>) -> tensor<1x6x2x4xf32>
    return %y, %vt : tensor<1x6x2x4xf32>, tensor<1x2x6x4xf32>
  }
}

// -----

// Left as it is: y is a graph output (no Transpose of it can go) and k comes through another
// perm; only q and v match, and converting would insert as many Transposes as it removes.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.attention_layout.nodes
// CHECK-COUNT-3: tessera.Transpose
// CHECK-NOT: layout = "bshd"
module attributes {tessera.mesh = "", tessera.cluster = "cpu"} {
  func.func @main(%q: tensor<1x6x2x4xf32> {tessera.name = "q"}, %k: tensor<1x2x4x6xf32> {tessera.name = "k"}, %v: tensor<1x6x2x4xf32> {tessera.name = "v"}) -> (tensor<1x2x6x4xf32> {tessera.name = "y"}) {
    %qt = tessera.Transpose %q {name = "qt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %kt = tessera.Transpose %k {name = "kt", perm = [:i64 0, 1, 3, 2]} : (tensor<1x2x4x6xf32>) -> tensor<1x2x6x4xf32>
    %vt = tessera.Transpose %v {name = "vt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %a:2 = tessera.FusedAttention %qt, %kt, %vt {name = "attn", scale = 0.5 : f64, causal = 0 : i64, chunk = 0 : i64} : (tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>) -> (tensor<1x2x6x4xf32>, tensor<1x2x6x6xf32>)
    return %a#0 : tensor<1x2x6x4xf32>
  }
}

// -----

// --attention-layout bhsd: nothing changes.
// CHECK-LABEL: module attributes
// CHECK-NOT: tessera.attention_layout.nodes
// CHECK-COUNT-4: tessera.Transpose
// CHECK-NOT: layout = "bshd"
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.attention_layout = "bhsd"} {
  func.func @main(%q: tensor<1x6x2x4xf32> {tessera.name = "q"}, %k: tensor<1x6x2x4xf32> {tessera.name = "k"}, %v: tensor<1x6x2x4xf32> {tessera.name = "v"}) -> (tensor<1x6x2x4xf32> {tessera.name = "y"}) {
    %qt = tessera.Transpose %q {name = "qt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %kt = tessera.Transpose %k {name = "kt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %vt = tessera.Transpose %v {name = "vt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x6x2x4xf32>) -> tensor<1x2x6x4xf32>
    %a:2 = tessera.FusedAttention %qt, %kt, %vt {name = "attn", scale = 0.5 : f64, causal = 1 : i64, chunk = 0 : i64} : (tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>, tensor<1x2x6x4xf32>) -> (tensor<1x2x6x4xf32>, tensor<1x2x6x6xf32>)
    %y = tessera.Transpose %a#0 {name = "yt", perm = [:i64 0, 2, 1, 3]} : (tensor<1x2x6x4xf32>) -> tensor<1x6x2x4xf32>
    return %y : tensor<1x6x2x4xf32>
  }
}
