// The checkpoint pass on a small MLP trained with MSE: each mode's rewritten graph computes the
// same loss and gradients as the original (interpreter), recomputes nodes when it must, and an
// impossible budget names the smallest one that fits.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "passes/checkpoint_stages.h"
#include "passes/core/autodiff.h"
#include "passes/core/interpreter.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

ir::TensorDataPtr filled(const Shape& s, int seed) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kFloat32;
  d->shape = s;
  d->bytes.resize(num_elements(s) * 4);
  float* p = reinterpret_cast<float*>(d->bytes.data());
  for (int64_t i = 0; i < num_elements(s); ++i) p[i] = std::sin(0.37f * (i + 1) + seed) * 0.5f;
  return d;
}

// x[64,16] -> layers.l: Tanh(MatMul(h, W)) + h  (residual: articulation points between layers).
// The batch makes activations outweigh the weight gradients, so recomputation lowers the peak.
constexpr int64_t kBatch = 64;
ir::Value value(const std::string& name, const Shape& s, ir::ValueKind k) {
  ir::Value v;
  v.name = name;
  v.dtype = DType::kFloat32;
  v.shape = s;
  v.kind = k;
  return v;
}

ir::Node node(const std::string& name, const std::string& op, std::vector<int> ins, int out) {
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(ins);
  n.outputs = {out};
  return n;
}

ir::Graph mlp(int layers) {
  ir::Graph g;
  g.name = "mlp";
  ir::Value x = value("x", {kBatch, 16}, ir::ValueKind::kInput);
  int h = g.add_value(x);
  g.inputs.push_back(h);
  for (int l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    ir::Value w = value(p + "w", {16, 16}, ir::ValueKind::kWeight);
    w.data = filled({16, 16}, l);
    const int wid = g.add_value(w);
    auto act = [&](const std::string& n) {
      return g.add_value(value(p + n, {kBatch, 16}, ir::ValueKind::kActivation));
    };
    const int m = act("mm"), t = act("tanh"), r = act("res");
    g.add_node(node(p + "MatMul", "MatMul", {h, wid}, m));
    g.add_node(node(p + "Tanh", "Tanh", {m}, t));
    g.add_node(node(p + "Add", "Add", {t, h}, r));
    h = r;
  }
  g.outputs.push_back(h);
  autodiff::TrainOptions o;
  o.loss = "mse";
  o.gradients_only = true;
  EXPECT_TRUE(autodiff::build_training_graph(g, o).ok());
  return g;
}

core::Feeds feeds() {
  core::Feeds f;
  f["x"] = *filled({kBatch, 16}, 100);
  f["labels"] = *filled({kBatch, 16}, 200);
  return f;
}

PipelineContext context(int64_t budget) {
  auto ctx = make_context("", "cpu", budget, "train", "");
  EXPECT_TRUE(ctx.ok());
  return *ctx;
}

void expect_same(const ir::Graph& a, const ir::Graph& b) {
  auto ra = core::interpret(a, feeds());
  auto rb = core::interpret(b, feeds());
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  ASSERT_EQ(ra->size(), rb->size());
  for (size_t i = 0; i < ra->size(); ++i) {
    const float* x = (*ra)[i].as<float>();
    const float* y = (*rb)[i].as<float>();
    for (int64_t k = 0; k < (*ra)[i].numel(); ++k)
      EXPECT_NEAR(x[k], y[k], 1e-6 * std::max(1.0f, std::fabs(x[k]))) << i << " " << k;
  }
}

int recomputed(const ir::Graph& g) {
  int n = 0;
  for (const auto& node : g.nodes) n += node.name.find("/recompute") != std::string::npos;
  return n;
}

TEST(CheckpointPass, StagesFollowLayers) {
  ir::Graph g = mlp(4);
  ForwardChain fc = build_forward_chain(g, context(0));
  ASSERT_GT(fc.backward_begin, 0);
  ASSERT_GE(fc.problem.stages.size(), 4u);
  std::set<int> layers;
  for (const auto& s : fc.problem.stages) layers.insert(s.layer);
  EXPECT_TRUE(layers.count(0) && layers.count(3));
}

TEST(CheckpointPass, EveryModeKeepsNumerics) {
  const ir::Graph ref = mlp(4);
  for (const char* mode : {"none", "every-layer", "sqrt-n"}) {
    ir::Graph g = ref;
    g.meta["checkpoint"] = Attr::Str(mode);
    PipelineContext ctx = context(0);
    ASSERT_TRUE(run_checkpoint(g, ctx).ok()) << mode;
    EXPECT_EQ(recomputed(g) > 0, std::string(mode) != "none") << mode;
    expect_same(ref, g);
  }
}

// The error for an impossible budget names the smallest one that fits; at that budget auto
// compiles, recomputes, keeps the numerics, and its planned peak (weights + arena, what the
// runtime allocates) does not exceed the budget.
TEST(CheckpointPass, AutoAtTheNamedMinimumBudget) {
  const ir::Graph ref = mlp(6);
  ir::Graph tight = ref;
  tight.meta["checkpoint"] = Attr::Str("auto");
  PipelineContext small = context(1);
  Status st = run_checkpoint(tight, small);
  ASSERT_FALSE(st.ok());
  const std::string msg = st.message();
  const size_t at = msg.find("smallest budget that fits is");
  ASSERT_NE(at, std::string::npos) << msg;
  const size_t open = msg.find('(', at);
  ASSERT_NE(open, std::string::npos) << msg;
  const int64_t min = std::stoll(msg.substr(open + 1));
  EXPECT_LT(min, planned_peak(ref));

  ir::Graph g = ref;
  g.meta["checkpoint"] = Attr::Str("auto");
  PipelineContext ctx = context(min);
  ASSERT_TRUE(run_checkpoint(g, ctx).ok());
  EXPECT_GT(recomputed(g), 0);
  EXPECT_LE(planned_peak(g), min);
  EXPECT_EQ(attr_int(g.meta, "memory.planned.peak", 0), planned_peak(g));
  expect_same(ref, g);
}

// Between the minimum and the no-checkpoint peak, auto's plan fits and recomputes no more than
// either fixed schedule that also fits.
TEST(CheckpointPass, AutoFitsEveryBudgetAndBeatsTheBaselines) {
  const ir::Graph ref = mlp(6);
  const int64_t keep_all = planned_peak(ref);
  std::vector<std::pair<int64_t, double>> baselines;  // (planned peak, recompute seconds)
  for (const char* mode : {"every-layer", "sqrt-n"}) {
    ir::Graph g = ref;
    g.meta["checkpoint"] = Attr::Str(mode);
    PipelineContext ctx = context(0);
    ASSERT_TRUE(run_checkpoint(g, ctx).ok());
    baselines.push_back({planned_peak(g), attr_float(g.meta, "checkpoint.recompute_seconds", 0)});
  }
  for (int k = 0; k <= 4; ++k) {
    const int64_t budget = baselines[0].first + (keep_all - baselines[0].first) * k / 4;
    ir::Graph g = ref;
    g.meta["checkpoint"] = Attr::Str("auto");
    PipelineContext ctx = context(budget);
    ASSERT_TRUE(run_checkpoint(g, ctx).ok()) << budget;
    EXPECT_LE(planned_peak(g), budget);
    const double secs = attr_float(g.meta, "checkpoint.recompute_seconds", -1);
    for (const auto& [peak, rec] : baselines)
      if (peak <= budget) {
        EXPECT_LE(secs, rec + 1e-12) << budget;
      }
    if (budget >= keep_all) {
      EXPECT_EQ(recomputed(g), 0);
    }
    expect_same(ref, g);
  }
}

// Without recomputation the stage model's peak is the arena's (the planner's packing aside):
// never below it, and close.
TEST(CheckpointPass, ModelTracksTheArena) {
  for (int layers : {2, 6}) {
    const ir::Graph g = mlp(layers);
    const ForwardChain fc = build_forward_chain(g, context(0));
    const int64_t model = core::ckpt_none(fc.problem).peak, arena = planned_peak(g);
    EXPECT_LE(std::abs(model - arena), arena / 10) << layers << ": " << model << " " << arena;
  }
}

}  // namespace
}  // namespace tessera::passes
