// The autodiff stage as the driver calls it: train mode turns the inference graph into one
// training step (loss, backward, optimizer update). The work is in passes/core/autodiff*.
#pragma once
#include "ir/graph.h"
#include "passes/core/autodiff.h"
#include "tessera/status.h"

namespace tessera::passes {

using autodiff::TrainOptions;

// g.outputs becomes [loss, updated weights and optimizer states...] (or the gradients with
// o.gradients_only); new graph input "labels".
Status run_autodiff(ir::Graph& g, const TrainOptions& o);

}  // namespace tessera::passes
