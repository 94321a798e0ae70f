# Plan emission: arena aliasing of reshape-like ops (offsets, lifetimes, the CPU session on an
# aliased plan, agreement with the checkpoint and chunk memory models).
tessera_add_gtest(compiler_test
  SOURCES compiler_alias_test.cpp
  LIBS tessera_emit tessera_passes_graph tessera_passes_core tessera_autodiff tessera_runtime
       tessera_kernels_cpu)
