# `--emit executable` (emit_executable.h). The tessera CLI links tessera_emit_executable and
# finds tessera-runner beside itself (both land in ${CMAKE_BINARY_DIR}/bin).
add_library(tessera_emit_executable STATIC ${CMAKE_CURRENT_LIST_DIR}/emit_executable.cpp)
target_include_directories(tessera_emit_executable PUBLIC ${CMAKE_CURRENT_LIST_DIR}
  PRIVATE ${CMAKE_SOURCE_DIR}/runtime/src)
target_link_libraries(tessera_emit_executable PUBLIC tessera_runtime PRIVATE tessera_warnings)
# Build the runner whenever the CLI is built, so `tessera compile --emit executable` finds it.
add_dependencies(tessera tessera-runner)
