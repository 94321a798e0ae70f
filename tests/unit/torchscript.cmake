# TorchScript frontend: real traced archives against their reference outputs, malformed archives,
# and the reader units (zip, pickle, parser, converter table).
tessera_add_gtest(torchscript_test
  SOURCES torchscript_test_models.cpp torchscript_test_errors.cpp torchscript_test_units.cpp
  LIBS tessera_torchscript tessera_ir_core tessera_kernels_cpu tessera_runtime fmt::fmt)
