// Sharding rules of the fused attention ops (docs/ops.md, "Attention ops"). Leading (batch,
// head) dims and v's last dim split freely; query rows stay whole because the op chunks them
// itself (a causal mask's row offsets would also be wrong in a shard), keys stay whole for the
// softmax, and the head size stays whole because a partial q·kᵀ cannot go through the softmax.
// The ws outputs are per batch-head scratch: their leading dims follow the batch-heads, their
// [R, Sk] dims never split. Layout bshd (q, k, v, y as [..,S,H,D]): the same factors, the heads
// factor mapped to dim r-2 of those operands and the sequence to r-3; the mask and the ws
// outputs keep the scores' [..,H,Sq,Sk] order.
#include <utility>

#include "ir/attention_ops.h"
#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {
namespace {

struct AttnFactors {
  std::vector<int> lead;  // one per leading dim of the scores (bshd: the last one is the heads)
  int sq = -1, sk = -1, d = -1, dv = -1;
  double n = 1;  // product of the leading dims
  bool bshd = false;
};

// q, k, v (in[0..2]) in their bhsd views.
std::vector<Shape> bhsd_views(const AttrMap& a, const std::vector<Shape>& in) {
  return {ir::attention_bhsd_shape(a, in[0]), ir::attention_bhsd_shape(a, in[1]),
          ir::attention_bhsd_shape(a, in[2])};
}

Status check_shapes(const std::string& op, const AttrMap& a, const std::vector<Shape>& in) {
  const std::vector<Shape> views = bhsd_views(a, in);
  const Shape &q = views[0], &k = views[1], &v = views[2];
  const size_t r = q.size();
  if (ir::attention_bshd(a) && in[0].size() < 3)
    return InvalidArgument(op + ": layout bshd needs q of rank >= 3, got " + shape_str(in[0]));
  bool ok =
      r >= 2 && k.size() == r && v.size() == r && q[r - 1] == k[r - 1] && k[r - 2] == v[r - 2];
  for (size_t d = 0; ok && d + 2 < r; ++d) ok = q[d] == k[d] && q[d] == v[d];
  if (ok) return Status::Ok();
  return InvalidArgument(op + ": q " + shape_str(q) + ", k " + shape_str(k) + ", v " +
                         shape_str(v) + " do not fit [..,Sq,D], [..,Sk,D], [..,Sk,Dv]");
}

// The factors both ops share. In the forward D is a reduction (y sums over it through the
// scores); in the gradient dq and dk carry D, so it is parallel there. Unsplittable either way.
AttnFactors make_factors(Builder& b, const std::string& op, const AttrMap& a, bool grad) {
  const std::vector<Shape> views = bhsd_views(a, b.in);
  const Shape &q = views[0], &k = views[1], &v = views[2];
  const size_t r = q.size();
  AttnFactors f;
  f.bshd = ir::attention_bshd(a);
  for (size_t d = 0; d + 2 < r; ++d) {
    f.lead.push_back(b.factor(q[d]));
    f.n *= static_cast<double>(q[d]);
  }
  f.sq = b.factor(q[r - 2], FactorKind::kParallel,
                  op + " chunks its query rows inside the op (attribute chunk)");
  f.sk = b.factor(k[r - 2], FactorKind::kParallel, op + " takes its softmax over all keys");
  f.d = b.factor(q[r - 1], grad ? FactorKind::kParallel : FactorKind::kReduction,
                 op + " needs the whole head size (no softmax of partial scores)");
  // Every Dv shard would recompute the whole scores and softmax (the roofline divides them by
  // the split): batch-head splits are the useful ones, so Dv stays whole.
  f.dv = b.factor(v[r - 1], FactorKind::kParallel,
                  op + " would recompute all scores on every shard of the value dim");
  return f;
}

// Maps an operand's leading dims to the batch-heads and its last two dims to f2, f1 (-1: none).
// A q/k/v/y-like operand (`seq`) of a bshd node has the heads between them: [.., f2, H, f1].
void map(Builder& b, bool output, size_t i, const AttnFactors& f, int f2, int f1, bool seq = true) {
  const size_t r = f.lead.size() + 2;
  std::vector<int> dims = f.lead;
  dims.push_back(f2);
  dims.push_back(f1);
  if (f.bshd && seq) std::swap(dims[r - 3], dims[r - 2]);
  for (size_t d = 0; d < r; ++d) {
    if (dims[d] < 0) continue;
    if (output)
      b.out_dim(i, static_cast<int>(d), dims[d]);
    else
      b.in_dim(i, static_cast<int>(d), dims[d]);
  }
}

// The mask broadcasts to the scores [..,Sq,Sk] from the right: a dim follows the scores' factor
// only where it has the scores' size (size-1 broadcast dims never split), as in elementwise.
void map_mask(Builder& b, size_t i, const AttnFactors& f) {
  const Shape& m = b.in[i];
  std::vector<int> dims = f.lead;
  dims.push_back(f.sq);
  dims.push_back(f.sk);
  const size_t r = dims.size();
  for (size_t d = 0; d < m.size() && m.size() <= r; ++d) {
    const int sf = dims[r - m.size() + d];
    if (m[d] == b.r.factors[sf].size) b.in_dim(i, static_cast<int>(d), sf);
  }
}

}  // namespace

// (q, k, v[, mask]) -> (y, ws). Flops: the two products and ~5 per score for mask and softmax;
// scratch: ~4 passes over the scores (write S, read for max and exp, write P, read for P·v).
StatusOr<OpRule> fused_attention(const std::string& op, const AttrMap& a,
                                 const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 3, 4, 2));
  TSR_RETURN_IF_ERROR(check_shapes(op, a, in));
  Builder b(op, in, out);
  const AttnFactors f = make_factors(b, op, a, false);
  map(b, false, 0, f, f.sq, f.d);
  map(b, false, 1, f, f.sk, f.d);
  map(b, false, 2, f, f.sk, f.dv);
  if (in.size() == 4) map_mask(b, 3, f);
  map(b, true, 0, f, f.sq, f.dv);
  map(b, true, 1, f, -1, -1, false);
  const auto& fs = b.r.factors;
  const double scores = f.n * fs[f.sq].size * fs[f.sk].size;
  b.r.flops = 2.0 * scores * static_cast<double>(fs[f.d].size + fs[f.dv].size) + 5.0 * scores;
  b.r.scratch_elements = 4.0 * scores;
  return std::move(b.r);
}

// (q, k, v, dy[, mask]) -> (dq, dk, dv, ws_p, ws_dp). A Dv split leaves dP = dy·vᵀ a partial sum;
// dS, dq and dk are linear in it, so they come out partial over Dv's axes while dv is exact.
// Flops: recomputed scores, dP, dq, dk, dv (2·Sq·Sk·(3D + 2Dv) per batch-head) and ~9 per score;
// scratch: ~8 passes over the scores.
StatusOr<OpRule> fused_attention_grad(const std::string& op, const AttrMap& a,
                                      const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 4, 5, 5));
  TSR_RETURN_IF_ERROR(check_shapes(op, a, in));
  Builder b(op, in, out);
  const AttnFactors f = make_factors(b, op, a, true);
  map(b, false, 0, f, f.sq, f.d);
  map(b, false, 1, f, f.sk, f.d);
  map(b, false, 2, f, f.sk, f.dv);
  map(b, false, 3, f, f.sq, f.dv);
  if (in.size() == 5) map_mask(b, 4, f);
  map(b, true, 0, f, f.sq, f.d);
  map(b, true, 1, f, f.sk, f.d);
  map(b, true, 2, f, f.sk, f.dv);
  map(b, true, 3, f, -1, -1, false);
  map(b, true, 4, f, -1, -1, false);
  b.r.output_sums = {{f.dv}, {f.dv}, {}, {}, {f.dv}};
  const auto& fs = b.r.factors;
  const double scores = f.n * fs[f.sq].size * fs[f.sk].size;
  b.r.flops =
      2.0 * scores * static_cast<double>(3 * fs[f.d].size + 2 * fs[f.dv].size) + 9.0 * scores;
  b.r.scratch_elements = 8.0 * scores;
  return std::move(b.r);
}

}  // namespace tessera::spmd::rules
