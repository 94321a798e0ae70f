// Sharding rules of the quantized ops (docs/quantization.md). The int8 weight shards exactly like
// the float one it replaced; its per-channel w_scale and bias follow the output-channel factor, so
// a rank holding channels [a,b) holds their scales. Splitting the reduction is allowed when the
// output is float (the dequantized partial sums add up like float ones; the bias arrives partial)
// but not with a requantized int8 output: rounding each partial sum is not rounding their sum.
// The int32 acc_offset of an asymmetric input (-zp * sum_k w[n,k]) is a channel vector added to
// the sum like the bias: with a split reduction one rank keeps it, the others add zero.
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {
namespace {

const char* kRequant = "a requantized (int8) output needs the whole reduction";

// Inputs 2 (w_scale) and on (bias, acc_offset; the rules see present inputs only, so either
// may be input 3) on the channel factor `c`; all but w_scale are summed into the result.
void channel_vectors(Builder& b, int c) {
  b.in_dim(2, 0, c);
  for (size_t i = 3; i < b.in.size(); ++i) {
    b.in_dim(i, 0, c);
    b.r.summed_into_result[i] = true;
  }
}

}  // namespace

// QuantizeI8 (x, [smooth_inv [K]]): elementwise on x; smooth_inv follows x's last dim.
StatusOr<OpRule> quantize(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                          const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 2, 1));
  TSR_ASSIGN_OR_RETURN(OpRule r, elementwise(op, a, {in[0]}, out));
  if (in.size() > 1) {
    const int last = static_cast<int>(in[0].size()) - 1;
    r.inputs.push_back({last >= 0 ? r.outputs[0][last] : -1});
    r.summed_into_result.push_back(false);
  }
  return r;
}

// QMatMulI8 (x [...,K], w [N,K], w_scale [N], [bias [N]], [acc_offset [N]]) -> [...,N]: batch
// dims and n parallel, k a reduction.
StatusOr<OpRule> qmatmul(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                         const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 5, 1));
  const Shape &x = in[0], &w = in[1];
  if (x.empty() || w.size() != 2 || w[1] != x.back())
    return InvalidArgument(op + ": x " + shape_str(x) + " and w " + shape_str(w) +
                           " must be [...,K] and [N,K]");
  Builder b(op, in, out);
  const int rx = static_cast<int>(x.size());
  for (int d = 0; d + 1 < rx; ++d) {
    int f = b.factor(x[d]);
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
  }
  int n = b.factor(w[0]);
  int k = attr_has(a, "y_scale") ? b.factor(x.back(), FactorKind::kReduction, kRequant)
                                 : b.factor(x.back(), FactorKind::kReduction);
  b.in_dim(0, rx - 1, k);
  b.in_dim(1, 0, n);
  b.in_dim(1, 1, k);
  b.out_dim(0, rx - 1, n);
  channel_vectors(b, n);
  // int8 work counts as float work here; the cluster profiles have no int8 peak yet.
  b.r.flops = 2.0 * num_elements(out[0]) * static_cast<double>(x.back());
  return std::move(b.r);
}

// QConvI8: Conv's rule with w_scale, bias and acc_offset on the output-channel factor.
StatusOr<OpRule> qconv(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                       const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 5, 1));
  if (in[1].empty()) return InvalidArgument(op + ": w must have rank 4");
  TSR_ASSIGN_OR_RETURN(OpRule conv_rule, conv("Conv", a, {in[0], in[1], {in[1][0]}}, out));
  OpRule r = std::move(conv_rule);
  r.op = op;
  const std::vector<int> channel = r.inputs[2];
  r.inputs.resize(in.size(), channel);
  r.summed_into_result.assign(in.size(), false);
  for (size_t i = 3; i < in.size(); ++i) r.summed_into_result[i] = true;
  if (attr_has(a, "y_scale")) {
    for (Factor& f : r.factors)
      if (f.kind == FactorKind::kReduction && f.cannot_split.empty()) f.cannot_split = kRequant;
  }
  return r;
}

}  // namespace tessera::spmd::rules
