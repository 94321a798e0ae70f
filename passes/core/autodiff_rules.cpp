// The one gradient rule table, keyed by canonical op name and sorted (binary search; a unit
// test checks the order). Adding an op's gradient means adding a line here and a function in
// one of the autodiff_rules_*.cpp files.
#include <algorithm>

#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {
namespace {

struct RuleEntry {
  const char* op;
  GradFn fn;
};

const std::vector<RuleEntry>& rule_table() {
  static const std::vector<RuleEntry> table = {
      {"Add", grad_add},
      {"AveragePool", grad_average_pool},
      {"BatchNormApply", grad_batch_norm_apply},
      {"BatchNormalization", grad_batch_norm},
      {"Cast", grad_cast},
      {"Clip", grad_clip},
      {"Concat", grad_concat},
      {"Conv", grad_conv},
      {"Div", grad_div},
      {"Dropout", grad_dropout},
      {"Erf", grad_erf},
      {"Exp", grad_exp},
      {"Expand", grad_expand},
      {"Flatten", grad_reshape_like},
      {"FusedAttention", grad_fused_attention},
      {"Gather", grad_gather},
      {"GatherElements", grad_gather_elements},
      {"Gelu", grad_gelu},
      {"Gemm", grad_gemm},
      {"GlobalAveragePool", grad_global_average_pool},
      {"Identity", grad_identity},
      {"LayerNormalization", grad_layer_norm},
      {"LeakyRelu", grad_leaky_relu},
      {"Log", grad_log},
      {"LogSoftmax", grad_log_softmax},
      {"MatMul", grad_matmul},
      {"Max", grad_max},
      {"MaxPool", grad_max_pool},
      {"Min", grad_min},
      {"Mul", grad_mul},
      {"Neg", grad_neg},
      {"Pow", grad_pow},
      {"Reciprocal", grad_reciprocal},
      {"ReduceMean", grad_reduce_mean},
      {"ReduceSum", grad_reduce_sum},
      {"Relu", grad_relu},
      {"Reshape", grad_reshape_like},
      {"Sigmoid", grad_sigmoid},
      {"Slice", grad_slice},
      {"Softmax", grad_softmax},
      {"SoftmaxCrossEntropyLoss", grad_softmax_cross_entropy},
      {"Split", grad_split},
      {"Sqrt", grad_sqrt},
      {"Squeeze", grad_reshape_like},
      {"Sub", grad_sub},
      {"Tanh", grad_tanh},
      {"Transpose", grad_transpose},
      {"Unsqueeze", grad_reshape_like},
      {"Where", grad_where},
  };
  return table;
}

}  // namespace

GradFn find_grad_rule(std::string_view op) {
  const auto& t = rule_table();
  auto it = std::lower_bound(t.begin(), t.end(), op, [](const RuleEntry& e, std::string_view k) {
    return std::string_view(e.op) < k;
  });
  return it != t.end() && op == it->op ? it->fn : nullptr;
}

std::vector<std::string_view> grad_rule_ops() {
  std::vector<std::string_view> ops;
  for (const RuleEntry& e : rule_table()) ops.push_back(e.op);
  return ops;
}

}  // namespace tessera::autodiff
