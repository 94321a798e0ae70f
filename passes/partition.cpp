// partition: global program -> the per-rank local program. Every value gets its local shape
// from its spec; attributes that spell out global sizes (Reshape/Expand target shapes) are
// rewritten to local ones. Then shape inference re-runs on local shapes as a check: a sharding
// rule that let through an inconsistent split is caught here, naming the node, not at run time.
#include "ir/shape_infer.h"
#include "passes/core/sharding_spec.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

Status localise_attrs(ir::Graph& g, ir::Node& n) {
  if (n.op == "Reshape" || n.op == "Expand")
    n.attrs["shape"] = Attr::Ints(g.values[n.outputs[0]].local_shape);
  // Training ops whose result shape is an attribute (the forward operand's shape).
  const char* shape_attr = n.op == "GatherGrad" || n.op == "GatherElementsGrad" ? "data_shape"
                           : n.op == "ConvGradWeight"                           ? "w_shape"
                           : n.op == "AveragePoolGrad"                          ? "x_shape"
                                                                                : nullptr;
  if (shape_attr) n.attrs[shape_attr] = Attr::Ints(g.values[n.outputs[0]].local_shape);
  return Status::Ok();
}

Status check_local(const ir::Graph& g, const ir::Node& n) {
  if (ir::is_collective_op(n.op)) return Status::Ok();
  std::vector<ir::TypeShape> in;
  for (int i : n.inputs)
    in.push_back(i < 0 ? ir::TypeShape{DType::kUndefined, {}}
                       : ir::TypeShape{g.values[i].dtype, g.values[i].local_shape});
  auto out = ir::infer(n, in);
  if (!out.ok())
    return Internal("partition: local program of node '" + n.name + "' (" + n.op +
                    ") is inconsistent: " + out.status().message());
  for (size_t i = 0; i < n.outputs.size(); ++i)
    if ((*out)[i].second != g.values[n.outputs[i]].local_shape)
      return Internal("partition: node '" + n.name + "' (" + n.op + ") output " +
                      std::to_string(i) + " local shape " +
                      shape_str(g.values[n.outputs[i]].local_shape) + " but inference gives " +
                      shape_str((*out)[i].second));
  return Status::Ok();
}

}  // namespace

Status run_partition(ir::Graph& g, PipelineContext& ctx) {
  for (ir::Value& v : g.values) {
    if (v.sharding.empty()) {
      v.local_shape = v.shape;
      continue;
    }
    auto spec = spmd::ShardingSpec::parse(v.sharding);
    if (!spec.ok()) return InvalidArgument("tensor '" + v.name + "': " + spec.status().message());
    Status st = spec->validate(v.shape, ctx.mesh);
    if (!st.ok()) return InvalidArgument("tensor '" + v.name + "': " + st.message());
    v.local_shape = spec->local_shape(v.shape, ctx.mesh);
  }
  for (ir::Node& n : g.nodes) {
    TSR_RETURN_IF_ERROR(localise_attrs(g, n));
    TSR_RETURN_IF_ERROR(check_local(g, n));
  }
  g.meta["partitioned"] = Attr::Int(1);
  return Status::Ok();
}

}  // namespace tessera::passes
