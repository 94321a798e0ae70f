# Autodiff, the reference interpreter and the training kernels: finite-difference checks per
# op (float64), gradients of the tiny models against PyTorch, optimizer kernels.
tessera_add_gtest(autodiff_test
  SOURCES autodiff_test_fd.cpp autodiff_test_models.cpp autodiff_test_optim.cpp
    autodiff_test_train_forward.cpp autodiff_test_attention.cpp
  LIBS tessera_autodiff tessera_onnx tessera_ir_core tessera_kernels_cpu tessera_runtime)
