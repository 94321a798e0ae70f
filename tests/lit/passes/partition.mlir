// RUN: tessera-opt %s -tessera-partition -split-input-file -verify-diagnostics | FileCheck %s

// Local shapes follow the specs, and Reshape's target shape becomes the local one.
// CHECK-LABEL: func.func @main
// CHECK-SAME: tensor<2x8xf32>
// CHECK: tessera.Reshape {{.*}}shape = [:i64 2, 2, 4]{{.*}} : (tensor<2x8xf32>) -> tensor<2x2x4xf32>
module attributes {tessera.mesh = "dp=2", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x", tessera.sharding = "[{dp}, {}]"}) -> (tensor<4x2x4xf32> {tessera.name = "y"}) {
    %0 = tessera.Reshape %x {name = "r", shape = [:i64 4, 2, 4], sharding = ["[{dp}, {}, {}]"]} : (tensor<4x8xf32>) -> tensor<4x2x4xf32>
    return %0 : tensor<4x2x4xf32>
  }
}

// -----

// A spec that does not divide the dim is an error naming the tensor.
// expected-error @+1 {{tensor 'x'}}
module attributes {tessera.mesh = "dp=4", tessera.cluster = "cpu"} {
  func.func @main(%x: tensor<6x8xf32> {tessera.name = "x", tessera.sharding = "[{dp}, {}]"}) -> (tensor<6x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Relu %x {name = "r", sharding = ["[{dp}, {}]"]} : (tensor<6x8xf32>) -> tensor<6x8xf32>
    return %0 : tensor<6x8xf32>
  }
}
