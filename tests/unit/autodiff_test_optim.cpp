// Optimizer kernels against float64 reference formulas over several steps, the training
// graph's optimizer wiring, and the training tables' order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "autodiff_test_util.h"
#include "cpu/train_kernels.h"
#include "ir/train_ops.h"
#include "passes/core/autodiff.h"
#include "passes/core/interpreter.h"

namespace tessera {
namespace {

using kernels::TensorRef;

TensorRef ref(std::vector<float>& v) { return {DType::kFloat32, {int64_t(v.size())}, v.data()}; }

TEST(TrainKernels, AdamWMatchesReferenceOverSteps) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
  std::vector<float> w = {0.5f, -1.0f, 2.0f}, m(3, 0.f), v(3, 0.f), wo(3), mo(3), vo(3);
  std::vector<double> rw(w.begin(), w.end()), rm(3, 0.0), rv(3, 0.0);
  AttrMap a = {{"lr", Attr::Float(lr)},
               {"beta1", Attr::Float(b1)},
               {"beta2", Attr::Float(b2)},
               {"eps", Attr::Float(eps)},
               {"weight_decay", Attr::Float(wd)}};
  for (int64_t t = 1; t <= 4; ++t) {
    std::vector<float> g = {0.1f * float(t), -0.3f, 0.05f};
    int64_t step = t;
    Status s = kernels::cpu::AdamW(a, {ref(w), ref(g), ref(m), ref(v), {DType::kInt64, {}, &step}},
                                   {ref(wo), ref(mo), ref(vo)});
    ASSERT_TRUE(s.ok()) << s.to_string();
    w = wo, m = mo, v = vo;
    for (int i = 0; i < 3; ++i) {  // torch.optim.AdamW
      rw[i] *= 1 - lr * wd;
      rm[i] = b1 * rm[i] + (1 - b1) * g[i];
      rv[i] = b2 * rv[i] + (1 - b2) * double(g[i]) * g[i];
      const double mh = rm[i] / (1 - std::pow(b1, t)), vh = rv[i] / (1 - std::pow(b2, t));
      rw[i] -= lr * mh / (std::sqrt(vh) + eps);
      EXPECT_NEAR(w[i], rw[i], 1e-6) << "step " << t << " element " << i;
      EXPECT_NEAR(m[i], rm[i], 1e-7);
      EXPECT_NEAR(v[i], rv[i], 1e-7);
    }
  }
}

TEST(TrainKernels, SgdWithAndWithoutMomentum) {
  const double lr = 0.1, mom = 0.9, wd = 0.01;
  for (bool with_buf : {false, true}) {
    std::vector<float> w = {1.0f, -2.0f}, buf(2, 0.f), wo(2), bo(2);
    std::vector<double> rw = {1.0, -2.0}, rb = {0.0, 0.0};
    AttrMap a = {{"lr", Attr::Float(lr)},
                 {"momentum", Attr::Float(with_buf ? mom : 0.0)},
                 {"weight_decay", Attr::Float(wd)}};
    for (int t = 1; t <= 3; ++t) {
      std::vector<float> g = {0.5f / float(t), 0.25f};
      std::vector<TensorRef> in = {ref(w), ref(g)}, out = {ref(wo)};
      if (with_buf) in.push_back(ref(buf)), out.push_back(ref(bo));
      Status s = kernels::cpu::SGD(a, in, out);
      ASSERT_TRUE(s.ok()) << s.to_string();
      w = wo;
      if (with_buf) buf = bo;
      for (int i = 0; i < 2; ++i) {  // torch.optim.SGD
        double d = g[i] + wd * rw[i];
        if (with_buf) d = rb[i] = mom * rb[i] + d;
        rw[i] -= lr * d;
        EXPECT_NEAR(w[i], rw[i], 1e-6) << "momentum " << with_buf << " step " << t;
      }
    }
  }
}

TEST(TrainKernels, TablesSortedAndAgree) {
  const auto& kt = kernels::cpu_train_kernel_table();
  const auto& ot = ir::train_op_table();
  auto by_name = [](const auto& a, const auto& b) { return std::string_view(a.op) < b.op; };
  EXPECT_TRUE(std::is_sorted(kt.begin(), kt.end(), by_name));
  ASSERT_EQ(kt.size(), ot.size());
  for (size_t i = 0; i < kt.size(); ++i) EXPECT_STREQ(kt[i].op, ot[i].name);
}

// A linear model trained by the graph: loss and weights after one AdamW/SGD step, with the
// optimizer state wired as weights and the step counter advanced.
TEST(TrainGraph, OptimizerStepMatchesKernels) {
  for (const char* opt : {"adamw", "sgd"}) {
    ir::Graph g;
    auto value = [&](const char* name, Shape s, ir::ValueKind k) {
      ir::Value v;
      v.name = name;
      v.dtype = DType::kFloat32;
      v.shape = std::move(s);
      v.kind = k;
      return g.add_value(std::move(v));
    };
    const int xi = value("x", {2, 3}, ir::ValueKind::kInput),
              wi = value("w", {3, 2}, ir::ValueKind::kWeight);
    const int yi = value("y", {2, 2}, ir::ValueKind::kActivation);
    g.values[wi].data = std::make_shared<ir::TensorData>(adtest::make_tensor(
        DType::kFloat32, {3, 2}, std::vector<float>{0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f}));
    const ir::TensorDataPtr w0data = g.values[wi].data;
    g.inputs = {xi};
    ir::Node mm;
    mm.name = "mm";
    mm.op = "MatMul";
    mm.inputs = {xi, wi};
    mm.outputs = {yi};
    g.add_node(mm);
    g.outputs = {yi};
    autodiff::TrainOptions o;
    o.optimizer = opt;
    o.momentum = 0.9;
    o.lr = 0.1;
    Status s = autodiff::build_training_graph(g, o);
    ASSERT_TRUE(s.ok()) << s.to_string();
    core::Feeds f = {
        {"x", adtest::make_tensor(DType::kFloat32, {2, 3}, std::vector<float>{1, 2, 3, -1, 0, 1})},
        {"labels", adtest::make_tensor(DType::kInt64, {2}, std::vector<int64_t>{1, 0})}};
    auto outs = core::interpret(g, f);
    ASSERT_TRUE(outs.ok()) << outs.status().to_string();
    std::vector<std::string> names;
    for (int v : g.outputs) names.push_back(g.values[v].name);
    if (std::string(opt) == "adamw") {
      EXPECT_EQ(names, (std::vector<std::string>{"loss", "w.new", "w.adam_m.new", "w.adam_v.new",
                                                 "optimizer.step.new"}));
      EXPECT_EQ((*outs)[4].as<int64_t>()[0], 1);
      // First AdamW step moves every element by about lr (m/sqrt(v) = sign(g)) plus decay.
      const auto w0 = adtest::to_doubles(*w0data), w1 = adtest::to_doubles((*outs)[1]);
      for (size_t i = 0; i < w0.size(); ++i)
        EXPECT_NEAR(std::abs(w1[i] - w0[i] * (1 - 0.1 * 0.01)), 0.1, 1e-4);
    } else {
      EXPECT_EQ(names, (std::vector<std::string>{"loss", "w.new", "w.momentum.new"}));
    }
  }
}

}  // namespace
}  // namespace tessera
