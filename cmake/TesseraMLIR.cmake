# Common settings for targets that include MLIR/LLVM headers: include dirs, the LLVM flags, and a
# shared precompiled header (ir/mlir_pch.h) so each such file does not reparse MLIR (≈10 s each).
function(tessera_mlir_target tgt)
  target_include_directories(${tgt} SYSTEM PUBLIC ${MLIR_INCLUDE_DIRS} ${LLVM_INCLUDE_DIRS})
  target_compile_definitions(${tgt} PUBLIC ${LLVM_DEFINITIONS})
  target_compile_options(${tgt} PRIVATE -fno-rtti)
  target_precompile_headers(${tgt} REUSE_FROM tessera_mlir_pch)
endfunction()
