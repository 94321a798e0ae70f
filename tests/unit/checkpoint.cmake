# Checkpoint placement: the chain DP against exhaustive search and the liveness simulation;
# the graph pass (stage extraction, rewrite) on small graphs run through the interpreter.
tessera_add_gtest(checkpoint_test
  SOURCES checkpoint_test_core.cpp checkpoint_test_pass.cpp checkpoint_test_inplace.cpp
  LIBS tessera_passes_graph tessera_passes_core tessera_autodiff)

# Checkpointed training steps equal plain ones on the tiny models (1 and 4 ranks), and the
# planned peak stays within 5% of the measured arena and never below it.
add_test(NAME checkpoint_e2e
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/checkpoint_e2e.sh ${CMAKE_BINARY_DIR}
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(checkpoint_e2e PROPERTIES PROCESSORS 4 TIMEOUT 900)
