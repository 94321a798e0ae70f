# SPMD algorithm cores: mesh, profiles, specs, cost model, resharding, rules, solver.
tessera_add_gtest(spmd_test
  SOURCES
    spmd_mesh_test.cpp
    spmd_spec_test.cpp
    spmd_cost_test.cpp
    spmd_reshard_test.cpp
    spmd_rules_test.cpp
    spmd_solver_test.cpp
    spmd_train_rules_test.cpp
  LIBS tessera_passes_core)
