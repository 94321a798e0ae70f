#include "passes/core/arena_alias.h"

namespace tessera::core {
namespace {

const Shape& local_of(const ir::Value& v) {
  return v.local_shape.empty() ? v.shape : v.local_shape;
}

// Takes arena space in the plan: not weight storage, not written into a state's storage.
bool arena_value(const ir::Value& v, int inplace_state) {
  const bool stored = v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant;
  return !stored && inplace_state < 0;
}

}  // namespace

std::vector<int> arena_alias_roots(const ir::Graph& g, const std::vector<int>& inplace) {
  std::vector<int> root(g.values.size());
  for (size_t v = 0; v < root.size(); ++v) root[v] = static_cast<int>(v);
  // Nodes are in topological order, so an input's root is final before its readers: a chain
  // of reshapes resolves in one pass (the union-find degenerates to a parent pointer).
  for (const ir::Node& n : g.nodes) {
    if (!is_reshape_like_op(n.op) || n.inputs.empty() || n.outputs.size() != 1) continue;
    const int in = n.inputs[0], out = n.outputs[0];
    if (in < 0) continue;
    const ir::Value &a = g.values[in], &b = g.values[out];
    if (!arena_value(a, inplace[in]) || !arena_value(b, inplace[out])) continue;
    if (a.dtype != b.dtype || num_elements(local_of(a)) != num_elements(local_of(b))) continue;
    root[out] = root[in];
  }
  return root;
}

}  // namespace tessera::core
