// Sharding rules of the training ops (docs/ops.md, "Training ops"). Gradient ops mirror their
// forward op's factors; what the forward op produced per row and the gradient sums over rows
// (LayerNorm's dscale, a weight gradient, a mean loss) becomes partial over the row split, so
// data parallelism yields partial weight gradients that reshard all-reduces or reduce-scatters.
// Optimizers are elementwise over the weight: weight, gradient and moments share every factor,
// which is what lets the search shard optimizer state ZeRO-style.
#include <algorithm>
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {
namespace {

// The loss kernels divide by attribute `rows` (the global row count) when autodiff recorded it;
// without it they divide by the local count, and a row split would scale the mean by the number
// of shards: then rows stay whole (correct, but every rank needs all logits).
std::string rows_why(const std::string& op, const AttrMap& a, int64_t n) {
  if (attr_int(a, "rows", -1) == n) return "";
  return op + " divides by its local row count (no global 'rows' attribute)";
}

}  // namespace

// (logits [N,C], labels [N]) -> (loss [], softmax [N,C]); the loss is a sum over row shards of
// (local sum / global N), so a row split leaves it partial. Classes need the whole axis.
StatusOr<OpRule> softmax_cross_entropy(const std::string& op, const AttrMap& a,
                                       const std::vector<Shape>& in,
                                       const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 2));
  if (in[0].size() != 2 || in[1].size() != 1)
    return InvalidArgument(op + ": expects logits [N,C] and labels [N], got " + shape_str(in[0]) +
                           " and " + shape_str(in[1]));
  Builder b(op, in, out);
  int r = b.factor(in[0][0], FactorKind::kParallel, rows_why(op, a, in[0][0]));
  int c = b.factor(in[0][1], FactorKind::kParallel, op + " needs the whole class axis");
  b.in_dim(0, 0, r);
  b.in_dim(0, 1, c);
  b.in_dim(1, 0, r);
  b.out_dim(1, 0, r);
  b.out_dim(1, 1, c);
  b.r.output_sums = {{r}, {}};
  b.r.flops = 5.0 * num_elements(in[0]);
  return std::move(b.r);
}

// (dloss [], softmax [N,C], labels [N]) -> dlogits [N,C]: rows parallel, dloss whole everywhere.
StatusOr<OpRule> softmax_cross_entropy_grad(const std::string& op, const AttrMap& a,
                                            const std::vector<Shape>& in,
                                            const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 3, 1));
  if (in[1].size() != 2 || in[2].size() != 1)
    return InvalidArgument(op + ": expects softmax [N,C] and labels [N], got " + shape_str(in[1]) +
                           " and " + shape_str(in[2]));
  Builder b(op, in, out);
  int r = b.factor(in[1][0], FactorKind::kParallel, rows_why(op, a, in[1][0]));
  int c = b.factor(in[1][1], FactorKind::kParallel, op + " keeps the class axis whole");
  b.in_dim(1, 0, r);
  b.in_dim(1, 1, c);
  b.in_dim(2, 0, r);
  b.out_dim(0, 0, r);
  b.out_dim(0, 1, c);
  b.r.flops = 2.0 * num_elements(in[1]);
  return std::move(b.r);
}

// (dy, x, scale) -> (dx, dscale[, dbias]): LayerNormalization's factors; dscale and dbias sum
// over the rows (dims before axis), so a row split leaves them partial.
StatusOr<OpRule> layer_norm_grad(const std::string& op, const AttrMap& a,
                                 const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 3, -1));
  const Shape& x = in[1];
  int rank = static_cast<int>(x.size());
  int axis = static_cast<int>(attr_int(a, "axis", -1));
  if (axis < 0 || axis >= rank || out.size() < 2 || out.size() > 3 || in[0] != x)
    return InvalidArgument(op + ": axis " + std::to_string(axis) + " or operands do not fit x " +
                           shape_str(x));
  Builder b(op, in, out);
  std::vector<int> rows;
  for (int d = 0; d < rank; ++d) {
    bool row = d < axis;
    int f = row ? b.factor(x[d])
                : b.factor(x[d], FactorKind::kParallel, op + " needs the whole normalised axis");
    if (row) rows.push_back(f);
    b.in_dim(0, d, f);
    b.in_dim(1, d, f);
    b.out_dim(0, d, f);
    if (!row) {
      b.in_dim(2, d - axis, f);
      for (size_t o = 1; o < out.size(); ++o) b.out_dim(o, d - axis, f);
    }
  }
  b.r.output_sums.assign(out.size(), rows);
  b.r.output_sums[0].clear();
  b.r.flops = 12.0 * num_elements(x);
  return std::move(b.r);
}

// (dy [N,Co,...], x [N,Ci,...]) -> dw [Co,Ci/g,k...]: Conv's factors with the batch a reduction
// (dw sums over samples). Spatial and kernel dims never split (Conv's halo rule). Grouped
// convolutions split only when depthwise, along the group.
StatusOr<OpRule> conv_grad_weight(const std::string& op, const AttrMap& a,
                                  const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 1));
  const Shape &dy = in[0], &x = in[1], &w = out[0];
  if (x.size() < 3 || dy.size() != x.size() || w.size() != x.size())
    return InvalidArgument(op + ": dy " + shape_str(dy) + ", x " + shape_str(x) + " and dw " +
                           shape_str(w) + " disagree");
  int64_t g = attr_int(a, "group", 1);
  Builder b(op, in, out);
  int n = b.factor(x[0], FactorKind::kReduction);
  b.in_dim(0, 0, n);
  b.in_dim(1, 0, n);
  if (g == 1) {
    int co = b.factor(dy[1]), ci = b.factor(x[1]);
    b.in_dim(0, 1, co);
    b.out_dim(0, 0, co);
    b.in_dim(1, 1, ci);
    b.out_dim(0, 1, ci);
  } else if (g == x[1] && g == dy[1]) {
    int gf = b.factor(g);
    b.in_dim(0, 1, gf);
    b.in_dim(1, 1, gf);
    b.out_dim(0, 0, gf);
  }
  b.r.flops = 2.0 * num_elements(dy) * num_elements(w) / std::max<int64_t>(w[0], 1);
  return std::move(b.r);
}

// MaxPoolGrad (dy, x) -> dx and AveragePoolGrad (dy) -> dx: batch and channels split; windows
// span the spatial dims, which stay whole.
StatusOr<OpRule> pool_grad(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                           const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 2, 1));
  for (const Shape& s : in)
    if (s.size() < 3 || s.size() != out[0].size() || s[0] != out[0][0] || s[1] != out[0][1])
      return InvalidArgument(op + ": operand " + shape_str(s) + " does not fit dx " +
                             shape_str(out[0]));
  Builder b(op, in, out);
  for (int d = 0; d < 2; ++d) {
    int f = b.factor(out[0][d]);
    for (size_t i = 0; i < in.size(); ++i) b.in_dim(i, d, f);
    b.out_dim(0, d, f);
  }
  b.r.flops = static_cast<double>(num_elements(out[0]));
  return std::move(b.r);
}

// GatherGrad (dy, indices) -> ddata: Gather's factors; the index dims become reductions (each
// shard scatter-adds its indices' rows: a partial sum of ddata). The gathered axis stays whole.
StatusOr<OpRule> gather_grad(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                             const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 1));
  const Shape &dy = in[0], &idx = in[1], &data = out[0];
  int axis = static_cast<int>(attr_int(a, "axis", 0));
  int q = static_cast<int>(idx.size());
  if (axis < 0 || axis >= static_cast<int>(data.size()) || dy.size() != data.size() - 1 + q)
    return InvalidArgument(op + ": dy " + shape_str(dy) + ", indices " + shape_str(idx) +
                           " and ddata " + shape_str(data) + " disagree for axis " +
                           std::to_string(axis));
  Builder b(op, in, out);
  for (int d = 0; d < static_cast<int>(data.size()); ++d) {
    if (d == axis) continue;
    int f = b.factor(data[d]);
    b.out_dim(0, d, f);
    b.in_dim(0, d < axis ? d : d - 1 + q, f);
  }
  for (int j = 0; j < q; ++j) {
    int f = b.factor(idx[j], FactorKind::kReduction);
    b.in_dim(1, j, f);
    b.in_dim(0, axis + j, f);
  }
  b.r.flops = static_cast<double>(num_elements(dy));
  return std::move(b.r);
}

// GatherElementsGrad (dy, indices) -> ddata: every dim but the axis where dy, indices and ddata
// agree in size splits alike; the axis, and dims where indices are shorter, stay whole.
StatusOr<OpRule> gather_elements_grad(const std::string& op, const AttrMap& a,
                                      const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 1));
  const Shape &dy = in[0], &idx = in[1], &data = out[0];
  int rank = static_cast<int>(data.size());
  int axis = static_cast<int>(attr_int(a, "axis", 0));
  if (axis < 0 || axis >= rank || dy.size() != data.size() || idx != dy)
    return InvalidArgument(op + ": dy " + shape_str(dy) + ", indices " + shape_str(idx) +
                           " and ddata " + shape_str(data) + " disagree");
  Builder b(op, in, out);
  for (int d = 0; d < rank; ++d) {
    if (d == axis || dy[d] != data[d]) continue;
    int f = b.factor(data[d]);
    b.in_dim(0, d, f);
    b.in_dim(1, d, f);
    b.out_dim(0, d, f);
  }
  b.r.flops = static_cast<double>(num_elements(dy));
  return std::move(b.r);
}

// AdamW (w, g, m, v, step) and SGD (w, g[, buf]): elementwise over the weight; the step scalar
// has no dims, so it stays whole. About ten flops per element, memory bound either way.
StatusOr<OpRule> optimizer(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                           const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, op == "AdamW" ? 5 : 3, -1));
  for (const Shape& s : out)
    if (s != in[0])
      return InvalidArgument(op + ": result " + shape_str(s) + " differs from weight " +
                             shape_str(in[0]));
  TSR_ASSIGN_OR_RETURN(OpRule r, elementwise(op, a, in, out));
  r.flops = 10.0 * num_elements(in[0]);
  return r;
}

// Dropout (x, step, pos_0..pos_{r-1}) -> (y[, mask]): elementwise over x; position vector d
// is split exactly like x's dim d, so each rank holds its own elements' global offsets (the
// mask is the same on every mesh). Without positions (before autodiff) plain elementwise.
StatusOr<OpRule> dropout(const std::string& op, const AttrMap& a, const std::vector<Shape>& in,
                         const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, -1, -1));
  if (in.size() <= 2) return elementwise(op, a, in, out);
  const Shape& x = in[0];
  if (in.size() != x.size() + 2)
    return InvalidArgument(op + ": " + std::to_string(in.size() - 2) +
                           " position inputs for rank " + std::to_string(x.size()));
  Builder b(op, in, out);
  for (size_t d = 0; d < x.size(); ++d) {
    const int f = b.factor(x[d]);
    b.in_dim(0, static_cast<int>(d), f);
    b.in_dim(d + 2, 0, f);
    for (size_t k = 0; k < out.size(); ++k) b.out_dim(k, static_cast<int>(d), f);
  }
  b.r.flops = 4.0 * static_cast<double>(num_elements(x));  // a Philox block per 4 elements
  return std::move(b.r);
}

// BatchNorm training ops (x [N, C, ...], per-channel vectors [C]): the channel dim splits with
// every per-channel operand. BatchNormStats (x) and BatchNormGradStats (dy, x, sum, sumsq) sum
// over the batch and spatial dims: reduction factors, so a split batch (data parallel) leaves
// partial sums that resharding all-reduces before BatchNormApply / BatchNormGradInput read
// them, i.e. global (SyncBN) statistics on every mesh. Apply and GradInput are elementwise over
// x; RunningUpdate is elementwise over [C].
StatusOr<OpRule> batch_norm_train(const std::string& op, const AttrMap& a,
                                  const std::vector<Shape>& in, const std::vector<Shape>& out) {
  const bool stats = op == "BatchNormStats" || op == "BatchNormGradStats";
  const size_t xi = op == "BatchNormGradStats" || op == "BatchNormGradInput" ? 1 : 0;
  if (op == "BatchNormRunningUpdate") {
    TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 4, 4, 2));
    TSR_ASSIGN_OR_RETURN(OpRule r, elementwise(op, a, in, out));
    r.flops = 8.0 * num_elements(in[0]);
    return r;
  }
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, static_cast<int>(xi) + 1, -1, stats ? 2 : 1));
  const Shape& x = in[xi];
  if (x.size() < 2) return InvalidArgument(op + ": x " + shape_str(x) + " has no channel dim");
  for (size_t i = 0; i < in.size(); ++i)
    if (i > xi ? in[i] != Shape{x[1]} : in[i] != x)
      return InvalidArgument(op + ": operand " + std::to_string(i) + " " + shape_str(in[i]) +
                             " does not fit x " + shape_str(x));
  Builder b(op, in, out);
  for (size_t d = 0; d < x.size(); ++d) {
    const int f = b.factor(x[d], stats && d != 1 ? FactorKind::kReduction : FactorKind::kParallel);
    for (size_t i = 0; i <= xi; ++i) b.in_dim(i, static_cast<int>(d), f);
    if (d != 1) {
      if (!stats) b.out_dim(0, static_cast<int>(d), f);
      continue;
    }
    for (size_t i = xi + 1; i < in.size(); ++i) b.in_dim(i, 0, f);
    for (size_t o = 0; o < out.size(); ++o) b.out_dim(o, stats ? 0 : 1, f);
  }
  // Per element: sum and square (Stats), normalise and scale (Apply), xhat and two products
  // (GradStats), xhat and the affine combination (GradInput).
  b.r.flops = (stats ? 3.0 : 5.0) * static_cast<double>(num_elements(x));
  return std::move(b.r);
}

}  // namespace tessera::spmd::rules
