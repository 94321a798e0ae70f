// Adapter from the pipeline to the autodiff core; records the options on the graph so a dump
// of the stage says how the step was built.
#include "passes/autodiff.h"

namespace tessera::passes {

Status run_autodiff(ir::Graph& g, const TrainOptions& o) {
  TSR_RETURN_IF_ERROR(autodiff::build_training_graph(g, o));
  g.meta["train.loss"] = Attr::Str(o.loss);
  g.meta["train.optimizer"] = Attr::Str(o.gradients_only ? "none" : o.optimizer);
  return Status::Ok();
}

}  // namespace tessera::passes
