// Gradient of BatchNormalization with batch statistics (lowered by autodiff_train_forward.cpp
// to y = BatchNormApply(x, BatchNormStats(x), scale, bias)). BatchNormApply's rule gives the
// whole gradient of x, through the batch statistics too, with the fused backward pair:
//   (Σdy, Σdy·x̂) = BatchNormGradStats(dy, x, sum, sumsq)          per-channel sums (partial
//                                                                  over a split batch)
//   dx = BatchNormGradInput(dy, x, sum, sumsq, scale, Σdy, Σdy·x̂)  γ·inv/n·(n·dy − Σdy − x̂·Σdy·x̂)
//   dscale = Σdy·x̂, dbias = Σdy
// so the sums get no gradient of their own, which holds only when they are BatchNormStats of
// the same x (checked). BatchNormStats has no rule: nothing else differentiates through it.
#include <fmt/format.h>

#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {

void grad_batch_norm_apply(GradCall& c) {
  Builder& b = c.b;
  if (c.dy[0] < 0) return;
  const ir::Graph& g = b.graph();
  const int x = c.in(0), s = c.in(1), ss = c.in(2);
  const int p = g.values[s].producer;
  if (p < 0 || g.values[ss].producer != p || g.nodes[p].op != "BatchNormStats" ||
      g.nodes[p].inputs[0] != x || g.nodes[p].outputs[0] != s || g.nodes[p].outputs[1] != ss)
    return b.fail(Unimplemented(fmt::format(
        "autodiff: node '{}' (BatchNormApply): its sums are not BatchNormStats of its input",
        c.n.name)));
  int dy = c.dy[0];
  if (b.dtype(dy) != b.dtype(x))
    dy = b.op1("Cast", {dy}, {{"to", Attr::Int(static_cast<int64_t>(b.dtype(x)))}});
  const AttrMap a = {{"count", Attr::Float(attr_float(c.n.attrs, "count", 0))},
                     {"epsilon", Attr::Float(attr_float(c.n.attrs, "epsilon", 1e-5))}};
  const std::vector<int> sums = b.op("BatchNormGradStats", {dy, x, s, ss}, a, 2);
  if (!b.status().ok()) return;
  if (c.wants(0))
    c.dx[0] = b.op1("BatchNormGradInput", {dy, x, s, ss, c.in(3), sums[0], sums[1]}, a);
  c.dx[3] = sums[1];
  c.dx[4] = sums[0];
}

}  // namespace tessera::autodiff
