// CPU kernels of the training ops (docs/ops.md, "Training ops"): loss, gradients the forward
// ops cannot express compactly, optimizer steps. One explicit table, sorted by op name, looked
// up like the forward table (find_cpu_kernel consults both once the lead hooks it in).
#pragma once
#include <string_view>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_train_kernel_table();
// nullptr when the op is not a training op.
KernelFn find_cpu_train_kernel(std::string_view op);

namespace cpu {

#define TSR_DECLARE_TRAIN_KERNEL(name)                                \
  Status name(const AttrMap& attrs, const std::vector<TensorRef>& in, \
              const std::vector<TensorRef>& out)
// train_loss.cpp
TSR_DECLARE_TRAIN_KERNEL(SoftmaxCrossEntropyLoss);
TSR_DECLARE_TRAIN_KERNEL(SoftmaxCrossEntropyGrad);
TSR_DECLARE_TRAIN_KERNEL(ReluGrad);
TSR_DECLARE_TRAIN_KERNEL(GeluGrad);
TSR_DECLARE_TRAIN_KERNEL(LayerNormalizationGrad);
// train_window.cpp
TSR_DECLARE_TRAIN_KERNEL(ConvGradWeight);
TSR_DECLARE_TRAIN_KERNEL(MaxPoolGrad);
TSR_DECLARE_TRAIN_KERNEL(AveragePoolGrad);
// train_index.cpp
TSR_DECLARE_TRAIN_KERNEL(GatherGrad);
TSR_DECLARE_TRAIN_KERNEL(GatherElementsGrad);
// train_dropout.cpp
TSR_DECLARE_TRAIN_KERNEL(Dropout);
// train_batchnorm.cpp
TSR_DECLARE_TRAIN_KERNEL(BatchNormStats);
TSR_DECLARE_TRAIN_KERNEL(BatchNormApply);
TSR_DECLARE_TRAIN_KERNEL(BatchNormRunningUpdate);
TSR_DECLARE_TRAIN_KERNEL(BatchNormGradStats);
TSR_DECLARE_TRAIN_KERNEL(BatchNormGradInput);
// train_optim.cpp
TSR_DECLARE_TRAIN_KERNEL(AdamW);
TSR_DECLARE_TRAIN_KERNEL(SGD);
#undef TSR_DECLARE_TRAIN_KERNEL

// LayerNormalizationGrad's operand checks (dy, x, scale -> dx, dscale[, dbias]), shared with
// the CUDA kernel: *rows x *d is x viewed as rows of the normalised shape.
Status layer_norm_grad_dims(const AttrMap& attrs, const std::vector<TensorRef>& in,
                            const std::vector<TensorRef>& out, int64_t* rows, int64_t* d);

// The BatchNorm training ops' operand checks, shared with the CUDA kernels: x viewed as
// [n, c, s]; count (the global element count per channel), epsilon and momentum attributes.
struct BatchNormDims {
  int64_t n = 0, c = 0, s = 0;
  double count = 0, eps = 1e-5, momentum = 0.9;
};
Status batch_norm_dims(std::string_view op, const AttrMap& attrs, const std::vector<TensorRef>& in,
                       const std::vector<TensorRef>& out, BatchNormDims* d);
// The statistics' dtype for x's: f64 for f64, else f32 (16-bit x keeps f32 sums).
DType batch_norm_stat_dtype(DType x);

}  // namespace cpu
}  // namespace tessera::kernels
