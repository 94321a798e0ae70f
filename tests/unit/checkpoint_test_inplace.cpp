// In-place optimizer updates (passes/core/inplace_updates.h): which updated outputs share their
// state's storage, and the arena bytes that saves (the checkpoint model and the emitter agree).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>

#include "passes/checkpoint_stages.h"
#include "passes/core/autodiff.h"
#include "passes/core/inplace_updates.h"

namespace tessera::passes {
namespace {

ir::Value value(const std::string& name, const Shape& s, ir::ValueKind k) {
  ir::Value v;
  v.name = name;
  v.dtype = DType::kFloat32;
  v.shape = s;
  v.kind = k;
  return v;
}

// x[4,64] -> layers.l: Tanh(MatMul(h, W[64,64])) + h, trained with MSE and `optimizer`: a small
// batch, so the weights, not the activations, decide the peak.
ir::Graph mlp(int layers, const std::string& optimizer, double momentum) {
  ir::Graph g;
  g.name = "mlp";
  int h = g.add_value(value("x", {4, 64}, ir::ValueKind::kInput));
  g.inputs.push_back(h);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    ir::Value w = value(p + "w", {64, 64}, ir::ValueKind::kWeight);
    auto d = std::make_shared<ir::TensorData>();
    d->dtype = DType::kFloat32;
    d->shape = {64, 64};
    d->bytes.resize(64 * 64 * 4);
    w.data = d;
    const int wid = g.add_value(w);
    const int m = g.add_value(value(p + "mm", {4, 64}, ir::ValueKind::kActivation));
    const int t = g.add_value(value(p + "t", {4, 64}, ir::ValueKind::kActivation));
    const int r = g.add_value(value(p + "r", {4, 64}, ir::ValueKind::kActivation));
    for (auto [op, ins, out] :
         {std::tuple<const char*, std::vector<int>, int>{"MatMul", {h, wid}, m},
          {"Tanh", {m}, t},
          {"Add", {t, h}, r}}) {
      ir::Node n;
      n.name = p + op;
      n.op = op;
      n.inputs = ins;
      n.outputs = {out};
      g.add_node(n);
    }
    h = r;
  }
  g.outputs.push_back(h);
  autodiff::TrainOptions o;
  o.loss = "mse";
  o.optimizer = optimizer;
  o.momentum = momentum;
  EXPECT_TRUE(autodiff::build_training_graph(g, o).ok());
  return g;
}

int value_named(const ir::Graph& g, const std::string& name) {
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].name == name) return static_cast<int>(v);
  return -1;
}

// The optimizer's outputs alias their states; the step counter's Add (reads its state, not an
// optimizer kernel) stays out of place. The planned peak drops by the updated copies' bytes
// where the optimizer tail is the peak.
TEST(InplaceUpdates, OptimizerOutputsShareTheirStates) {
  for (const auto& [opt, mom, per_weight] :
       {std::tuple<std::string, double, int>{"adamw", 0.0, 3}, {"sgd", 0.9, 2}, {"sgd", 0.0, 1}}) {
    ir::Graph g = mlp(4, opt, mom);
    const std::vector<int> alias = core::inplace_update_states(g);
    int aliased = 0;
    int64_t bytes = 0;
    for (size_t v = 0; v < alias.size(); ++v) {
      if (alias[v] < 0) continue;
      ++aliased;
      bytes += arena_bytes(g.values[v]);
      EXPECT_EQ(g.values[v].name, g.values[alias[v]].name + ".new");
      const std::string& op = g.nodes[g.values[v].producer].op;
      EXPECT_TRUE(op == "AdamW" || op == "SGD") << op;
    }
    EXPECT_EQ(aliased, 4 * per_weight) << opt;
    if (opt == "adamw") {
      EXPECT_EQ(alias[value_named(g, "optimizer.step.new")], -1);
    }
    ir::Graph copies = g;
    copies.meta.erase("train.updates");  // no pairs: every update an arena value, as before
    const int64_t before = planned_peak(copies), after = planned_peak(g);
    EXPECT_GE(after, before - bytes) << opt;
    if (opt == "adamw") {
      // Before, the optimizer tail (weights, two moments and their copies) was the peak; after,
      // the peak moves into the backward pass (here 74% of the copies' bytes lower).
      EXPECT_LE(after, before - bytes / 2) << opt << ": " << before << " -> " << after;
    } else {
      EXPECT_LE(after, before) << opt;  // SGD's peak is in the backward pass
    }
  }
}

// A reader of the old weight after the optimizer keeps that weight's update out of place.
TEST(InplaceUpdates, ReaderAfterTheUpdateKeepsItOutOfPlace) {
  ir::Graph g = mlp(2, "adamw", 0.0);
  const int w = value_named(g, "layers.1.w");
  ASSERT_GE(w, 0);
  const int late = g.add_value(value("late", {64, 64}, ir::ValueKind::kActivation));
  ir::Node n;
  n.name = "late_reader";
  n.op = "Neg";
  n.inputs = {w};
  n.outputs = {late};
  g.add_node(n);
  g.outputs.push_back(late);
  const std::vector<int> alias = core::inplace_update_states(g);
  EXPECT_EQ(alias[value_named(g, "layers.1.w.new")], -1);
  EXPECT_EQ(alias[value_named(g, "layers.0.w.new")], value_named(g, "layers.0.w"));
  EXPECT_EQ(alias[value_named(g, "layers.1.w.adam_m.new")], value_named(g, "layers.1.w.adam_m"));
}

// An update whose layout differs from its state's (here: a different dtype) is never aliased.
TEST(InplaceUpdates, LayoutMismatchKeepsItOutOfPlace) {
  ir::Graph g = mlp(1, "sgd", 0.0);
  const int u = value_named(g, "layers.0.w.new");
  ASSERT_GE(u, 0);
  g.values[u].sharding = "[{tp}, {}]";
  EXPECT_EQ(core::inplace_update_states(g)[u], -1);
}

}  // namespace
}  // namespace tessera::passes
