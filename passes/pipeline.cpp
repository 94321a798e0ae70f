#include "passes/pipeline.h"

namespace tessera::passes {

StatusOr<PipelineContext> make_context(const std::string& mesh, const std::string& cluster,
                                       int64_t memory_budget, const std::string& mode,
                                       const std::string& strategy_file) {
  PipelineContext ctx;
  if (!mesh.empty()) {
    auto m = spmd::Mesh::parse(mesh);
    if (!m.ok()) return InvalidArgument("--mesh '" + mesh + "': " + m.status().message());
    ctx.mesh = std::move(m).value();
  }
  auto prof = spmd::load_profile(cluster, ctx.mesh);
  if (!prof.ok()) return InvalidArgument("--cluster '" + cluster + "': " + prof.status().message());
  ctx.cluster = std::move(prof).value();
  ctx.cluster_name = cluster;
  if (memory_budget < 0) return InvalidArgument("--memory-budget must be positive");
  ctx.memory_budget = memory_budget ? memory_budget : static_cast<int64_t>(ctx.cluster.device.mem_bytes);
  if (mode != "infer" && mode != "train")
    return InvalidArgument("--mode '" + mode + "': expected infer or train");
  ctx.mode = mode;
  ctx.strategy_file = strategy_file;
  return ctx;
}

void record_context(const PipelineContext& ctx, ir::Graph& g) {
  g.meta["mesh"] = Attr::Str(ctx.mesh.to_string());
  g.meta["cluster"] = Attr::Str(ctx.cluster_name);
  g.meta["memory_budget"] = Attr::Int(ctx.memory_budget);
  g.meta["mode"] = Attr::Str(ctx.mode);
  if (!ctx.strategy_file.empty()) g.meta["strategy_file"] = Attr::Str(ctx.strategy_file);
}

StatusOr<PipelineContext> context_from_graph(const ir::Graph& g) {
  return make_context(attr_str(g.meta, "mesh", ""), attr_str(g.meta, "cluster", "cpu"),
                      attr_int(g.meta, "memory_budget", 0), attr_str(g.meta, "mode", "infer"),
                      attr_str(g.meta, "strategy_file", ""));
}

}  // namespace tessera::passes
