// RUN: rm -rf %t && quant_data gen normal 4x8 %t/calib 2 7
// RUN: sed 's|@CALIB@|%t/calib|' %s | tessera-opt -tessera-quantize -split-input-file -verify-diagnostics | FileCheck %s

// The middle MatMul becomes QuantizeI8 + QMatMulI8 reading an int8 [N,K] weight (K-contiguous)
// and its per-channel scales, plus the bias that bias correction computes; the first and last
// layers stay float. Per-tensor activation scales here (auto would measure and, on this input,
// pick per-token: the last case).
// CHECK-LABEL: func.func @main
// CHECK: tessera.MatMul {{.*}}name = "first"
// CHECK: tessera.QuantizeI8 {{.*}}scale = {{.*}} : (tensor<4x8xf32>) -> tensor<4x8xi8>
// CHECK: tessera.QMatMulI8 {{.*}}name = "mid"{{.*}}x_scale = {{.*}} : (tensor<4x8xi8>, tensor<6x8xi8>, tensor<6xf32>, tensor<6xf32>) -> tensor<4x6xf32>
// CHECK: tessera.MatMul {{.*}}name = "last"
module attributes {tessera.quantize = "int8", tessera.calibration = "@CALIB@", tessera.activation_scales = "tensor"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x4xf32> {tessera.name = "y"}) {
    %w0 = tessera.weight {name = "w0", value = dense<0.1> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %0 = tessera.MatMul %x, %w0 {name = "first"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Tanh %0 {name = "t"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %w1 = tessera.weight {name = "w1", value = dense<0.25> : tensor<8x6xf32>} : () -> tensor<8x6xf32>
    %2 = tessera.MatMul %1, %w1 {name = "mid"} : (tensor<4x8xf32>, tensor<8x6xf32>) -> tensor<4x6xf32>
    %w2 = tessera.weight {name = "w2", value = dense<0.5> : tensor<6x4xf32>} : () -> tensor<6x4xf32>
    %3 = tessera.MatMul %2, %w2 {name = "last"} : (tensor<4x6xf32>, tensor<6x4xf32>) -> tensor<4x4xf32>
    return %3 : tensor<4x4xf32>
  }
}

// -----

// Calibration data is required; a missing directory is an error on the module.
// expected-error @+1 {{calibration directory}}
module attributes {tessera.quantize = "int8", tessera.calibration = "/nonexistent/calib"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x8xf32> {tessera.name = "y"}) {
    %w0 = tessera.weight {name = "w0", value = dense<0.1> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %0 = tessera.MatMul %x, %w0 {name = "a"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.MatMul %0, %w0 {name = "b"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %2 = tessera.MatMul %1, %w0 {name = "c"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    return %2 : tensor<4x8xf32>
  }
}

// -----

// A post-ReLU activation is one-sided: it gets the asymmetric grid (zero point -128, all 256
// codes over [0, max]) and the layer the exact int32 correction acc_offset = -zp * sum_k w[n,k]
// as input 4; bias correction gives the bias-less MatMul a bias (input 3).
// CHECK-LABEL: func.func @main
// CHECK: tessera.QuantizeI8 {{.*}}zero_point = -128 : i64} : (tensor<4x8xf32>) -> tensor<4x8xi8>
// CHECK: tessera.weight {name = "relu_mid.w1.acc_offset"} : () -> tensor<6xi32>
// CHECK: tessera.QMatMulI8 {{.*}}x_zero_point = -128 : i64} : (tensor<4x8xi8>, tensor<6x8xi8>, tensor<6xf32>, tensor<6xf32>, tensor<6xi32>) -> tensor<4x6xf32>
module attributes {tessera.quantize = "int8", tessera.calibration = "@CALIB@", tessera.activation_scales = "tensor"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x4xf32> {tessera.name = "y"}) {
    %w0 = tessera.weight {name = "w0", value = dense<0.1> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %0 = tessera.MatMul %x, %w0 {name = "first"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Relu %0 {name = "r"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %w1 = tessera.weight {name = "w1", value = dense<0.25> : tensor<8x6xf32>} : () -> tensor<8x6xf32>
    %2 = tessera.MatMul %1, %w1 {name = "relu_mid"} : (tensor<4x8xf32>, tensor<8x6xf32>) -> tensor<4x6xf32>
    %w2 = tessera.weight {name = "w2", value = dense<0.5> : tensor<6x4xf32>} : () -> tensor<6x4xf32>
    %3 = tessera.MatMul %2, %w2 {name = "last"} : (tensor<4x6xf32>, tensor<6x4xf32>) -> tensor<4x4xf32>
    return %3 : tensor<4x4xf32>
  }
}

// -----

// Per-token activation scales: QuantizeI8 per_token=1 writes the int8 codes and one f32 scale per
// row (max|row| / 127 at run time, no static scale); QMatMulI8 per_token=1 reads the row scales
// as input 5 (acc_offset's slot 4 absent: per-token grids are symmetric).
// CHECK-LABEL: func.func @main
// CHECK: tessera.QuantizeI8 {{.*}}per_token = 1 : i64} : (tensor<4x8xf32>) -> (tensor<4x8xi8>, tensor<4xf32>)
// CHECK: tessera.QMatMulI8 {{.*}}absent_inputs = [:i64 4]{{.*}}name = "tok_mid", per_token = 1 : i64} : (tensor<4x8xi8>, tensor<6x8xi8>, tensor<6xf32>, tensor<6xf32>, tensor<4xf32>) -> tensor<4x6xf32>
// CHECK-NOT: x_scale
// CHECK: tessera.MatMul {{.*}}name = "last"
module attributes {tessera.quantize = "int8", tessera.calibration = "@CALIB@", tessera.activation_scales = "token"} {
  func.func @main(%x: tensor<4x8xf32> {tessera.name = "x"}) -> (tensor<4x4xf32> {tessera.name = "y"}) {
    %w0 = tessera.weight {name = "w0", value = dense<0.1> : tensor<8x8xf32>} : () -> tensor<8x8xf32>
    %0 = tessera.MatMul %x, %w0 {name = "first"} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
    %1 = tessera.Tanh %0 {name = "t"} : (tensor<4x8xf32>) -> tensor<4x8xf32>
    %w1 = tessera.weight {name = "w1", value = dense<0.25> : tensor<8x6xf32>} : () -> tensor<8x6xf32>
    %2 = tessera.MatMul %1, %w1 {name = "tok_mid"} : (tensor<4x8xf32>, tensor<8x6xf32>) -> tensor<4x6xf32>
    %w2 = tessera.weight {name = "w2", value = dense<0.5> : tensor<6x4xf32>} : () -> tensor<6x4xf32>
    %3 = tessera.MatMul %2, %w2 {name = "last"} : (tensor<4x6xf32>, tensor<6x4xf32>) -> tensor<4x4xf32>
    return %3 : tensor<4x4xf32>
  }
}
