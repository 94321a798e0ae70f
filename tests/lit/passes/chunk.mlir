// RUN: tessera-opt %s -tessera-chunk -split-input-file | FileCheck %s

// A reduction over the chunk dim blocks it: the scores are summed over queries (dim 0), so the
// region is chunked along the keys (dim 1) instead: k is sliced, q is read whole.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tessera.Slice %arg0
// CHECK: tessera.Slice %arg1 {{.*}}axes = [:i64 1]
// CHECK: tessera.ReduceSum
// CHECK: tessera.Concat {{.*}}axis = 1
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.chunk_count = 4 : i64} {
  func.func @main(%q: tensor<16x4xf32> {tessera.name = "q"}, %k: tensor<4x16xf32> {tessera.name = "k"}) -> (tensor<1x16xf32> {tessera.name = "y"}) {
    %0 = tessera.MatMul %q, %k {name = "scores"} : (tensor<16x4xf32>, tensor<4x16xf32>) -> tensor<16x16xf32>
    %1 = tessera.Exp %0 {name = "exp"} : (tensor<16x16xf32>) -> tensor<16x16xf32>
    %2 = tessera.ReduceSum %1 {name = "sum", axes = [:i64 0], keepdims = 1 : i64} : (tensor<16x16xf32>) -> tensor<1x16xf32>
    return %2 : tensor<1x16xf32>
  }
}

// -----

// Softmax along the only dim the rest of the region lets through (queries; the keys are
// contracted by the second MatMul) blocks chunking: nothing is rewritten.
// CHECK-LABEL: func.func @main
// CHECK-NOT: tessera.Slice
// CHECK-NOT: tessera.Concat
// CHECK: return
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.chunk_count = 4 : i64} {
  func.func @main(%q: tensor<16x4xf32> {tessera.name = "q"}, %k: tensor<4x16xf32> {tessera.name = "k"}, %v: tensor<16x4xf32> {tessera.name = "v"}) -> (tensor<16x4xf32> {tessera.name = "y"}) {
    %0 = tessera.MatMul %q, %k {name = "scores"} : (tensor<16x4xf32>, tensor<4x16xf32>) -> tensor<16x16xf32>
    %1 = tessera.Softmax %0 {name = "softmax", axis = 0 : i64} : (tensor<16x16xf32>) -> tensor<16x16xf32>
    %2 = tessera.MatMul %1, %v {name = "out"} : (tensor<16x16xf32>, tensor<16x4xf32>) -> tensor<16x4xf32>
    return %2 : tensor<16x4xf32>
  }
}

// -----

// Softmax along another dim (the keys) does not block: the queries are chunked through the
// whole attention block, 4 chunks of 4 rows, and the output is concatenated back.
// CHECK-LABEL: func.func @main
// CHECK: tessera.Slice %arg0 {{.*}}axes = [:i64 0]{{.*}} -> tensor<4x4xf32>
// CHECK: tessera.Softmax {{.*}} : (tensor<4x16xf32>) -> tensor<4x16xf32>
// CHECK: tessera.Concat {{.*}}axis = 0
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.chunk_count = 4 : i64} {
  func.func @main(%q: tensor<16x4xf32> {tessera.name = "q"}, %k: tensor<4x16xf32> {tessera.name = "k"}, %v: tensor<16x4xf32> {tessera.name = "v"}) -> (tensor<16x4xf32> {tessera.name = "y"}) {
    %0 = tessera.MatMul %q, %k {name = "scores"} : (tensor<16x4xf32>, tensor<4x16xf32>) -> tensor<16x16xf32>
    %1 = tessera.Softmax %0 {name = "softmax", axis = 1 : i64} : (tensor<16x16xf32>) -> tensor<16x16xf32>
    %2 = tessera.MatMul %1, %v {name = "out"} : (tensor<16x16xf32>, tensor<16x4xf32>) -> tensor<16x4xf32>
    return %2 : tensor<16x4xf32>
  }
}
