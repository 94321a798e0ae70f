# `cmake --install build --prefix P` gives an application what it needs to embed the runtime:
#   P/include/tessera/*.h            public headers (C++ runtime.h, C tessera_c.h)
#   P/include/tessera/schema/*.pb.h  generated plan schema (plan_file.h exposes plan::Plan)
#   P/lib/libtessera_*.a             the runtime and its static dependencies
#   P/bin/tessera-runner             the runner `--emit executable` appends plans to
#   P/lib/cmake/Tessera/             find_package(Tessera) -> Tessera::runtime
# The libraries are static (PIC), so every static dependency is exported too; the shared ones
# (protobuf, MPI, BLAS) are found again by TesseraConfig.cmake on the application's side.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(tessera_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(tessera_base PROPERTIES EXPORT_NAME base)
set_target_properties(tessera_schema PROPERTIES EXPORT_NAME schema)
set_target_properties(tessera_kernels_cpu PROPERTIES EXPORT_NAME kernels_cpu)
# tessera_warnings is only a LINK_ONLY dependency of the static libraries once exported: it
# carries no flags to the application, but CMake needs it in the export set.
set_target_properties(tessera_warnings PROPERTIES EXPORT_NAME internal_warnings)

install(TARGETS tessera_runtime tessera_base tessera_schema tessera_kernels_cpu tessera_warnings
  EXPORT TesseraTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS tessera-runner RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/runtime/include/tessera
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/runtime/plan.pb.h ${CMAKE_BINARY_DIR}/runtime/tensor.pb.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tessera/schema)

install(EXPORT TesseraTargets NAMESPACE Tessera::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tessera)
set(TESSERA_INSTALL_WITH_MPI ${MPI_CXX_FOUND})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/TesseraConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/TesseraConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tessera PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/TesseraConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/TesseraConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/TesseraConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Tessera)
