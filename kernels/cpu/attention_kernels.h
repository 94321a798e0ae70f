// CPU kernels of the fused attention ops (docs/ops.md, "Attention ops"): FusedAttention and
// FusedAttentionGrad. One explicit table, sorted by op name, consulted by find_cpu_kernel after
// the forward, training and quantized tables. Both kernels take bf16/f16 storage themselves
// (run_cpu_kernel does not widen them) so that scores and probabilities are rounded to the
// 16-bit dtype where the unfused 16-bit graph rounds them.
#pragma once
#include <string_view>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels {

const std::vector<KernelEntry>& cpu_attention_kernel_table();
// nullptr when the op is not an attention op.
KernelFn find_cpu_attention_kernel(std::string_view op);

namespace cpu {

Status FusedAttention(const AttrMap& attrs, const std::vector<TensorRef>& in,
                      const std::vector<TensorRef>& out);
Status FusedAttentionGrad(const AttrMap& attrs, const std::vector<TensorRef>& in,
                          const std::vector<TensorRef>& out);

}  // namespace cpu
}  // namespace tessera::kernels
