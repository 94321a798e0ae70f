// Sharding rules of the quantized ops (docs/quantization.md). The int8 weight shards exactly like
// the float one it replaced; its per-channel w_scale and bias follow the output-channel factor, so
// a rank holding channels [a,b) holds their scales. Splitting the reduction is allowed when the
// output is float (the dequantized partial sums add up like float ones; the bias arrives partial)
// but not with a requantized int8 output: rounding each partial sum is not rounding their sum.
// The int32 acc_offset of an asymmetric input (-zp * sum_k w[n,k]) is a channel vector added to
// the sum like the bias: with a split reduction one rank keeps it, the others add zero.
// Per-token row scales are activations with x's rows: they split with the rows.
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {
namespace {

const char* kRequant = "a requantized (int8) output needs the whole reduction";
const char* kRowMax = "a per-token scale needs the whole row (its abs-max)";

bool per_token(const AttrMap& a) { return attr_int(a, "per_token", 0) != 0; }

// Inputs 2 (w_scale) and on up to `end` (bias, acc_offset; the rules see present inputs only,
// so either may be input 3) on the channel factor `c`; all but w_scale are summed into the
// result.
void channel_vectors(Builder& b, int c, size_t end) {
  b.in_dim(2, 0, c);
  for (size_t i = 3; i < end; ++i) {
    b.in_dim(i, 0, c);
    b.r.summed_into_result[i] = true;
  }
}

}  // namespace

// QuantizeI8 (x, [smooth_inv [K]]) -> int8: elementwise on x; smooth_inv follows x's last dim.
// per_token=1 adds the row scales [...] (x's dims but the last) and keeps K whole: a split row
// would need an all-reduce of its abs-max, which no collective here does (a K-split activation,
// Megatron's row-parallel input, is gathered before it is quantized).
StatusOr<OpRule> quantize(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                          const std::vector<Shape>& out) {
  const bool rows = per_token(a);
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 2, rows ? 2 : 1));
  const int rank = static_cast<int>(in[0].size());
  if (rows && rank < 1) return InvalidArgument(op + ": per_token needs x of rank >= 1");
  Builder b(op, in, out);
  for (int d = 0; d < rank; ++d) {
    const bool k = d == rank - 1;
    const int f =
        rows && k ? b.factor(in[0][d], FactorKind::kParallel, kRowMax) : b.factor(in[0][d]);
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
    if (rows && !k) b.out_dim(1, d, f);
    if (k && in.size() > 1) b.in_dim(1, 0, f);
  }
  b.r.flops = static_cast<double>(num_elements(in[0])) * (rows ? 2 : 1);
  return std::move(b.r);
}

// QMatMulI8 (x [...,K], w [N,K], w_scale [N], [bias [N]], [acc_offset [N]], [row scales [...]])
// -> [...,N]: batch dims and n parallel, k a reduction. The row scales (per_token: always the
// last present input) follow x's batch dims; they multiply each partial sum of a split k alike,
// so the dequantized partial sums still add up.
StatusOr<OpRule> qmatmul(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                         const std::vector<Shape>& out) {
  const bool rows = per_token(a);
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, rows ? 4 : 3, rows ? 6 : 5, 1));
  const Shape &x = in[0], &w = in[1];
  if (x.empty() || w.size() != 2 || w[1] != x.back())
    return InvalidArgument(op + ": x " + shape_str(x) + " and w " + shape_str(w) +
                           " must be [...,K] and [N,K]");
  Builder b(op, in, out);
  const int rx = static_cast<int>(x.size());
  const size_t scales = rows ? in.size() - 1 : in.size();  // row scales: the last input
  if (rows && in[scales] != Shape(x.begin(), x.end() - 1))
    return InvalidArgument(op + ": row scales " + shape_str(in[scales]) + " must be x " +
                           shape_str(x) + " without its last dim");
  for (int d = 0; d + 1 < rx; ++d) {
    int f = b.factor(x[d]);
    b.in_dim(0, d, f);
    b.out_dim(0, d, f);
    if (rows) b.in_dim(scales, d, f);
  }
  int n = b.factor(w[0]);
  int k = attr_has(a, "y_scale") ? b.factor(x.back(), FactorKind::kReduction, kRequant)
                                 : b.factor(x.back(), FactorKind::kReduction);
  b.in_dim(0, rx - 1, k);
  b.in_dim(1, 0, n);
  b.in_dim(1, 1, k);
  b.out_dim(0, rx - 1, n);
  channel_vectors(b, n, scales);
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
  const std::vector<int> channel = r.inputs[2];  // QConvI8 has no per-token form
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
