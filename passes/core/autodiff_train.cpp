// The loss in front of the backward graph and the optimizer behind it. Optimizer state is
// ordinary weights (zero-initialised), so planning, sharding and checkpointing see it like any
// parameter; the runtime aliases each state with its update (g.meta "train.updates").
#include <fmt/format.h>

#include <cstring>
#include <map>
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

namespace {

// fp16 dynamic loss scaling around the backward and the optimizer. The backward is seeded with
// the scale S (state "loss_scale") instead of 1, so 16-bit gradients are S times the true ones
// and small values survive fp16; each f32 gradient is multiplied by 1/S (exact: S is a power of
// two) before the update. `bad` is true when any gradient is inf or nan (sum of g*0 over every
// gradient is nan then; partial sums all-reduce like any other); the updates are then skipped.
struct LossScale {
  int scale = -1, good = -1, bad = -1;
};

GradList unscale(ir::Graph& g, const GradList& grads, LossScale& ls) {
  Builder b(g);
  b.set_scope("loss_scale");
  const int inv = b.op1("Reciprocal", {ls.scale});
  GradList out;
  int probe = -1;
  for (const auto& [w, grad] : grads) {
    const int u = b.mul(grad, inv);
    std::vector<int64_t> axes(b.shape(u).size());
    for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
    const int z = b.mul(u, b.scalar_like(u, 0.0));
    const int s = axes.empty() ? z : b.reduce_sum(z, axes, false);
    probe = probe < 0 ? s : b.add(probe, s);
    out.emplace_back(w, u);
  }
  ls.bad = probe < 0 ? -1 : b.op1("IsNaN", {probe});
  return out;
}

// Every optimizer update X.new becomes Where(bad, X, X.new); then the scale's own update.
Status gate_updates(ir::Graph& g, const LossScale& ls, const TrainOptions& o,
                    std::vector<int>& outs) {
  Builder b(g);
  b.set_scope("loss_scale/gate");
  std::vector<std::string> pairs = attr_strs(g.meta, "train.updates");
  std::map<std::string, int> id;
  for (int v = 0; v < static_cast<int>(g.values.size()); ++v) id[g.values[v].name] = v;
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    const int state = id.at(pairs[i]), upd = id.at(pairs[i + 1]);
    const int gated = b.op1("Where", {ls.bad, state, upd});
    TSR_RETURN_IF_ERROR(b.status());
    g.values[upd].name += ".ungated";
    g.values[gated].name = pairs[i + 1];
    for (int& x : outs)
      if (x == upd) x = gated;
  }
  b.set_scope("loss_scale/update");
  const int good1 = b.add(ls.good, b.scalar(DType::kInt64, 1));
  const int grow =
      b.op1("GreaterOrEqual", {good1, b.scalar(DType::kInt64, double(o.loss_scale_window))});
  const int zero = b.scalar(DType::kInt64, 0);
  const int s_ok = b.op1("Where", {grow, b.mul(ls.scale, b.scalar(DType::kFloat32, 2)), ls.scale});
  const int s_new = b.op1("Where", {ls.bad, b.mul(ls.scale, b.scalar(DType::kFloat32, 0.5)), s_ok});
  const int g_new = b.op1("Where", {ls.bad, zero, b.op1("Where", {grow, zero, good1})});
  TSR_RETURN_IF_ERROR(b.status());
  for (auto [state, upd] : {std::pair{ls.scale, s_new}, std::pair{ls.good, g_new}}) {
    g.values[upd].name = g.values[state].name + ".new";
    pairs.push_back(g.values[state].name);
    pairs.push_back(g.values[upd].name);
    outs.push_back(upd);
  }
  g.meta["train.updates"] = Attr::Strs(pairs);
  return Status::Ok();
}

}  // namespace

Status build_training_graph(ir::Graph& g, const TrainOptions& o) {
  TSR_ASSIGN_OR_RETURN(const std::vector<int> wrt, trained_weights(g, o));
  StateUpdates forward_updates;
  TSR_RETURN_IF_ERROR(prepare_train_forward(g, o, &forward_updates));
  if (o.precision != "fp32" && o.precision != "bf16" && o.precision != "fp16")
    return InvalidArgument("--precision '" + o.precision + "': expected fp32, bf16 or fp16");
  if (o.precision != "fp32")
    TSR_RETURN_IF_ERROR(autocast_forward(
        g, o.precision == "bf16" ? DType::kBFloat16 : DType::kFloat16, wrt, &forward_updates));
  TSR_ASSIGN_OR_RETURN(const int loss, append_loss(g, o));
  LossScale ls;
  if (o.precision == "fp16") {
    if (!(o.loss_scale > 0) || o.loss_scale_window < 1)
      return InvalidArgument("autodiff: loss scale must be positive, its window >= 1");
    if (g.values[loss].dtype != DType::kFloat32)
      return Internal("autodiff: fp16 loss scaling needs an f32 loss");
    ls.scale = add_state(g, "loss_scale", DType::kFloat32, {}, true);
    auto d = std::make_shared<ir::TensorData>(*g.values[ls.scale].data);
    const float s0 = static_cast<float>(o.loss_scale);
    std::memcpy(d->bytes.data(), &s0, 4);
    g.values[ls.scale].data = std::move(d);
    ls.good = add_state(g, "loss_scale.good_steps", DType::kInt64, {}, true);
  }
  TSR_ASSIGN_OR_RETURN(GradList grads, append_backward(g, loss, wrt, o, ls.scale));
  if (ls.scale >= 0) {
    grads = unscale(g, grads, ls);
    if (ls.bad < 0) return InvalidArgument("autodiff: fp16 loss scaling: no gradient to check");
  }
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
    if (ls.scale >= 0) TSR_RETURN_IF_ERROR(gate_updates(g, ls, o, outs));
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
