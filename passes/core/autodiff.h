// Training-graph construction (plain C++ over ir::Graph): the loss appended to the model's
// first output, the backward graph by reverse-mode AD over the canonical ops (one gradient
// rule table, autodiff_rules.cpp), and one optimizer update per trainable weight. The pass
// adapter is passes/autodiff.cpp; docs/ops.md "Training ops" lists the ops this emits.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::autodiff {

struct TrainOptions {
  std::string loss = "cross_entropy";  // or "mse"
  std::string optimizer = "adamw";     // or "sgd"
  double lr = 1e-3;
  double weight_decay = 0.01;
  double momentum = 0.0;  // sgd; > 0 adds a momentum buffer per weight
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // true: BatchNormalization keeps eval semantics (running statistics as constants); false:
  // batch statistics and running statistics updated per step (autodiff_train_forward.cpp).
  bool batchnorm_eval = true;
  // Dropout's Philox key (with the node's stream id); plans are reproducible per seed.
  int64_t seed = 0;
  // Which float weights train. Exporters store folded constants (attention masks, sliced
  // tables, scalar literals) as float initializers, which the frontend imports as weights;
  // these lists keep them out of the optimizer. Empty `trainable` = every float weight.
  std::vector<std::string> trainable;
  std::vector<std::string> frozen;
  // Stop after the gradients: outputs are [loss, "<weight>.grad"...], no optimizer.
  bool gradients_only = false;
  // With the optimizer: also output "<weight>.grad" (tessera run --dump-gradients reads them;
  // costs keeping every gradient alive to the end of the step).
  bool output_gradients = false;
  // "fp32", or "bf16"/"fp16": the forward runs 16-bit with f32 master weights and optimizer
  // state (autodiff_autocast.cpp); fp16 adds dynamic loss scaling (states "loss_scale",
  // "loss_scale.good_steps"; a step with a non-finite gradient is skipped and halves the scale,
  // loss_scale_window good steps double it).
  std::string precision = "fp32";
  double loss_scale = 65536.0;       // fp16: the scale's initial value
  int64_t loss_scale_window = 2000;  // fp16: good steps before the scale doubles
};

// (weight value id, gradient value id), in weight-id order.
using GradList = std::vector<std::pair<int, int>>;

// Adds graph input "labels" and the loss on g.outputs[0]; returns the scalar loss value id.
// cross_entropy: labels int64 of the output's shape less its last dim, mean over rows.
// mse: labels of the output's dtype and shape, mean of squared error.
StatusOr<int> append_loss(ir::Graph& g, const TrainOptions& o);

// Gradients of scalar `loss` with respect to the float weights in `wrt` (all float weights
// when empty). Weights the loss does not depend on through a differentiable input (running
// statistics, index tables) get no entry.
// `seed`: the loss's incoming gradient (a float scalar value of the loss's dtype: fp16's loss
// scale); -1 = the constant 1.
StatusOr<GradList> append_backward(ir::Graph& g, int loss, const std::vector<int>& wrt = {},
                                   const TrainOptions& o = {}, int seed = -1);

// One optimizer node per weight; state values ("<w>.adam_m", "<w>.adam_v", "<w>.momentum",
// "optimizer.step") are new zero-initialised weights (data only when the weight has data).
// Returns the output value ids: per weight the new weight then its new state, then the new step.
// g.meta["train.updates"] lists pairs (state name, updated name) for the runtime to alias.
StatusOr<std::vector<int>> append_optimizer(ir::Graph& g, const GradList& grads,
                                            const TrainOptions& o);

// Pairs (state value id, its updated value id) the forward pass makes in train mode.
using StateUpdates = std::vector<std::pair<int, int>>;

// Train-mode forward semantics before the backward: Dropout gets its step counter
// ("dropout.step", a state) and position inputs; with !batchnorm_eval, BatchNormalization is
// lowered to primitives on batch statistics, its running statistics updated as states (none
// with gradients_only).
Status prepare_train_forward(ir::Graph& g, const TrainOptions& o, StateUpdates* updates);

// Mixed precision (o.precision bf16/fp16) on the forward graph, before the loss: f32 weights
// (`trained`: the master weights) get a Cast to `t` at use, activations become `t` except
// around f32-only ops, model outputs and the forward-state `updates` are cast back to f32.
Status autocast_forward(ir::Graph& g, DType t, const std::vector<int>& trained,
                        StateUpdates* updates);

// All of the above; g.outputs becomes [loss, updated weights and states...] or, with
// gradients_only, [loss, "<w>.grad"...]. Prunes what the new outputs do not use.
Status build_training_graph(ir::Graph& g, const TrainOptions& o);

}  // namespace tessera::autodiff
