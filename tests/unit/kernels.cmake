# CPU reference kernels: op cases against float64 references written in the tests.
tessera_add_gtest(kernels_test
  SOURCES
    kernels_test_util.cpp
    kernels_test_elementwise.cpp
    kernels_test_linalg.cpp
    kernels_test_nn.cpp
    kernels_test_shape.cpp
    kernels_test_16bit.cpp
    kernels_test_mixed.cpp
    kernels_test_batchnorm.cpp
    # Fused attention against a float64 unfused reference (kernels_attention_ref.cpp).
    kernels_attention_ref.cpp
    kernels_test_attention.cpp
    kernels_test_attention_grad.cpp
    kernels_test_attention_layout.cpp
    # Independent cross-checks by a second author (same API, own float64 references).
    kernels_test_xcheck_ew.cpp
    kernels_test_xcheck_linalg.cpp
    kernels_test_xcheck_nn.cpp
    kernels_test_xcheck_random.cpp
    kernels_test_xcheck_robust.cpp
    kernels_test_xcheck_shape.cpp
  LIBS tessera_kernels_cpu)
