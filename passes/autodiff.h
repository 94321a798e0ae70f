// The autodiff stage as the driver calls it: train mode turns the inference graph into one
// training step (loss, backward, optimizer update). The work is in passes/core/autodiff*.
#pragma once
#include "ir/graph.h"
#include "passes/core/autodiff.h"
#include "passes/pipeline.h"
#include "tessera/status.h"

namespace tessera::passes {

using autodiff::TrainOptions;

// g.outputs becomes [loss, updated weights and optimizer states...] (or the gradients with
// o.gradients_only); new graph input "labels".
Status run_autodiff(ir::Graph& g, const TrainOptions& o);

// The MLIR pass form (tessera-opt -tessera-autodiff): runs when the module says
// tessera.mode = "train" and has no loss yet; options from module attributes
// tessera.train.request.{loss,optimizer,lr} (optimizer "none" = gradients only).
Status run_autodiff_stage(ir::Graph& g, PipelineContext& ctx);

}  // namespace tessera::passes
