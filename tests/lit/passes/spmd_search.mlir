// RUN: tessera-opt %s -tessera-spmd-search -split-input-file | FileCheck %s

// Batch-parallel is free on a dp mesh: the search must split the batch of both matmuls and keep
// the weights whole.
// CHECK-LABEL: func.func @main
// CHECK: tessera.weight {name = "w1", sharding = ["[{}, {}]"]}
// CHECK: tessera.MatMul {{.*}}in_shardings = ["[{dp}, {}]", "[{}, {}]"], name = "mm1", sharding = ["[{dp}, {}]"], strategy = "0:{dp}"
// CHECK: tessera.Relu {{.*}}sharding = ["[{dp}, {}]"]
module attributes {tessera.mesh = "dp=2", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<64x32xf32> {tessera.name = "x"}) -> (tensor<64x16xf32> {tessera.name = "y"}) {
    %w1 = tessera.weight {name = "w1"} : () -> tensor<32x32xf32>
    %0 = tessera.MatMul %x, %w1 {name = "mm1"} : (tensor<64x32xf32>, tensor<32x32xf32>) -> tensor<64x32xf32>
    %1 = tessera.Relu %0 {name = "relu"} : (tensor<64x32xf32>) -> tensor<64x32xf32>
    %w2 = tessera.weight {name = "w2"} : () -> tensor<32x16xf32>
    %2 = tessera.MatMul %1, %w2 {name = "mm2"} : (tensor<64x32xf32>, tensor<32x16xf32>) -> tensor<64x16xf32>
    return %2 : tensor<64x16xf32>
  }
}

// -----

// Softmax needs its whole axis: on a tp mesh the search may split rows but never the axis.
// CHECK-LABEL: func.func @main
// CHECK: tessera.Softmax {{.*}}sharding = ["[{tp}, {}]"]
module attributes {tessera.mesh = "tp=4", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<8x64xf32> {tessera.name = "x"}) -> (tensor<8x64xf32> {tessera.name = "y"}) {
    %0 = tessera.Softmax %x {axis = 1 : i64, name = "sm"} : (tensor<8x64xf32>) -> tensor<8x64xf32>
    return %0 : tensor<8x64xf32>
  }
}
