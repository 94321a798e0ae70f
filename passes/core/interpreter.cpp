// Runs nodes in graph order; each value is a TensorData sized from the graph's inferred
// dtype/shape, so kernels check what the compiler believed.
#include "passes/core/interpreter.h"

#include <fmt/format.h>

#include "cpu/cpu_kernels.h"
#include "cpu/train_kernels.h"

namespace tessera::core {
namespace {

ir::TensorData zeros(DType t, const Shape& s) {
  ir::TensorData d;
  d.dtype = t;
  d.shape = s;
  d.bytes.assign(static_cast<size_t>(num_elements(s) * dtype_size(t)), 0);
  return d;
}

kernels::TensorRef ref(ir::TensorData& d) {
  return kernels::TensorRef{d.dtype, d.shape, d.bytes.data()};
}

// Leaves: graph inputs (required feeds), weights and constants (graph data unless fed).
Status bind_leaf(const ir::Value& v, const Feeds& feeds, ir::TensorData* slot) {
  auto it = feeds.find(v.name);
  if (it != feeds.end()) {
    if (it->second.dtype != v.dtype || it->second.shape != v.shape)
      return InvalidArgument(fmt::format("interpret: feed '{}' is {} {}, graph wants {} {}", v.name,
                                         dtype_name(it->second.dtype), shape_str(it->second.shape),
                                         dtype_name(v.dtype), shape_str(v.shape)));
    *slot = it->second;
    return Status::Ok();
  }
  if (v.kind == ir::ValueKind::kInput)
    return InvalidArgument(fmt::format("interpret: graph input '{}' not fed", v.name));
  if (!v.data) return NotFound(fmt::format("interpret: value '{}' has no data", v.name));
  *slot = *v.data;
  return Status::Ok();
}

Status run_node(const ir::Graph& g, const ir::Node& n, std::vector<ir::TensorData>& vals) {
  kernels::KernelFn fn = kernels::find_cpu_kernel(n.op);
  if (!fn) fn = kernels::find_cpu_train_kernel(n.op);
  if (!fn)
    return Unimplemented(
        fmt::format("interpret: no CPU kernel for op '{}' (node '{}')", n.op, n.name));
  std::vector<kernels::TensorRef> in, out;
  for (int v : n.inputs) in.push_back(v < 0 ? kernels::TensorRef{} : ref(vals[v]));
  for (int v : n.outputs) {
    vals[v] = zeros(g.values[v].dtype, g.values[v].shape);
    out.push_back(ref(vals[v]));
  }
  Status s = fn(n.attrs, in, out);
  if (!s.ok())
    return Status(s.code(),
                  fmt::format("interpret: node '{}' ({}): {}", n.name, n.op, s.message()));
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<ir::TensorData>> interpret_all(const ir::Graph& g, const Feeds& feeds) {
  std::vector<ir::TensorData> vals(g.values.size());
  for (size_t i = 0; i < g.values.size(); ++i) {
    if (g.values[i].kind != ir::ValueKind::kActivation)
      TSR_RETURN_IF_ERROR(bind_leaf(g.values[i], feeds, &vals[i]));
  }
  for (const ir::Node& n : g.nodes) TSR_RETURN_IF_ERROR(run_node(g, n, vals));
  return vals;
}

StatusOr<std::vector<ir::TensorData>> interpret(const ir::Graph& g, const Feeds& feeds) {
  TSR_ASSIGN_OR_RETURN(std::vector<ir::TensorData> vals, interpret_all(g, feeds));
  std::vector<ir::TensorData> outs;
  for (int v : g.outputs) outs.push_back(vals[v]);
  return outs;
}

}  // namespace tessera::core
