// RUN: tessera-opt %s -tessera-reshard -split-input-file | FileCheck %s

// A row-sharded producer feeding a consumer that wants it whole: one all-gather; the graph
// output is made replicated too.
// CHECK-LABEL: func.func @main
// CHECK: %[[R:.*]] = tessera.Relu
// CHECK: %[[G:.*]] = tessera.AllGather %[[R]] {axes = ["dp"], dim = 0 : i64
// CHECK: tessera.Neg %[[G]]
module attributes {tessera.mesh = "dp=2", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x", tessera.sharding = "[{dp}, {}]"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r", in_shardings = ["[{dp}, {}]"], sharding = ["[{dp}, {}]"]} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Neg %0 {name = "n", in_shardings = ["[{}, {}]"], sharding = ["[{}, {}]"]} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    return %1 : tensor<4x8xf32>
  }
}

// -----

// A partial sum wanted replicated: all-reduce.
// CHECK-LABEL: func.func @main
// CHECK: tessera.AllReduce {{.*}}axes = ["tp"]
module attributes {tessera.mesh = "tp=2", tessera.cluster = "cpu"} {
  func.func @main(%a: tensor<4x8xf32> {tessera.name = "a", tessera.sharding = "[{}, {tp}]"}, %b: tensor<8x4xf32> {tessera.name = "b", tessera.sharding = "[{tp}, {}]"}) -> (tensor<4x4xf32> {tessera.name = "y"}) {
    %0 = tessera.MatMul %a, %b {name = "mm", in_shardings = ["[{}, {tp}]", "[{tp}, {}]"], sharding = ["[{}, {}] partial{tp}"]} : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
    return %0 : tensor<4x4xf32>
  }
}
