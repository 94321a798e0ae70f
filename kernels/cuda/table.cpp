// The CUDA kernel table: one explicit list sorted by op name (checked by cuda_kernels_test),
// looked up by binary search. Ops missing here are reported by name when a CUDA session is
// created, never at run time.
#include <algorithm>

#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {

const std::vector<CudaKernelEntry>& cuda_kernel_table() {
  static const std::vector<CudaKernelEntry> table = {
      {"Abs", Abs},
      {"AdamW", AdamW},
      {"Add", Add},
      {"BatchNormApply", BatchNormApply},
      {"BatchNormGradInput", BatchNormGradInput},
      {"BatchNormGradStats", BatchNormGradStats},
      {"BatchNormRunningUpdate", BatchNormRunningUpdate},
      {"BatchNormStats", BatchNormStats},
      {"BatchNormalization", BatchNormalization},
      {"Cast", Cast},
      {"Concat", Concat},
      {"Conv", Conv},
      {"ConvGradWeight", ConvGradWeight},
      {"ConvTranspose", ConvTranspose},
      {"DequantizeI8", DequantizeI8},
      {"Div", Div},
      {"Dropout", Dropout},
      {"Erf", Erf},
      {"Exp", Exp},
      {"Expand", Expand},
      {"Flatten", Reshape},
      {"FusedAttention", FusedAttention},
      {"FusedAttentionGrad", FusedAttentionGrad},
      {"Gather", Gather},
      {"GatherGrad", GatherGrad},
      {"Gelu", Gelu},
      {"GeluGrad", GeluGrad},
      {"Gemm", Gemm},
      {"GlobalAveragePool", GlobalAveragePool},
      {"Identity", Identity},
      {"LayerNormalization", LayerNormalization},
      {"LayerNormalizationGrad", LayerNormalizationGrad},
      {"LeakyRelu", LeakyRelu},
      {"Log", Log},
      {"LogSoftmax", LogSoftmax},
      {"MatMul", MatMul},
      {"Max", Max},
      {"MaxPool", MaxPool},
      {"MaxPoolGrad", MaxPoolGrad},
      {"Min", Min},
      {"Mul", Mul},
      {"Neg", Neg},
      {"Pow", Pow},
      {"QConvI8", QConvI8},
      {"QMatMulI8", QMatMulI8},
      {"QuantizeI8", QuantizeI8},
      {"Reciprocal", Reciprocal},
      {"ReduceMax", ReduceMax},
      {"ReduceMean", ReduceMean},
      {"ReduceMin", ReduceMin},
      {"ReduceSum", ReduceSum},
      {"Relu", Relu},
      {"ReluGrad", ReluGrad},
      {"Reshape", Reshape},
      {"SGD", SGD},
      {"Sigmoid", Sigmoid},
      {"Slice", Slice},
      {"Softmax", Softmax},
      {"SoftmaxCrossEntropyGrad", SoftmaxCrossEntropyGrad},
      {"SoftmaxCrossEntropyLoss", SoftmaxCrossEntropyLoss},
      {"Split", Split},
      {"Sqrt", Sqrt},
      {"Squeeze", Reshape},
      {"Sub", Sub},
      {"Tanh", Tanh},
      {"Transpose", Transpose},
      {"Unsqueeze", Reshape},
      {"Where", Where},
  };
  return table;
}

CudaKernelFn find_cuda_kernel(std::string_view op) {
  const auto& t = cuda_kernel_table();
  auto it = std::lower_bound(
      t.begin(), t.end(), op,
      [](const CudaKernelEntry& e, std::string_view o) { return std::string_view(e.op) < o; });
  return it != t.end() && std::string_view(it->op) == op ? it->fn : nullptr;
}

Status run_cuda_kernel(CudaContext& ctx, std::string_view op, const AttrMap& attrs,
                       const std::vector<TensorRef>& in, const std::vector<TensorRef>& out) {
  CudaKernelFn fn = find_cuda_kernel(op);
  if (fn == nullptr) return Unimplemented("no CUDA kernel for op '" + std::string(op) + "'");
  Status s = fn(ctx, attrs, in, out);
  if (s.ok()) return s;
  return Status(s.code(), std::string(op) + ": " + s.message());
}

}  // namespace tessera::kernels::cuda
