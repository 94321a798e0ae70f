// RUN: tessera-opt %s -split-input-file -verify-diagnostics

func.func @main(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{MatMul}}
  %0 = tessera.MatMul %a, %b {name = "bad_mm"} : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @main(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{inference gives}}
  %0 = tessera.Relu %a {name = "r"} : (tensor<2x3xf32>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @main(%a: tensor<?x3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{statically shaped}}
  %0 = tessera.Relu %a {name = "r"} : (tensor<?x3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
