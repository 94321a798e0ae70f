// Reverse-mode AD over ir::Graph. Forward nodes are visited once in reverse order; each output's
// gradient is the sum of the contributions its consumers made (an Add chain, built when the
// producer is reached, so every contribution exists by then). Cost: one rule call per forward
// node on a path from a trained weight to the loss.
#include <fmt/format.h>

#include <map>

#include "passes/core/autodiff.h"
#include "passes/core/autodiff_rules.h"

namespace tessera::autodiff {
namespace {

bool is_float_weight(const ir::Value& v) {
  return v.kind == ir::ValueKind::kWeight && dtype_is_float(v.dtype);
}

// Values that depend on a trained weight through float data.
std::vector<bool> requires_grad(const ir::Graph& g, const std::vector<int>& wrt) {
  std::vector<bool> r(g.values.size(), false);
  for (int w : wrt) r[w] = true;
  for (const ir::Node& n : g.nodes) {
    bool any = false;
    for (int v : n.inputs) any = any || (v >= 0 && r[v]);
    if (!any) continue;
    for (int v : n.outputs) r[v] = dtype_is_float(g.values[v].dtype);
  }
  return r;
}

class Backward {
 public:
  Backward(ir::Graph& g, const TrainOptions& o) : g_(g), b_(g), opts_(o) {}

  // Sum of the contributions to v (-1 when none).
  int total(int v) {
    auto it = pending_.find(v);
    if (it == pending_.end() || it->second.empty()) return -1;
    std::vector<int>& parts = it->second;
    if (parts.size() > 1) {
      b_.set_scope("grad/sum/" + g_.values[v].name);
      int s = parts[0];
      for (size_t i = 1; i < parts.size(); ++i) s = b_.add(s, parts[i]);
      parts = {s};
    }
    return parts[0];
  }
  void contribute(int v, int grad) { pending_[v].push_back(grad); }
  Status node(int idx, const std::vector<bool>& req);
  Builder& builder() { return b_; }

 private:
  ir::Graph& g_;
  Builder b_;
  const TrainOptions& opts_;
  std::map<int, std::vector<int>> pending_;
};

Status Backward::node(int idx, const std::vector<bool>& req) {
  const ir::Node n = g_.nodes[idx];  // copy: rules append to g_.nodes
  std::vector<int> dy;
  bool any_dy = false, any_need = false;
  for (int v : n.outputs) {
    dy.push_back(total(v));
    any_dy = any_dy || dy.back() >= 0;
  }
  std::vector<bool> need;
  for (int v : n.inputs) {
    need.push_back(v >= 0 && req[v]);
    any_need = any_need || need.back();
  }
  TSR_RETURN_IF_ERROR(b_.status());
  if (!any_dy || !any_need) return Status::Ok();
  GradFn rule = find_grad_rule(n.op);
  if (!rule)
    return Unimplemented(
        fmt::format("autodiff: no gradient rule for op '{}' (node '{}')", n.op, n.name));
  b_.set_scope("grad/" + n.name);
  GradCall c{b_, n, dy, need, std::vector<int>(n.inputs.size(), -1), opts_};
  rule(c);
  TSR_RETURN_IF_ERROR(b_.status());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const int x = n.inputs[i], d = c.dx[i];
    if (x < 0 || d < 0 || !need[i]) continue;
    const ir::Value &xv = g_.values[x], &dv = g_.values[d];
    if (xv.shape != dv.shape || xv.dtype != dv.dtype)
      return Internal(fmt::format(
          "autodiff: rule for '{}' (node '{}') gave input {} a gradient {} {}, want {} {}", n.op,
          n.name, i, dtype_name(dv.dtype), shape_str(dv.shape), dtype_name(xv.dtype),
          shape_str(xv.shape)));
    contribute(x, d);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<GradList> append_backward(ir::Graph& g, int loss, const std::vector<int>& wrt_in,
                                   const TrainOptions& o, int seed) {
  if (loss < 0 || loss >= static_cast<int>(g.values.size()) || !g.values[loss].shape.empty() ||
      !dtype_is_float(g.values[loss].dtype))
    return InvalidArgument("autodiff: the loss must be a float scalar value");
  std::vector<int> wrt = wrt_in;
  if (wrt.empty()) {
    for (int v = 0; v < static_cast<int>(g.values.size()); ++v) {
      if (is_float_weight(g.values[v])) wrt.push_back(v);
    }
  }
  const std::vector<bool> req = requires_grad(g, wrt);
  const int forward_nodes = static_cast<int>(g.nodes.size());
  Backward bw(g, o);
  bw.builder().set_scope("grad/seed");
  if (seed >= 0 && (!g.values[seed].shape.empty() || g.values[seed].dtype != g.values[loss].dtype))
    return InvalidArgument("autodiff: the loss seed must be a scalar of the loss's dtype");
  bw.contribute(loss, seed >= 0 ? seed : bw.builder().scalar(g.values[loss].dtype, 1.0));
  for (int i = forward_nodes - 1; i >= 0; --i) TSR_RETURN_IF_ERROR(bw.node(i, req));
  GradList grads;
  for (int w : wrt) {
    const int d = bw.total(w);
    if (d >= 0) grads.emplace_back(w, d);
  }
  TSR_RETURN_IF_ERROR(bw.builder().status());
  return grads;
}

}  // namespace tessera::autodiff
