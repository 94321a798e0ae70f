// RUN: tessera-opt %s -split-input-file | FileCheck %s
// RUN: tessera-opt %s -split-input-file | tessera-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @main
// CHECK: tessera.weight {name = "w"}
// CHECK: tessera.MatMul %arg0, %{{.*}} {name = "mm"} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
// CHECK: tessera.Relu
module {
  func.func @main(%arg0: tensor<2x3xf32> {tessera.name = "x"}) -> (tensor<2x4xf32> {tessera.name = "y"}) {
    %0 = tessera.weight {name = "w"} : () -> tensor<3x4xf32>
    %1 = tessera.MatMul %arg0, %0 {name = "mm"} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
    %2 = tessera.Relu %1 {name = "relu"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    return %2 : tensor<2x4xf32>
  }
}

// -----

// CHECK-LABEL: func.func @main
// CHECK: tessera.Reshape {{.*}}shape = [:i64 6]
module {
  func.func @main(%arg0: tensor<2x3xf32>) -> tensor<6xf32> {
    %0 = tessera.Reshape %arg0 {name = "r", shape = [:i64 6]} : (tensor<2x3xf32>) -> tensor<6xf32>
    return %0 : tensor<6xf32>
  }
}
