# Int8 quantization: kernels bit-exact against references; calibration cores; the pass.
tessera_add_gtest(quant_kernels_test
  SOURCES quant_test_kernels.cpp
  LIBS tessera_kernels_cpu)
if(TESSERA_BUILD_COMPILER)
  tessera_add_gtest(quant_pass_test
    SOURCES quant_test_bias.cpp quant_test_calibration.cpp quant_test_pass.cpp
    LIBS tessera_passes_graph tessera_quantize tessera_runtime)
endif()
