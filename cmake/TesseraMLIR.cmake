# Common settings for targets that include MLIR/LLVM headers: include dirs, the LLVM flags, and a
# shared precompiled header (ir/mlir_pch.h) so each such file does not reparse MLIR (≈10 s each).
function(tessera_mlir_target tgt)
  target_include_directories(${tgt} SYSTEM PUBLIC ${MLIR_INCLUDE_DIRS} ${LLVM_INCLUDE_DIRS})
  target_compile_definitions(${tgt} PUBLIC ${LLVM_DEFINITIONS})
  target_compile_options(${tgt} PRIVATE -fno-rtti)
  get_target_property(type ${tgt} TYPE)
  if(type STREQUAL "EXECUTABLE")
    # Executables would get -fPIE, which the PCH (built -fPIC) refuses; -fPIC objects link
    # into a PIE just as well.
    set_target_properties(${tgt} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
    target_compile_options(${tgt} PRIVATE -fPIC)
  endif()
  target_precompile_headers(${tgt} REUSE_FROM tessera_mlir_pch)
endfunction()
