// Adapter from the pipeline to the autodiff core; records the options on the graph so a dump
// of the stage says how the step was built.
#include "passes/autodiff.h"

namespace tessera::passes {

Status run_autodiff(ir::Graph& g, const TrainOptions& o) {
  TSR_RETURN_IF_ERROR(autodiff::build_training_graph(g, o));
  g.meta["train.loss"] = Attr::Str(o.loss);
  g.meta["train.optimizer"] = Attr::Str(o.gradients_only ? "none" : o.optimizer);
  g.meta["train.lr"] = Attr::Float(o.lr);
  g.meta["train.precision"] = Attr::Str(o.precision);
  return Status::Ok();
}

Status run_autodiff_stage(ir::Graph& g, PipelineContext& ctx) {
  if (ctx.mode != "train" || attr_has(g.meta, "train.loss")) return Status::Ok();
  TrainOptions o;
  o.loss = attr_str(g.meta, "train.request.loss", o.loss);
  o.optimizer = attr_str(g.meta, "train.request.optimizer", o.optimizer);
  o.gradients_only = o.optimizer == "none";
  if (o.gradients_only) o.optimizer = "adamw";
  o.lr = attr_float(g.meta, "train.request.lr", o.lr);
  o.precision = attr_str(g.meta, "train.request.precision", o.precision);
  return run_autodiff(g, o);
}

}  // namespace tessera::passes
