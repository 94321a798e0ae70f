# Runtime tests. runtime_test: plan file, tensor I/O, layout/comm, session (one rank).
tessera_add_gtest(runtime_test
  SOURCES runtime_plan_file_test.cpp runtime_tensor_io_test.cpp runtime_comm_test.cpp
          runtime_session_test.cpp runtime_tcp_test.cpp runtime_launcher_test.cpp
          runtime_nccl_handoff_test.cpp
  LIBS tessera_runtime tessera_kernels_cpu)

# Collectives on a 2x2 mesh over MPI: every collective kind, single- and multi-axis groups.
if(MPI_CXX_FOUND)
  add_executable(runtime_mpi_check runtime_mpi_check.cpp)
  target_link_libraries(runtime_mpi_check PRIVATE tessera_runtime tessera_warnings)
  target_include_directories(runtime_mpi_check PRIVATE ${CMAKE_SOURCE_DIR})
  set(_tsr_mpiexec ${MPIEXEC_EXECUTABLE})
  if(NOT _tsr_mpiexec)
    set(_tsr_mpiexec mpirun)
  endif()
  add_test(NAME runtime_mpi_check
    COMMAND ${_tsr_mpiexec} --oversubscribe --allow-run-as-root ${MPIEXEC_NUMPROC_FLAG} 4
            $<TARGET_FILE:runtime_mpi_check>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(runtime_mpi_check PROPERTIES TIMEOUT 120)
  # The same checks over the TCP communicator: 4 processes with torchrun's variables, no MPI.
  add_test(NAME runtime_tcp_check
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cluster/torchrun_local.sh 4
            $<TARGET_FILE:runtime_mpi_check>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(runtime_tcp_check PROPERTIES TIMEOUT 120 PROCESSORS 4)
  # A launcher claim MPI cannot meet must fail loudly, never run as a silent singleton. (PMIx
  # present: MPI's path; torchrun's variables alone take the TCP path, tested in runtime_test.)
  add_test(NAME runtime_launcher_mismatch
    COMMAND ${CMAKE_COMMAND} -E env WORLD_SIZE=3 RANK=0 PMIX_RANK=0 $<TARGET_FILE:runtime_mpi_check>
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(runtime_launcher_mismatch PROPERTIES TIMEOUT 60
    PASS_REGULAR_EXPRESSION "launcher \\(torchrun\\) says 3 ranks, MPI sees 1")
endif()
