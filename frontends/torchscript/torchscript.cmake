# TorchScript frontend (docs/torchscript.md): our own zip + pickle + TorchScript readers, zlib for
# deflated code entries; no libtorch. Compiler-side only: the runtime never links it.
find_package(ZLIB REQUIRED)
add_library(tessera_torchscript STATIC
  torchscript/zip_reader.cpp
  torchscript/pickle.cpp
  torchscript/ts_lexer.cpp
  torchscript/ts_parser.cpp
  torchscript/archive.cpp
  torchscript/archive_code.cpp
  torchscript/ts_builder.cpp
  torchscript/ts_values.cpp
  torchscript/ts_builtins.cpp
  torchscript/ts_eval.cpp
  torchscript/aten_table.cpp
  torchscript/aten_math.cpp
  torchscript/aten_nn.cpp
  torchscript/aten_attention.cpp
  torchscript/aten_shape.cpp
  torchscript/aten_index.cpp
  torchscript/aten_create.cpp
  torchscript/torchscript_import.cpp
)
target_include_directories(tessera_torchscript PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(tessera_torchscript PUBLIC tessera_ir_core PRIVATE tessera_kernels_cpu
  ZLIB::ZLIB fmt::fmt tessera_warnings)
