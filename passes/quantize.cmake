# Int8 quantization: calibration cores (plain C++) and the quantize stage. Needs the reference
# interpreter (tessera_autodiff) and TensorProto reading (tessera_runtime) for calibration data.
add_library(tessera_quantize STATIC
  core/bias_correction.cpp
  core/calibration.cpp
  core/calibrate_run.cpp
  quantize.cpp
)
target_include_directories(tessera_quantize PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(tessera_quantize PUBLIC tessera_ir_core tessera_autodiff tessera_passes_core
  PRIVATE tessera_runtime tessera_warnings)
