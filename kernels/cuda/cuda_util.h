// Helpers shared by the CUDA kernels (internal to kernels/cuda): error mapping, launch shapes,
// the fixed-size index descriptors that strided kernels take by value, dtype dispatch, and the
// declarations of every kernel so that table.cpp can list them.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "cpu/kernel_util.h"  // host-side shape checks shared with the CPU kernels
#include "cuda/cuda_kernels.h"

namespace tessera::kernels::cuda {

using Ins = std::vector<TensorRef>;
using cpu::check_arity;
using cpu::check_out_shape;
using cpu::check_same_dtype;

inline Status cuda_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Internal(std::string(what) + ": " + cudaGetErrorString(e));
}
#define TSR_CUDA_RETURN_IF_ERROR(expr) \
  TSR_RETURN_IF_ERROR(::tessera::kernels::cuda::cuda_status((expr), #expr))
// After a launch: configuration errors (grid too large, bad smem) appear here, at once.
#define TSR_CUDA_LAUNCHED() TSR_CUDA_RETURN_IF_ERROR(cudaGetLastError())

constexpr int kThreads = 256;
// Grid for a grid-stride loop over n elements: enough blocks to fill the GPU, no more.
inline unsigned grid_for(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}

// Up to 8 dims, up to 3 operands' element strides; passed by value to kernels (constant bank).
constexpr int kMaxDims = 8;
struct Dims {
  int rank = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[3][kMaxDims] = {};
  int64_t start[3] = {};
};
// Coalesces dims where every operand allows it (cpu::make_row_iter) and packs the result.
Status make_dims(const Shape& shape, const std::vector<std::vector<int64_t>>& strides, Dims* d);

// Element types the float kernels run on: f32, f16, bf16 (computed in f32).
bool is_cuda_float(DType t);

// Calls f(float{}), f(__half{}) or f(__nv_bfloat16{}) for the dtype; defined where used (.cu).
#define TSR_DECLARE_CUDA_KERNEL(name) \
  Status name(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out)

// copy.cu
TSR_DECLARE_CUDA_KERNEL(Identity);
TSR_DECLARE_CUDA_KERNEL(Reshape);
TSR_DECLARE_CUDA_KERNEL(Transpose);
TSR_DECLARE_CUDA_KERNEL(Expand);
TSR_DECLARE_CUDA_KERNEL(Slice);
TSR_DECLARE_CUDA_KERNEL(Split);
TSR_DECLARE_CUDA_KERNEL(Concat);
// elementwise.cu
TSR_DECLARE_CUDA_KERNEL(Add);
TSR_DECLARE_CUDA_KERNEL(Sub);
TSR_DECLARE_CUDA_KERNEL(Mul);
TSR_DECLARE_CUDA_KERNEL(Div);
TSR_DECLARE_CUDA_KERNEL(Pow);
TSR_DECLARE_CUDA_KERNEL(Max);
TSR_DECLARE_CUDA_KERNEL(Min);
TSR_DECLARE_CUDA_KERNEL(Erf);
TSR_DECLARE_CUDA_KERNEL(Tanh);
TSR_DECLARE_CUDA_KERNEL(Relu);
TSR_DECLARE_CUDA_KERNEL(Sigmoid);
TSR_DECLARE_CUDA_KERNEL(Sqrt);
TSR_DECLARE_CUDA_KERNEL(Exp);
TSR_DECLARE_CUDA_KERNEL(Log);
TSR_DECLARE_CUDA_KERNEL(Neg);
TSR_DECLARE_CUDA_KERNEL(Abs);
TSR_DECLARE_CUDA_KERNEL(Reciprocal);
TSR_DECLARE_CUDA_KERNEL(Gelu);
TSR_DECLARE_CUDA_KERNEL(LeakyRelu);
TSR_DECLARE_CUDA_KERNEL(Cast);
TSR_DECLARE_CUDA_KERNEL(Where);
// nn.cu
TSR_DECLARE_CUDA_KERNEL(Softmax);
TSR_DECLARE_CUDA_KERNEL(LogSoftmax);
TSR_DECLARE_CUDA_KERNEL(LayerNormalization);
TSR_DECLARE_CUDA_KERNEL(Gather);
TSR_DECLARE_CUDA_KERNEL(ReduceSum);
TSR_DECLARE_CUDA_KERNEL(ReduceMean);
TSR_DECLARE_CUDA_KERNEL(ReduceMax);
TSR_DECLARE_CUDA_KERNEL(ReduceMin);
// conv.cu (Conv, ConvTranspose, ConvGradWeight through cudnn_conv.cpp when it can)
TSR_DECLARE_CUDA_KERNEL(Conv);
TSR_DECLARE_CUDA_KERNEL(ConvTranspose);
TSR_DECLARE_CUDA_KERNEL(ConvGradWeight);
TSR_DECLARE_CUDA_KERNEL(MaxPoolGrad);
TSR_DECLARE_CUDA_KERNEL(BatchNormalization);
TSR_DECLARE_CUDA_KERNEL(MaxPool);
TSR_DECLARE_CUDA_KERNEL(GlobalAveragePool);
// attention.cpp
TSR_DECLARE_CUDA_KERNEL(FusedAttention);
TSR_DECLARE_CUDA_KERNEL(FusedAttentionGrad);
// gemm.cpp
TSR_DECLARE_CUDA_KERNEL(MatMul);
TSR_DECLARE_CUDA_KERNEL(Gemm);
// batchnorm.cu
TSR_DECLARE_CUDA_KERNEL(BatchNormStats);
TSR_DECLARE_CUDA_KERNEL(BatchNormApply);
TSR_DECLARE_CUDA_KERNEL(BatchNormRunningUpdate);
TSR_DECLARE_CUDA_KERNEL(BatchNormGradStats);
TSR_DECLARE_CUDA_KERNEL(BatchNormGradInput);
// train.cu
TSR_DECLARE_CUDA_KERNEL(SoftmaxCrossEntropyLoss);
TSR_DECLARE_CUDA_KERNEL(SoftmaxCrossEntropyGrad);
TSR_DECLARE_CUDA_KERNEL(LayerNormalizationGrad);
TSR_DECLARE_CUDA_KERNEL(GatherGrad);
TSR_DECLARE_CUDA_KERNEL(ReluGrad);
TSR_DECLARE_CUDA_KERNEL(GeluGrad);
TSR_DECLARE_CUDA_KERNEL(AdamW);
TSR_DECLARE_CUDA_KERNEL(SGD);
TSR_DECLARE_CUDA_KERNEL(Dropout);
// quant_gemm.cpp
TSR_DECLARE_CUDA_KERNEL(QuantizeI8);
TSR_DECLARE_CUDA_KERNEL(DequantizeI8);
TSR_DECLARE_CUDA_KERNEL(QMatMulI8);
TSR_DECLARE_CUDA_KERNEL(QConvI8);

#undef TSR_DECLARE_CUDA_KERNEL

}  // namespace tessera::kernels::cuda
