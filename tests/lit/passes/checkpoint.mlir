// RUN: tessera-opt %s -tessera-checkpoint -split-input-file -verify-diagnostics | FileCheck %s

// sqrt-n on a 3-stage chain: the forward Tanh nodes are replayed right before the first
// backward node that reads them, and the backward reads the replayed values (the original t2,
// read only by the backward, is then dead and pruned).
// CHECK-LABEL: func.func @main
// CHECK: tessera.Tanh {{.*}}name = "t1"
// CHECK-NOT: name = "t2"
// CHECK: %[[R:.*]] = tessera.Tanh {{.*}}name = "t2/recompute"
// CHECK: tessera.Mul %[[R]], %[[R]] {name = "grad/a"}
// CHECK: %[[R0:.*]] = tessera.Tanh %arg0 {name = "t0/recompute"}
// CHECK: tessera.Mul %{{.*}}, %[[R0]] {name = "grad/c"
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.mode = "train", tessera.checkpoint = "sqrt-n"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Tanh %x {name = "t0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Tanh %0 {name = "t1"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %2 = tessera.Tanh %1 {name = "t2"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %3 = tessera.Mul %2, %2 {name = "grad/a"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %4 = tessera.Mul %3, %1 {name = "grad/b"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    %5 = tessera.Mul %4, %0 {name = "grad/c"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    return %5 : tensor<4x8xf32>
  }
}

// -----

// An unknown mode is an error.
// expected-error @+1 {{mode 'sometimes'}}
module attributes {tessera.mesh = "", tessera.cluster = "cpu", tessera.mode = "train", tessera.checkpoint = "sometimes"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %0 = tessera.Tanh %x {name = "t0"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Mul %0, %0 {name = "grad/a"} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
    return %1 : tensor<4x8xf32>
  }
}
