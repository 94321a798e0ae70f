// spmd-search: choose, per op, how its tensors are split over the mesh (see
// passes/core/solver.h). Until the search core is wired, every tensor is replicated, which is
// always legal: each rank computes the whole model.
#include "passes/pipeline.h"

namespace tessera::passes {

Status run_spmd_search(ir::Graph& g, PipelineContext& ctx) {
  record_context(ctx, g);
  for (ir::Node& n : g.nodes) {
    n.strategy = "replicated";
    n.input_specs.assign(n.inputs.size(), "");
  }
  return Status::Ok();
}

}  // namespace tessera::passes
