// The loss in front of the backward graph and the optimizer behind it. Optimizer state is
// ordinary weights (zero-initialised), so planning, sharding and checkpointing see it like any
// parameter; the runtime aliases each state with its update (g.meta "train.updates").
#include <fmt/format.h>

#include <set>

#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"

namespace tessera::autodiff {
namespace {

int add_input(ir::Graph& g, const std::string& name, DType t, const Shape& s) {
  ir::Value v;
  v.name = name;
  v.dtype = t;
  v.shape = s;
  v.kind = ir::ValueKind::kInput;
  const int id = g.add_value(std::move(v));
  g.inputs.push_back(id);
  return id;
}

// A zero-filled weight shaped like `like`; data only where `like` has data (graph-only models
// plan without any weight bytes, and state for a 1.5B model would be gigabytes of zeros).
int add_state(ir::Graph& g, const std::string& name, DType t, const Shape& s, bool with_data) {
  ir::Value v;
  v.name = name;
  v.dtype = t;
  v.shape = s;
  v.kind = ir::ValueKind::kWeight;
  if (with_data) {
    auto d = std::make_shared<ir::TensorData>();
    d->dtype = t;
    d->shape = s;
    d->bytes.assign(static_cast<size_t>(num_elements(s) * dtype_size(t)), 0);
    v.data = std::move(d);
  }
  return g.add_value(std::move(v));
}

StatusOr<int> cross_entropy(ir::Graph& g, Builder& b, int y) {
  const Shape ys = g.values[y].shape;
  if (ys.empty())
    return InvalidArgument(
        "autodiff: cross_entropy needs logits of rank >= 1, output 0 is a scalar");
  const Shape ls(ys.begin(), ys.end() - 1);
  const int64_t rows = num_elements(ls), classes = ys.back();
  const int labels = add_input(g, "labels", DType::kInt64, ls);
  const int logits2 = b.reshape(y, {rows, classes});
  const int labels1 = b.reshape(labels, {rows});
  // `rows` fixes the mean's divisor to the global row count, so row-split ranks agree.
  const auto out =
      b.op("SoftmaxCrossEntropyLoss", {logits2, labels1}, {{"rows", Attr::Int(rows)}}, 2);
  TSR_RETURN_IF_ERROR(b.status());
  return out[0];
}

StatusOr<int> mse(ir::Graph& g, Builder& b, int y) {
  const ir::Value yv = g.values[y];
  const int labels = add_input(g, "labels", yv.dtype, yv.shape);
  const int d = b.op1("Sub", {y, labels});
  std::vector<int64_t> axes(yv.shape.size());
  for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
  int sq = b.mul(d, d);
  const int loss = axes.empty() ? sq
                                : b.op1("ReduceMean", {sq},
                                        {{"axes", Attr::Ints(axes)}, {"keepdims", Attr::Int(0)}});
  TSR_RETURN_IF_ERROR(b.status());
  return loss;
}

// Float weights selected by o.trainable / o.frozen; an unknown name is an error (a typo would
// otherwise silently train everything or nothing).
StatusOr<std::vector<int>> trained_weights(const ir::Graph& g, const TrainOptions& o) {
  std::set<std::string> want(o.trainable.begin(), o.trainable.end()),
      skip(o.frozen.begin(), o.frozen.end());
  std::vector<int> ids;
  for (int v = 0; v < static_cast<int>(g.values.size()); ++v) {
    const ir::Value& x = g.values[v];
    if (x.kind != ir::ValueKind::kWeight || !dtype_is_float(x.dtype)) continue;
    const bool listed = want.erase(x.name) > 0, frozen = skip.erase(x.name) > 0;
    if ((o.trainable.empty() || listed) && !frozen) ids.push_back(v);
  }
  for (const auto* rest : {&want, &skip}) {
    if (!rest->empty())
      return InvalidArgument(
          fmt::format("autodiff: '{}' named in the trainable/frozen lists is not a float weight",
                      *rest->begin()));
  }
  if (ids.empty()) return InvalidArgument("autodiff: no weight to train");
  return ids;
}

}  // namespace

StatusOr<int> append_loss(ir::Graph& g, const TrainOptions& o) {
  if (g.outputs.empty())
    return InvalidArgument("autodiff: the model has no output to put a loss on");
  const int y = g.outputs[0];
  if (!dtype_is_float(g.values[y].dtype))
    return InvalidArgument(fmt::format("autodiff: output '{}' is {}, a loss needs float",
                                       g.values[y].name, dtype_name(g.values[y].dtype)));
  Builder b(g);
  b.set_scope("loss");
  StatusOr<int> loss =
      o.loss == "cross_entropy" ? cross_entropy(g, b, y)
      : o.loss == "mse"         ? mse(g, b, y)
                        : StatusOr<int>(InvalidArgument("autodiff: unknown loss '" + o.loss + "'"));
  if (loss.ok()) g.values[*loss].name = "loss";
  return loss;
}

StatusOr<std::vector<int>> append_optimizer(ir::Graph& g, const GradList& grads,
                                            const TrainOptions& o) {
  if (o.optimizer != "adamw" && o.optimizer != "sgd")
    return InvalidArgument("autodiff: unknown optimizer '" + o.optimizer + "'");
  Builder b(g);
  b.set_scope("optimizer");
  std::vector<int> outs;
  std::vector<std::string> updates;  // (state, updated) name pairs
  auto publish = [&](int state, int updated) {
    g.values[updated].name = g.values[state].name + ".new";
    updates.push_back(g.values[state].name);
    updates.push_back(g.values[updated].name);
    outs.push_back(updated);
  };
  int step = -1, new_step = -1;
  if (o.optimizer == "adamw") {
    step = add_state(g, "optimizer.step", DType::kInt64, {}, true);
    new_step = b.add(step, b.scalar(DType::kInt64, 1));
  }
  const AttrMap attrs = {
      {"lr", Attr::Float(o.lr)},       {"weight_decay", Attr::Float(o.weight_decay)},
      {"beta1", Attr::Float(o.beta1)}, {"beta2", Attr::Float(o.beta2)},
      {"eps", Attr::Float(o.eps)},     {"momentum", Attr::Float(o.momentum)}};
  for (const auto& [w, grad] : grads) {
    const ir::Value wv = g.values[w];
    b.set_scope("optimizer/" + wv.name);
    std::vector<int> state = {w};
    if (o.optimizer == "adamw") {
      state.push_back(add_state(g, wv.name + ".adam_m", wv.dtype, wv.shape, wv.data != nullptr));
      state.push_back(add_state(g, wv.name + ".adam_v", wv.dtype, wv.shape, wv.data != nullptr));
    } else if (o.momentum > 0) {
      state.push_back(add_state(g, wv.name + ".momentum", wv.dtype, wv.shape, wv.data != nullptr));
    }
    std::vector<int> ins = {w, grad};
    ins.insert(ins.end(), state.begin() + 1, state.end());
    if (new_step >= 0) ins.push_back(new_step);
    const auto res =
        b.op(o.optimizer == "adamw" ? "AdamW" : "SGD", ins, attrs, static_cast<int>(state.size()));
    TSR_RETURN_IF_ERROR(b.status());
    for (size_t i = 0; i < state.size(); ++i) publish(state[i], res[i]);
  }
  if (step >= 0) publish(step, new_step);
  g.meta["train.updates"] = Attr::Strs(updates);
  return outs;
}

Status build_training_graph(ir::Graph& g, const TrainOptions& o) {
  TSR_ASSIGN_OR_RETURN(const std::vector<int> wrt, trained_weights(g, o));
  StateUpdates forward_updates;
  TSR_RETURN_IF_ERROR(prepare_train_forward(g, o, &forward_updates));
  TSR_ASSIGN_OR_RETURN(const int loss, append_loss(g, o));
  TSR_ASSIGN_OR_RETURN(const GradList grads, append_backward(g, loss, wrt, o));
  std::vector<int> outs = {loss};
  if (o.gradients_only || o.output_gradients) {
    Builder b(g);
    for (const auto& [w, grad] : grads) {
      b.set_scope("grad/out");
      const int id = b.op1("Identity", {grad});
      TSR_RETURN_IF_ERROR(b.status());
      g.values[id].name = g.values[w].name + ".grad";
      outs.push_back(id);
    }
  }
  if (!o.gradients_only) {
    TSR_ASSIGN_OR_RETURN(const std::vector<int> upd, append_optimizer(g, grads, o));
    outs.insert(outs.end(), upd.begin(), upd.end());
    std::vector<std::string> pairs = attr_strs(g.meta, "train.updates");
    for (const auto& [state, updated] : forward_updates) {
      g.values[updated].name = g.values[state].name + ".new";
      pairs.push_back(g.values[state].name);
      pairs.push_back(g.values[updated].name);
      outs.push_back(updated);
    }
    g.meta["train.updates"] = Attr::Strs(pairs);
  }
  g.outputs = outs;
  g.prune();
  return Status::Ok();
}

}  // namespace tessera::autodiff
