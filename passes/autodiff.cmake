# Training: autodiff core (plain C++), the reference interpreter, the training ops' shape
# inference (ir/train_ops.cpp, until find_op consults it from tessera_ir_core) and the stage
# adapter. Kept in one library so the stage can be linked before the lead folds it in.
add_library(tessera_autodiff STATIC
  core/autodiff.cpp
  core/autodiff_autocast.cpp
  core/autodiff_builder.cpp
  core/autodiff_rules.cpp
  core/autodiff_rules_math.cpp
  core/autodiff_rules_nn.cpp
  core/autodiff_rules_batchnorm.cpp
  core/autodiff_rules_shape.cpp
  core/autodiff_train.cpp
  core/autodiff_train_forward.cpp
  core/interpreter.cpp
  autodiff.cpp
)
target_include_directories(tessera_autodiff PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(tessera_autodiff PUBLIC tessera_ir_core tessera_kernels_cpu
  PRIVATE fmt::fmt tessera_warnings)
