#include "passes/graph_match.h"

#include <cmath>

#include "ir/shape_infer.h"

namespace tessera::passes {

std::vector<std::vector<int>> value_readers(const ir::Graph& g) {
  std::vector<std::vector<int>> r(g.values.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs)
      if (in >= 0) r[in].push_back(static_cast<int>(i));
  return r;
}

bool is_graph_output(const ir::Graph& g, int v) {
  for (int o : g.outputs)
    if (o == v) return true;
  return false;
}

double element_as_double(const ir::TensorData& d, int64_t i) {
  switch (d.dtype) {
    case DType::kFloat32:
      return d.as<float>()[i];
    case DType::kFloat64:
      return d.as<double>()[i];
    case DType::kBool:
      return d.as<uint8_t>()[i] ? 1 : 0;
    case DType::kInt64:
      return static_cast<double>(d.as<int64_t>()[i]);
    case DType::kInt32:
      return d.as<int32_t>()[i];
    default:
      return NAN;
  }
}

Status check_inferred_types(const ir::Graph& g, const ir::Node& n, const std::string& stage) {
  std::vector<ir::TypeShape> in;
  for (int v : n.inputs)
    in.push_back(v < 0 ? ir::TypeShape{DType::kUndefined, {}}
                       : ir::TypeShape{g.values[v].dtype, g.values[v].shape});
  auto out = ir::infer(n, in);
  if (!out.ok()) return Internal(stage + ": node '" + n.name + "': " + out.status().message());
  for (size_t i = 0; i < n.outputs.size() && i < out->size(); ++i) {
    const ir::Value& y = g.values[n.outputs[i]];
    if ((*out)[i] != ir::TypeShape{y.dtype, y.shape})
      return Internal(stage + ": node '" + n.name + "' would change the type of '" + y.name + "'");
  }
  return Status::Ok();
}

}  // namespace tessera::passes
