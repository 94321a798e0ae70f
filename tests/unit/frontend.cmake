# ONNX frontend and ir core: shape inference units, real-model imports, malformed models.
tessera_add_gtest(frontend_test
  SOURCES frontend_test_models.cpp frontend_test_errors.cpp frontend_test_shapes.cpp
  LIBS tessera_onnx tessera_ir_core tessera_kernels_cpu onnx_proto protobuf::libprotobuf)
