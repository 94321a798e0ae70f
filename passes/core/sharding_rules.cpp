// The table of op sharding rules and the rules of elementwise-shaped ops.
#include "passes/core/sharding_rules.h"

#include <algorithm>
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd {
namespace rules {

Status expect_arity(const std::string& op, const std::vector<Shape>& in,
                    const std::vector<Shape>& out, int min_in, int max_in, int n_out) {
  int n = static_cast<int>(in.size());
  if (n < min_in || (max_in >= 0 && n > max_in) ||
      (n_out >= 0 && static_cast<int>(out.size()) != n_out) || out.empty()) {
    return InvalidArgument(
        op + ": sharding rule expects " + std::to_string(min_in) + (max_in == min_in ? "" : "+") +
        " inputs and " + (n_out < 0 ? std::string("some") : std::to_string(n_out)) +
        " outputs, got " + std::to_string(n) + " and " + std::to_string(out.size()));
  }
  return Status::Ok();
}

// One factor per output dim; inputs broadcast numpy-style from the right: an input dim maps to
// the factor only when it has the output's size, so size-1 broadcast dims are never split.
StatusOr<OpRule> elementwise(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                             const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 0, -1, -1));
  Builder b(op, in, out);
  const Shape& o = out[0];
  for (size_t d = 0; d < o.size(); ++d) {
    int f = b.factor(o[d]);
    for (size_t k = 0; k < out.size(); ++k) b.out_dim(k, d, f);
  }
  for (size_t i = 0; i < in.size(); ++i) {
    size_t lead = o.size() - std::min(o.size(), in[i].size());
    for (size_t d = 0; d < in[i].size() && d + lead < o.size(); ++d) {
      if (in[i][d] == o[d + lead]) b.in_dim(i, static_cast<int>(d), static_cast<int>(d + lead));
    }
  }
  b.r.flops = static_cast<double>(num_elements(o));
  return std::move(b.r);
}

// Shape-only producers (ConstantOfShape and folded constants): any split is local generation.
StatusOr<OpRule> generator(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                           const std::vector<Shape>& out) {
  TSR_ASSIGN_OR_RETURN(OpRule r, elementwise(op, a, in, out));
  r.flops = 0;
  return r;
}

// Softmax/LogSoftmax: elementwise, but the axis is normalised over as a whole.
StatusOr<OpRule> softmax(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                         const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 1, 1));
  TSR_ASSIGN_OR_RETURN(OpRule r, elementwise(op, a, in, out));
  int64_t axis = attr_int(a, "axis", static_cast<int64_t>(in[0].size()) - 1);
  if (axis < 0 || axis >= static_cast<int64_t>(in[0].size())) {
    return InvalidArgument(op + ": axis " + std::to_string(axis) + " out of range for input " +
                           shape_str(in[0]));
  }
  r.factors[axis].cannot_split = op + " needs the whole axis";
  r.flops *= 5;  // max, sub, exp, sum, div per element
  return r;
}

// LayerNormalization: dims axis.. are normalised over; scale and bias cover those dims.
StatusOr<OpRule> layer_norm(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                            const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 3, 1));
  Builder b(op, in, out);
  int rank = static_cast<int>(in[0].size());
  int axis = static_cast<int>(attr_int(a, "axis", rank - 1));
  for (int d = 0; d < rank; ++d) {
    int f = d < axis ? b.factor(in[0][d])
                     : b.factor(in[0][d], FactorKind::kParallel, op + " needs the whole axis");
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
    for (size_t p = 1; p < in.size(); ++p) {
      int pd = d - (rank - static_cast<int>(in[p].size()));
      if (pd >= 0 && in[p][pd] == in[0][d]) b.in_dim(p, pd, f);
    }
  }
  b.r.flops = 8.0 * num_elements(in[0]);
  return std::move(b.r);
}

// BatchNormalization (inference): per-channel affine; every dim splits, the four parameter
// vectors follow the channel dim.
StatusOr<OpRule> batch_norm(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                            const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 5, 5, 1));
  Builder b(op, in, out);
  for (size_t d = 0; d < in[0].size(); ++d) {
    int f = b.factor(in[0][d]);
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
    if (d == 1) {
      for (size_t p = 1; p < 5; ++p) b.in_dim(p, 0, f);
    }
  }
  b.r.flops = 2.0 * num_elements(in[0]);
  return std::move(b.r);
}

// GroupNormalization: batch splits; channels and spatial dims are normalised over per group.
StatusOr<OpRule> group_norm(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                            const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 3, 1));
  Builder b(op, in, out);
  for (size_t d = 0; d < in[0].size(); ++d) {
    int f = d == 0 ? b.factor(in[0][d])
                   : b.factor(in[0][d], FactorKind::kParallel, op + " needs whole groups");
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
  }
  b.r.flops = 8.0 * num_elements(in[0]);
  return std::move(b.r);
}

}  // namespace rules

namespace {

struct Entry {
  const char* op;
  rules::RuleFn fn;
};

// THE table: every canonical op of docs/ops.md and its training ops, alphabetical (ASCII).
constexpr Entry kRules[] = {
    {"Abs", rules::elementwise},
    {"AdamW", rules::optimizer},
    {"Add", rules::elementwise},
    {"And", rules::elementwise},
    {"AveragePool", rules::pool},
    {"AveragePoolGrad", rules::pool_grad},
    {"BatchNormApply", rules::batch_norm_train},
    {"BatchNormGradInput", rules::batch_norm_train},
    {"BatchNormGradStats", rules::batch_norm_train},
    {"BatchNormRunningUpdate", rules::batch_norm_train},
    {"BatchNormStats", rules::batch_norm_train},
    {"BatchNormalization", rules::batch_norm},
    {"Cast", rules::elementwise},
    {"Ceil", rules::elementwise},
    {"Clip", rules::elementwise},
    {"Concat", rules::same_rank_axis_ops},
    {"Constant", rules::generator},
    {"ConstantOfShape", rules::generator},
    {"Conv", rules::conv},
    {"ConvGradWeight", rules::conv_grad_weight},
    {"ConvTranspose", rules::conv},
    {"Cos", rules::elementwise},
    {"CumSum", rules::same_rank_axis_ops},
    {"DequantizeI8", rules::elementwise},
    {"Div", rules::elementwise},
    {"Dropout", rules::dropout},
    {"Equal", rules::elementwise},
    {"Erf", rules::elementwise},
    {"Exp", rules::elementwise},
    {"Expand", rules::elementwise},
    {"Flatten", rules::reshape},
    {"Floor", rules::elementwise},
    {"FusedAttention", rules::fused_attention},
    {"FusedAttentionGrad", rules::fused_attention_grad},
    {"Gather", rules::gather},
    {"GatherElements", rules::same_rank_axis_ops},
    {"GatherElementsGrad", rules::gather_elements_grad},
    {"GatherGrad", rules::gather_grad},
    {"GatherND", rules::gather},
    {"Gelu", rules::elementwise},
    {"GeluGrad", rules::elementwise},
    {"Gemm", rules::gemm},
    {"GlobalAveragePool", rules::pool},
    {"Greater", rules::elementwise},
    {"GreaterOrEqual", rules::elementwise},
    {"GroupNormalization", rules::group_norm},
    {"Identity", rules::elementwise},
    {"IsNaN", rules::elementwise},
    {"LayerNormalization", rules::layer_norm},
    {"LayerNormalizationGrad", rules::layer_norm_grad},
    {"LeakyRelu", rules::elementwise},
    {"Less", rules::elementwise},
    {"LessOrEqual", rules::elementwise},
    {"Log", rules::elementwise},
    {"LogSoftmax", rules::softmax},
    {"MatMul", rules::matmul},
    {"Max", rules::elementwise},
    {"MaxPool", rules::pool},
    {"MaxPoolGrad", rules::pool_grad},
    {"Min", rules::elementwise},
    {"Mul", rules::elementwise},
    {"Neg", rules::elementwise},
    {"Not", rules::elementwise},
    {"Or", rules::elementwise},
    {"Pad", rules::same_rank_axis_ops},
    {"Pow", rules::elementwise},
    {"QConvI8", rules::qconv},
    {"QMatMulI8", rules::qmatmul},
    {"QuantizeI8", rules::quantize},
    {"Range", rules::generator},
    {"Reciprocal", rules::elementwise},
    {"ReduceMax", rules::reduce},
    {"ReduceMean", rules::reduce},
    {"ReduceMin", rules::reduce},
    {"ReduceProd", rules::reduce},
    {"ReduceSum", rules::reduce},
    {"Relu", rules::elementwise},
    {"ReluGrad", rules::elementwise},
    {"Reshape", rules::reshape},
    {"SGD", rules::optimizer},
    {"Shape", rules::generator},
    {"Sigmoid", rules::elementwise},
    {"Sin", rules::elementwise},
    {"Size", rules::generator},
    {"Slice", rules::same_rank_axis_ops},
    {"Softmax", rules::softmax},
    {"SoftmaxCrossEntropyGrad", rules::softmax_cross_entropy_grad},
    {"SoftmaxCrossEntropyLoss", rules::softmax_cross_entropy},
    {"Split", rules::same_rank_axis_ops},
    {"Sqrt", rules::elementwise},
    {"Squeeze", rules::reshape},
    {"Sub", rules::elementwise},
    {"Tanh", rules::elementwise},
    {"Tile", rules::same_rank_axis_ops},
    {"Transpose", rules::transpose},
    {"Trilu", rules::same_rank_axis_ops},
    {"Unsqueeze", rules::reshape},
    {"Where", rules::elementwise},
};

}  // namespace

StatusOr<OpRule> sharding_rule(const std::string& op, const AttrMap& attrs,
                               const std::vector<Shape>& inputs,
                               const std::vector<Shape>& outputs) {
  for (const Entry& e : kRules) {
    if (op == e.op) return e.fn(op, attrs, inputs, outputs);
  }
  return Unimplemented("no sharding rule for op '" + op + "' (see docs/ops.md)");
}

std::vector<std::string> ops_with_rules() {
  std::vector<std::string> v;
  for (const Entry& e : kRules) v.push_back(e.op);
  return v;
}

std::string OpRule::to_string() const {
  auto letter = [](int f) {
    return f < 0 ? '.' : static_cast<char>(f < 26 ? 'a' + f : 'A' + f - 26);
  };
  std::string s = op + " (";
  for (size_t f = 0; f < factors.size(); ++f) {
    s += (f ? " " : "") + std::string(1, letter(static_cast<int>(f))) + "=" +
         std::to_string(factors[f].size);
    if (factors[f].kind == FactorKind::kReduction) s += "r";
    if (!factors[f].cannot_split.empty()) s += "!";
  }
  s += "): ";
  auto operands = [&](const std::vector<std::vector<int>>& ops) {
    std::string t;
    for (size_t i = 0; i < ops.size(); ++i) {
      t += i ? ", " : "";
      for (int f : ops[i]) t += letter(f);
    }
    return t;
  };
  return s + operands(inputs) + " -> " + operands(outputs);
}

}  // namespace tessera::spmd
