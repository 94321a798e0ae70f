# CUDA backend tests (only with -DTESSERA_BUILD_CUDA=ON; they skip without a GPU).
tessera_add_gtest(cuda_kernels_test
  SOURCES cuda_kernels_test.cpp cuda_train_test.cpp
  LIBS tessera_kernels_cuda tessera_kernels_cpu CUDA::cudart CUDA::cublasLt)
target_include_directories(cuda_kernels_test PRIVATE ${CMAKE_SOURCE_DIR}/kernels)

# The quantized ops (static and per-token) against the CPU kernels, bit for bit; its own binary
# so a quantization change builds and runs it alone (benchmarks/cuda/device_check.sh runs it).
tessera_add_gtest(cuda_quant_test
  SOURCES cuda_quant_test.cpp
  LIBS tessera_kernels_cuda tessera_kernels_cpu CUDA::cudart CUDA::cublasLt)
target_include_directories(cuda_quant_test PRIVATE ${CMAKE_SOURCE_DIR}/kernels)

# FusedAttention(Grad) against a float64 reference; its own binary (the gpt2- and bert-sized
# cases take seconds), run by benchmarks/cuda/device_check.sh.
tessera_add_gtest(cuda_attention_test
  SOURCES cuda_attention_test.cpp cuda_attention_ref.cpp
  LIBS tessera_kernels_cuda tessera_kernels_cpu CUDA::cudart CUDA::cublasLt)
target_include_directories(cuda_attention_test PRIVATE ${CMAKE_SOURCE_DIR}/kernels)

# bf16 GEMM benchmark (benchmarks/cuda/gemm_bench.cpp), run by benchmarks/cuda/device_check.sh.
add_executable(cuda_gemm_bench ${CMAKE_SOURCE_DIR}/benchmarks/cuda/gemm_bench.cpp)
target_link_libraries(cuda_gemm_bench PRIVATE tessera_kernels_cuda CUDA::cudart CUDA::cublasLt
  tessera_warnings)

# FusedAttention(Grad) timing at gpt2-124m's training size (benchmarks/cuda/attention_bench.cpp),
# run by benchmarks/cuda/device_check.sh.
add_executable(cuda_attention_bench ${CMAKE_SOURCE_DIR}/benchmarks/cuda/attention_bench.cpp)
target_link_libraries(cuda_attention_bench PRIVATE tessera_kernels_cuda CUDA::cudart CUDA::cublasLt
  tessera_warnings)

# Whole-plan benchmark with random weights (benchmarks/cuda/plan_bench.cpp), run by
# benchmarks/cuda/bert_bench.sh against PyTorch in the same call.
add_executable(cuda_plan_bench ${CMAKE_SOURCE_DIR}/benchmarks/cuda/plan_bench.cpp)
target_link_libraries(cuda_plan_bench PRIVATE tessera_runtime CUDA::cudart tessera_warnings)

# Int8 Linear against bf16 Linear (benchmarks/cuda/int8_bench.cpp), run by
# benchmarks/cuda/int8_bench.sh.
add_executable(cuda_int8_bench ${CMAKE_SOURCE_DIR}/benchmarks/cuda/int8_bench.cpp)
target_link_libraries(cuda_int8_bench PRIVATE tessera_kernels_cuda CUDA::cudart CUDA::cublasLt
  tessera_warnings)

# An application's own NCCL communicator handed to a session (benchmarks/cuda/
# nccl_handoff_check.cpp), run by benchmarks/cuda/device_check.sh under mpirun.
if(MPI_CXX_FOUND)
  add_executable(cuda_nccl_handoff_check ${CMAKE_SOURCE_DIR}/benchmarks/cuda/nccl_handoff_check.cpp)
  target_link_libraries(cuda_nccl_handoff_check PRIVATE tessera_runtime CUDA::cudart
    ${NCCL_LIBRARY} MPI::MPI_CXX tessera_warnings)
endif()

# CPU-only: the flash attention kernels' ldmatrix / mma.m16n8k16 lane mappings
# (kernels/cuda/flash_layout.h) emulated on the host against plain matmuls; needs no GPU.
tessera_add_gtest(flash_layout_test SOURCES flash_layout_test.cpp)
