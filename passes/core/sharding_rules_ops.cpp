// Sharding rules of contractions (MatMul, Gemm, Conv), pools and reductions.
#include <algorithm>
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {

// numpy matmul: batch dims broadcast like elementwise; m, n parallel, k a reduction. A 1-D a
// has no m, a 1-D b no n.
StatusOr<OpRule> matmul(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                        const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 1));
  const Shape &a = in[0], &bb = in[1], &o = out[0];
  int ra = static_cast<int>(a.size()), rb = static_cast<int>(bb.size());
  int ro = static_cast<int>(o.size());
  if (ra < 1 || rb < 1 || a[ra - 1] != bb[std::max(rb - 2, 0)]) {
    return InvalidArgument(op + ": shapes " + shape_str(a) + " and " + shape_str(bb) +
                           " do not contract");
  }
  Builder b(op, in, out);
  int batch = ro - (ra > 1) - (rb > 1);  // output dims before m and n
  for (int d = 0; d < batch; ++d) {
    int f = b.factor(o[d]);
    b.out_dim(0, d, f);
    int da = d - (batch - (ra - 2)), db = d - (batch - (rb - 2));
    if (ra > 2 && da >= 0 && a[da] == o[d]) b.in_dim(0, da, f);
    if (rb > 2 && db >= 0 && bb[db] == o[d]) b.in_dim(1, db, f);
  }
  int64_t K = a[ra - 1];
  double mn = 1;
  if (ra > 1) {
    int f = b.factor(a[ra - 2]);
    b.in_dim(0, ra - 2, f);
    b.out_dim(0, batch, f);
    mn *= a[ra - 2];
  }
  if (rb > 1) {
    int f = b.factor(bb[rb - 1]);
    b.in_dim(1, rb - 1, f);
    b.out_dim(0, ro - 1, f);
    mn *= bb[rb - 1];
  }
  int k = b.factor(K, FactorKind::kReduction);
  b.in_dim(0, ra - 1, k);
  b.in_dim(1, std::max(rb - 2, 0), k);
  double batches = 1;
  for (int d = 0; d < batch; ++d) batches *= o[d];
  b.r.flops = 2.0 * batches * mn * K;
  return std::move(b.r);
}

// Gemm: y = alpha·op(a)·op(b) + beta·c, c broadcast to (M, N) and summed into the result.
StatusOr<OpRule> gemm(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in,
                      const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 3, 1));
  if (in[0].size() != 2 || in[1].size() != 2 || out[0].size() != 2) {
    return InvalidArgument(op + ": a, b and y must be 2-D, got " + shape_str(in[0]) + ", " +
                           shape_str(in[1]) + ", " + shape_str(out[0]));
  }
  int ta = attr_int(attrs, "transA", 0) ? 1 : 0, tb = attr_int(attrs, "transB", 0) ? 1 : 0;
  int64_t M = in[0][ta], K = in[0][1 - ta], N = in[1][1 - tb];
  if (in[1][tb] != K) {
    return InvalidArgument(op + ": op(a) is " + std::to_string(M) + "x" + std::to_string(K) +
                           " but op(b) has " + std::to_string(in[1][tb]) + " rows");
  }
  Builder b(op, in, out);
  int m = b.factor(M), n = b.factor(N), k = b.factor(K, FactorKind::kReduction);
  b.in_dim(0, ta, m);
  b.in_dim(0, 1 - ta, k);
  b.in_dim(1, tb, k);
  b.in_dim(1, 1 - tb, n);
  b.out_dim(0, 0, m);
  b.out_dim(0, 1, n);
  if (in.size() == 3) {
    const Shape& c = in[2];
    int lead = 2 - static_cast<int>(c.size());
    for (int d = 0; d < static_cast<int>(c.size()); ++d) {
      int64_t want = d + lead == 0 ? M : N;
      if (c[d] == want && want > 1) b.in_dim(2, d, d + lead == 0 ? m : n);
    }
    b.r.summed_into_result[2] = true;
  }
  b.r.flops = 2.0 * M * N * K;
  return std::move(b.r);
}

// Conv / ConvTranspose (NC + spatial): batch and output channels parallel, input channels a
// reduction. Spatial dims need halo exchange, which the runtime lacks: they never split. Grouped
// convolutions split only when depthwise (groups = channels), along the group.
StatusOr<OpRule> conv(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in,
                      const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 3, 1));
  const Shape &x = in[0], &w = in[1], &y = out[0];
  if (x.size() < 3 || w.size() != x.size() || y.size() != x.size()) {
    return InvalidArgument(op + ": expects N,C,spatial input and matching weight, got " +
                           shape_str(x) + " and " + shape_str(w));
  }
  bool transposed = op == "ConvTranspose";
  int64_t g = attr_int(attrs, "group", 1);
  int cin_w = transposed ? 0 : 1, cout_w = transposed ? 1 : 0;  // weight dims
  Builder b(op, in, out);
  int nf = b.factor(x[0]);
  b.in_dim(0, 0, nf);
  b.out_dim(0, 0, nf);
  std::string spatial = op + " spatial dims need halo exchange (unsupported)";
  if (g == 1) {
    int co = b.factor(y[1]), ci = b.factor(x[1], FactorKind::kReduction);
    b.in_dim(0, 1, ci);
    b.in_dim(1, cin_w, ci);
    b.in_dim(1, cout_w, co);
    b.out_dim(0, 1, co);
    if (in.size() == 3) b.in_dim(2, 0, co);
  } else if (g == x[1] && g == y[1]) {
    int gf = b.factor(g);  // depthwise: channel c of x feeds only channel c of y
    b.in_dim(0, 1, gf);
    b.out_dim(0, 1, gf);
    b.in_dim(1, 0, gf);
    if (in.size() == 3) b.in_dim(2, 0, gf);
  } else {
    b.factor(x[1], FactorKind::kParallel,
             op + " with group=" + std::to_string(g) + " keeps channels whole");
  }
  // Each output (Conv) or input (ConvTranspose) element meets one weight slice of w[0]'s size.
  double flops =
      2.0 * num_elements(transposed ? x : y) * num_elements(w) / std::max<int64_t>(w[0], 1);
  for (size_t d = 2; d < x.size(); ++d) {
    int f = b.factor(y[d], FactorKind::kParallel, spatial);
    b.out_dim(0, d, f);
  }
  b.r.flops = flops;
  return std::move(b.r);
}

// MaxPool/AveragePool/GlobalAveragePool: N and C split; windows span spatial dims.
StatusOr<OpRule> pool(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                      const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 1, 1));
  if (in[0].size() < 2 || out[0].size() != in[0].size()) {
    return InvalidArgument(op + ": expects N,C,spatial input, got " + shape_str(in[0]));
  }
  Builder b(op, in, out);
  for (size_t d = 0; d < in[0].size(); ++d) {
    int f = d < 2 ? b.factor(in[0][d])
                  : b.factor(out[0][d], FactorKind::kParallel, op + " windows span spatial dims");
    if (d < 2) b.in_dim(0, d, f);
    b.out_dim(0, d, f);
  }
  b.r.flops = static_cast<double>(num_elements(in[0]));
  return std::move(b.r);
}

// Reduce*: reduced axes are reduction factors. A split sum (or mean, computed as local sum
// over the global count) leaves partial sums; a partial max/min/product is not a sum, so those
// axes never split.
StatusOr<OpRule> reduce(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in,
                        const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 1, 1));
  const Shape& x = in[0];
  std::vector<int64_t> axes = attr_ints(attrs, "axes");
  if (axes.empty()) {
    for (size_t d = 0; d < x.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  bool keep = attr_int(attrs, "keepdims", 1) != 0;
  // ReduceMean is not summable shard by shard: each local mean divides by the local count, so
  // the partial results would add up to n_shards times the mean.
  bool summable = op == "ReduceSum";
  Builder b(op, in, out);
  int od = 0;
  for (int d = 0; d < static_cast<int>(x.size()); ++d) {
    bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    int f = !reduced ? b.factor(x[d])
            : summable
                ? b.factor(x[d], FactorKind::kReduction)
                : b.factor(x[d], FactorKind::kReduction,
                           op + (op == "ReduceMean" ? ": local means divide by the local count"
                                                    : ": a partial result is not a sum"));
    b.in_dim(0, d, f);
    if (!reduced || keep) {
      if (od >= static_cast<int>(out[0].size())) {
        return InvalidArgument(op + ": output " + shape_str(out[0]) + " does not fit input " +
                               shape_str(x));
      }
      if (!reduced) b.out_dim(0, od, f);
      ++od;
    }
  }
  b.r.flops = static_cast<double>(num_elements(x));
  return std::move(b.r);
}

}  // namespace tessera::spmd::rules
