# Checkpoint placement: the chain DP against exhaustive search and the liveness simulation;
# the graph pass (stage extraction, rewrite) on small graphs run through the interpreter.
tessera_add_gtest(checkpoint_test
  SOURCES checkpoint_test_core.cpp checkpoint_test_pass.cpp
  LIBS tessera_passes_graph tessera_passes_core tessera_autodiff)
