// Internal to autodiff: the gradient rule interface and the one table of rules
// (autodiff_rules.cpp). A rule reads the forward node and the gradients of its outputs and
// sets dx[i] for each differentiable input it can reach; inputs it leaves at -1 get nothing
// (indices, masks, running statistics).
#pragma once
#include <string_view>
#include <vector>

#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"

namespace tessera::autodiff {

struct GradCall {
  Builder& b;
  const ir::Node& n;       // the forward node (a copy: the graph grows while rules run)
  std::vector<int> dy;     // gradient per output, -1 where none reached it
  std::vector<bool> need;  // per input: does some weight want a gradient through it
  std::vector<int> dx;     // per input, set by the rule
  const TrainOptions& opts;

  int in(size_t i) const { return i < n.inputs.size() ? n.inputs[i] : -1; }
  int out(size_t i) const { return n.outputs[i]; }
  Shape shape_in(size_t i) const { return b.shape(in(i)); }
  bool wants(size_t i) const { return i < need.size() && need[i]; }
};

using GradFn = void (*)(GradCall& c);

// nullptr when the op has no rule (the caller reports it only if a gradient must pass).
GradFn find_grad_rule(std::string_view op);
// The table's op names in table order (tests check it is sorted and covers docs/ops.md).
std::vector<std::string_view> grad_rule_ops();

#define TSR_GRAD_RULE(name) void name(GradCall& c)
// autodiff_rules_math.cpp
TSR_GRAD_RULE(grad_add);
TSR_GRAD_RULE(grad_sub);
TSR_GRAD_RULE(grad_mul);
TSR_GRAD_RULE(grad_div);
TSR_GRAD_RULE(grad_pow);
TSR_GRAD_RULE(grad_sqrt);
TSR_GRAD_RULE(grad_reciprocal);
TSR_GRAD_RULE(grad_neg);
TSR_GRAD_RULE(grad_exp);
TSR_GRAD_RULE(grad_log);
TSR_GRAD_RULE(grad_erf);
TSR_GRAD_RULE(grad_tanh);
TSR_GRAD_RULE(grad_sigmoid);
TSR_GRAD_RULE(grad_relu);
TSR_GRAD_RULE(grad_leaky_relu);
TSR_GRAD_RULE(grad_gelu);
TSR_GRAD_RULE(grad_max);
TSR_GRAD_RULE(grad_min);
TSR_GRAD_RULE(grad_clip);
TSR_GRAD_RULE(grad_where);
TSR_GRAD_RULE(grad_identity);
TSR_GRAD_RULE(grad_cast);
// autodiff_rules_nn.cpp
TSR_GRAD_RULE(grad_matmul);
TSR_GRAD_RULE(grad_gemm);
TSR_GRAD_RULE(grad_conv);
TSR_GRAD_RULE(grad_max_pool);
TSR_GRAD_RULE(grad_average_pool);
TSR_GRAD_RULE(grad_global_average_pool);
TSR_GRAD_RULE(grad_batch_norm);
TSR_GRAD_RULE(grad_dropout);
TSR_GRAD_RULE(grad_layer_norm);
TSR_GRAD_RULE(grad_softmax);
TSR_GRAD_RULE(grad_log_softmax);
TSR_GRAD_RULE(grad_softmax_cross_entropy);
TSR_GRAD_RULE(grad_fused_attention);
// autodiff_rules_batchnorm.cpp
TSR_GRAD_RULE(grad_batch_norm_apply);
// autodiff_rules_shape.cpp
TSR_GRAD_RULE(grad_reshape_like);  // Reshape Flatten Squeeze Unsqueeze
TSR_GRAD_RULE(grad_transpose);
TSR_GRAD_RULE(grad_expand);
TSR_GRAD_RULE(grad_concat);
TSR_GRAD_RULE(grad_split);
TSR_GRAD_RULE(grad_slice);
TSR_GRAD_RULE(grad_gather);
TSR_GRAD_RULE(grad_gather_elements);
TSR_GRAD_RULE(grad_reduce_sum);
TSR_GRAD_RULE(grad_reduce_mean);
#undef TSR_GRAD_RULE

}  // namespace tessera::autodiff
