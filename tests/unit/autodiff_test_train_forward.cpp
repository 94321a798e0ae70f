// Train-mode forward semantics: the Philox generator (known-answer vectors), the Dropout kernel
// (drop rate within statistical bounds, scale, determinism, the same mask for any sharding of
// the global index space) and BatchNormalization on batch statistics (lowered to primitives)
// against a float64 reference: forward, running-statistics update and gradients by central
// differences.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff_test_util.h"
#include "cpu/philox.h"
#include "cpu/train_kernels.h"
#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"
#include "passes/core/interpreter.h"

namespace tessera {
namespace {

using adtest::make_tensor;
using kernels::TensorRef;
namespace philox = kernels::philox;

// Random123's published known-answer vectors for philox4x32_10 (kat_vectors).
TEST(Philox, KnownAnswers) {
  EXPECT_EQ(philox::philox4x32_10({0, 0, 0, 0}, {0, 0}),
            (philox::Block{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox::philox4x32_10({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}),
            (philox::Block{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox::philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                                  {0xa4093822u, 0x299f31d0u}),
            (philox::Block{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

struct DropoutRun {
  std::vector<float> y;
  std::vector<uint8_t> mask;
};

// Dropout over a [rows, cols] float32 tensor of ones; `pos` (empty = none) per dim.
DropoutRun dropout(int64_t rows, int64_t cols, double ratio, int64_t step,
                   std::vector<std::vector<int64_t>> pos = {}, int64_t seed = 7) {
  std::vector<float> x(static_cast<size_t>(rows * cols), 1.0f);
  DropoutRun r;
  r.y.assign(x.size(), -1.0f);
  r.mask.assign(x.size(), 2);
  std::vector<TensorRef> in = {{DType::kFloat32, {rows, cols}, x.data()},
                               {DType::kInt64, {}, &step}};
  for (auto& p : pos) in.push_back({DType::kInt64, {static_cast<int64_t>(p.size())}, p.data()});
  const AttrMap a = {
      {"ratio", Attr::Float(ratio)}, {"seed", Attr::Int(seed)}, {"stream", Attr::Int(42)}};
  Status s = kernels::run_cpu_kernel(
      "Dropout", a, in,
      {{DType::kFloat32, {rows, cols}, r.y.data()}, {DType::kBool, {rows, cols}, r.mask.data()}});
  EXPECT_TRUE(s.ok()) << s.to_string();
  return r;
}

std::vector<int64_t> iota(int64_t start, int64_t n, int64_t stride) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = (start + i) * stride;
  return v;
}

// Kept fraction within 5 sigma of 1 - ratio (binomial); kept values are exactly x / (1-ratio).
TEST(DropoutKernel, RateAndScale) {
  for (double ratio : {0.1, 0.3, 0.5, 0.9}) {
    const int64_t n = 200000;
    const DropoutRun r = dropout(400, 500, ratio, 3);
    int64_t kept = 0;
    const float scale = static_cast<float>(1.0 / (1.0 - ratio));
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_LE(r.mask[i], 1);
      kept += r.mask[i];
      ASSERT_EQ(r.y[i], r.mask[i] ? scale : 0.0f) << "element " << i;
    }
    const double p = 1 - ratio, sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(double(kept) / n, p, 5 * sigma) << "ratio " << ratio;
  }
  const DropoutRun zero = dropout(10, 10, 0.0, 1);
  for (float v : zero.y) EXPECT_EQ(v, 1.0f);
}

// Same (seed, stream, step) -> same mask; another step or seed -> an independent one (agreement
// near p^2 + (1-p)^2 = 0.5 at ratio 0.5, 5 sigma bounds).
TEST(DropoutKernel, DeterministicPerStepAndSeed) {
  const DropoutRun a = dropout(100, 100, 0.5, 4), b = dropout(100, 100, 0.5, 4);
  EXPECT_EQ(a.mask, b.mask);
  for (const DropoutRun& c : {dropout(100, 100, 0.5, 5), dropout(100, 100, 0.5, 4, {}, 8)}) {
    int64_t same = 0;
    for (size_t i = 0; i < a.mask.size(); ++i) same += a.mask[i] == c.mask[i];
    EXPECT_NEAR(double(same) / 1e4, 0.5, 5 * 0.005);
  }
}

// A shard of rows [r0, r0 + nr) and columns [c0, c0 + nc) of a [12, 10] tensor, given the
// position vectors the compiler would shard, draws exactly the full tensor's mask there.
TEST(DropoutKernel, ShardsDrawTheGlobalMask) {
  const int64_t R = 12, C = 10;
  const DropoutRun full = dropout(R, C, 0.5, 9);
  const DropoutRun with_pos = dropout(R, C, 0.5, 9, {iota(0, R, C), iota(0, C, 1)});
  EXPECT_EQ(full.y, with_pos.y);
  for (auto [r0, nr, c0, nc] : {std::array<int64_t, 4>{0, 6, 0, 10},
                                {6, 6, 0, 10},
                                {0, 12, 5, 5},
                                {3, 3, 5, 5},
                                {9, 3, 0, 5}}) {
    const DropoutRun s = dropout(nr, nc, 0.5, 9, {iota(r0, nr, C), iota(c0, nc, 1)});
    for (int64_t i = 0; i < nr; ++i)
      for (int64_t j = 0; j < nc; ++j)
        ASSERT_EQ(s.mask[i * nc + j], full.mask[(r0 + i) * C + c0 + j])
            << "shard at " << r0 << "," << c0 << " element " << i << "," << j;
  }
}

TEST(DropoutKernel, RejectsBadRatioAndPositions) {
  float x[4] = {1, 2, 3, 4}, y[4];
  int64_t step = 0, pos[3] = {0, 1, 2};
  const std::vector<TensorRef> out = {{DType::kFloat32, {4}, y}};
  auto run = [&](double ratio, std::vector<TensorRef> extra) {
    std::vector<TensorRef> in = {{DType::kFloat32, {4}, x}, {DType::kInt64, {}, &step}};
    in.insert(in.end(), extra.begin(), extra.end());
    return kernels::run_cpu_kernel("Dropout", {{"ratio", Attr::Float(ratio)}}, in, out);
  };
  EXPECT_TRUE(run(0.5, {}).ok());
  EXPECT_FALSE(run(1.0, {}).ok());
  EXPECT_FALSE(run(-0.1, {}).ok());
  EXPECT_FALSE(run(0.5, {{DType::kInt64, {3}, pos}}).ok());  // position of the wrong length
}

// ---- BatchNormalization with batch statistics ----

constexpr DType kF64 = DType::kFloat64;
const Shape kX = {3, 2, 2, 3};  // N, C, H, W: 18 values per channel

int add_weight(ir::Graph& g, const std::string& name, const Shape& s, std::vector<double> v) {
  ir::Value x;
  x.name = name;
  x.dtype = kF64;
  x.shape = s;
  x.kind = ir::ValueKind::kWeight;
  x.data = std::make_shared<ir::TensorData>(make_tensor(kF64, s, v));
  return g.add_value(std::move(x));
}

struct BnGraph {
  ir::Graph g;
  int x, scale, bias, rm, rv, y;
};

BnGraph bn_graph(std::mt19937& rng) {
  BnGraph b;
  b.x = add_weight(b.g, "x", kX, adtest::random_doubles(rng, num_elements(kX), -2, 2));
  b.scale = add_weight(b.g, "scale", {2}, {0.7, 1.3});
  b.bias = add_weight(b.g, "bias", {2}, {0.1, -0.2});
  b.rm = add_weight(b.g, "bn.running_mean", {2}, {0.5, -0.5});
  b.rv = add_weight(b.g, "bn.running_var", {2}, {2.0, 0.5});
  autodiff::Builder bl(b.g);
  b.y = bl.op1("BatchNormalization", {b.x, b.scale, b.bias, b.rm, b.rv},
               {{"epsilon", Attr::Float(1e-3)}, {"momentum", Attr::Float(0.8)}});
  b.g.nodes.back().name = "bn";
  return b;
}

// Per channel: mean, biased and unbiased variance of x (float64 reference).
void channel_stats(const std::vector<double>& x, int c, double* mean, double* var, double* uvar) {
  const int64_t n = kX[0], hw = kX[2] * kX[3], cnt = n * hw;
  double s = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < hw; ++k) s += x[(i * kX[1] + c) * hw + k];
  *mean = s / cnt;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < hw; ++k) ss += std::pow(x[(i * kX[1] + c) * hw + k] - *mean, 2);
  *var = ss / cnt;
  *uvar = ss / (cnt - 1);
}

TEST(BatchNormTrain, ForwardAndRunningStatisticsMatchFloat64Reference) {
  std::mt19937 rng(5);
  BnGraph b = bn_graph(rng);
  autodiff::TrainOptions o;
  o.batchnorm_eval = false;
  autodiff::StateUpdates upd;
  ASSERT_TRUE(autodiff::prepare_train_forward(b.g, o, &upd).ok());
  ASSERT_EQ(upd.size(), 2u);
  EXPECT_EQ(upd[0].first, b.rm);
  EXPECT_EQ(upd[1].first, b.rv);
  for (const ir::Node& n : b.g.nodes) EXPECT_NE(n.op, "BatchNormalization") << "not lowered";
  b.g.outputs = {b.y, upd[0].second, upd[1].second};
  auto out = core::interpret(b.g, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const auto x = adtest::to_doubles(*b.g.values[b.x].data);
  const auto y = adtest::to_doubles((*out)[0]);
  const double scale[2] = {0.7, 1.3}, bias[2] = {0.1, -0.2}, rm[2] = {0.5, -0.5},
               rv[2] = {2.0, 0.5};
  const int64_t hw = kX[2] * kX[3];
  for (int c = 0; c < 2; ++c) {
    double mean, var, uvar;
    channel_stats(x, c, &mean, &var, &uvar);
    for (int64_t i = 0; i < kX[0]; ++i)
      for (int64_t k = 0; k < hw; ++k) {
        const int64_t e = (i * kX[1] + c) * hw + k;
        EXPECT_NEAR(y[e], (x[e] - mean) / std::sqrt(var + 1e-3) * scale[c] + bias[c], 1e-12);
      }
    // ONNX: running = running * momentum + batch * (1 - momentum); variance unbiased.
    EXPECT_NEAR(adtest::to_doubles((*out)[1])[c], rm[c] * 0.8 + mean * 0.2, 1e-12);
    EXPECT_NEAR(adtest::to_doubles((*out)[2])[c], rv[c] * 0.8 + uvar * 0.2, 1e-12);
  }
}

// Gradients of sum(y * R) with respect to x, scale and bias through the lowered graph against
// central differences of the same float64 graph (batch statistics move with x).
TEST(BatchNormTrain, GradientsMatchCentralDifferences) {
  std::mt19937 rng(6);
  BnGraph b = bn_graph(rng);
  autodiff::TrainOptions o;
  o.batchnorm_eval = false;
  o.gradients_only = true;
  autodiff::StateUpdates upd;
  ASSERT_TRUE(autodiff::prepare_train_forward(b.g, o, &upd).ok());
  EXPECT_TRUE(upd.empty()) << "gradients_only leaves the running statistics alone";
  autodiff::Builder bl(b.g);
  const int r = add_weight(b.g, "R", kX, adtest::random_doubles(rng, num_elements(kX), -1, 1));
  b.g.values[r].kind = ir::ValueKind::kConstant;
  const int loss = bl.op1("ReduceSum", {bl.mul(b.y, r)},
                          {{"axes", Attr::Ints({0, 1, 2, 3})}, {"keepdims", Attr::Int(0)}});
  const std::vector<int> wrt = {b.x, b.scale, b.bias};
  auto grads = autodiff::append_backward(b.g, loss, wrt);
  ASSERT_TRUE(grads.ok()) << grads.status().to_string();
  ASSERT_EQ(grads->size(), 3u);
  b.g.outputs = {loss};
  for (const auto& wg : *grads) b.g.outputs.push_back(wg.second);
  auto outs = core::interpret(b.g, {});
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  const double h = 1e-6;
  for (size_t k = 0; k < grads->size(); ++k) {
    const ir::Value& wv = b.g.values[(*grads)[k].first];
    ir::TensorData w = *wv.data;
    std::vector<double> num(static_cast<size_t>(w.numel()));
    for (int64_t i = 0; i < w.numel(); ++i) {
      double* p = reinterpret_cast<double*>(w.bytes.data()) + i;
      const double x0 = *p;
      double l[2];
      for (int s = 0; s < 2; ++s) {
        *p = x0 + (s ? -h : h);
        auto o2 = core::interpret(b.g, {{wv.name, w}});
        ASSERT_TRUE(o2.ok());
        l[s] = (*o2)[0].as<double>()[0];
      }
      *p = x0;
      num[i] = (l[0] - l[1]) / (2 * h);
    }
    EXPECT_LT(adtest::rel_max_err(adtest::to_doubles((*outs)[k + 1]), num), 1e-6) << wv.name;
  }
}

// Exporters tie equal initializers (torch.onnx's resnet50: `bn1.running_mean = Identity(bn1.bias)`,
// one running variance read directly by one layer and through Identity by others). Every
// BatchNormalization's statistics become weights of its own, named after the Identity output
// (or "<node>.running_mean|var"), starting from the tied value; graph-only weights stay without
// data; a statistic computed by the graph is refused.
TEST(BatchNormTrain, TiedRunningStatisticsBecomeWeightsOfTheirOwn) {
  for (bool graph_only : {false, true}) {
    std::mt19937 rng(7);
    BnGraph b = bn_graph(rng);  // "bn": its own bn.running_mean / bn.running_var
    autodiff::Builder bl(b.g);
    auto identity = [&](int v, const std::string& name) {
      const int o = bl.op1("Identity", {v});
      b.g.values[o].name = name;
      return o;
    };
    const AttrMap eps = {{"epsilon", Attr::Float(1e-3)}};
    const int ya = bl.op1("BatchNormalization",
                          {b.y, b.scale, b.bias, identity(b.bias, "a.running_mean"),
                           identity(b.scale, "a.running_var")},
                          eps);
    b.g.nodes.back().name = "a";
    // "c" reads bn's running mean directly (bn keeps it) and its variance through Identity.
    const int yc = bl.op1("BatchNormalization",
                          {ya, b.scale, b.bias, b.rm, identity(b.rv, "c.running_var")}, eps);
    b.g.nodes.back().name = "c";
    if (graph_only)
      for (ir::Value& v : b.g.values)
        if (v.kind == ir::ValueKind::kWeight) v.data = nullptr;
    autodiff::TrainOptions o;
    o.batchnorm_eval = false;
    autodiff::StateUpdates upd;
    Status s = autodiff::prepare_train_forward(b.g, o, &upd);
    ASSERT_TRUE(s.ok()) << s.to_string();
    std::vector<std::string> names;
    for (const auto& [state, updated] : upd) {
      const ir::Value& v = b.g.values[state];
      EXPECT_EQ(v.kind, ir::ValueKind::kWeight) << v.name;
      EXPECT_EQ(v.data == nullptr, graph_only) << v.name;
      names.push_back(v.name);
    }
    EXPECT_EQ(names,
              (std::vector<std::string>{"bn.running_mean", "bn.running_var", "a.running_mean",
                                        "a.running_var", "c.running_mean", "c.running_var"}));
    if (graph_only) continue;
    auto first = [&](int state) { return adtest::to_doubles(*b.g.values[state].data)[0]; };
    EXPECT_EQ(first(upd[2].first), 0.1);  // bias
    EXPECT_EQ(first(upd[3].first), 0.7);  // scale
    EXPECT_EQ(first(upd[4].first), 0.5);  // bn.running_mean, copied
    EXPECT_EQ(first(upd[5].first), 2.0);  // bn.running_var
    // One step: bn's own update starts from its initial statistics, not c's.
    b.g.outputs = {yc, upd[0].second, upd[4].second};
    auto out = core::interpret(b.g, {});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    double mean, var, uvar;
    channel_stats(adtest::to_doubles(*b.g.values[b.x].data), 0, &mean, &var, &uvar);
    EXPECT_NEAR(adtest::to_doubles((*out)[1])[0], 0.5 * 0.8 + mean * 0.2, 1e-12);
  }
  // A running statistic computed by the graph cannot be a state.
  std::mt19937 rng(8);
  BnGraph b = bn_graph(rng);
  autodiff::Builder bl(b.g);
  const int neg = bl.op1("Neg", {b.rm});
  b.g.nodes[0].inputs[3] = neg;
  std::swap(b.g.nodes[0], b.g.nodes[1]);  // topological order: Neg first
  b.g.values[b.g.nodes[0].outputs[0]].producer = 0;
  b.g.values[b.y].producer = 1;
  autodiff::TrainOptions o;
  o.batchnorm_eval = false;
  autodiff::StateUpdates upd;
  Status s = autodiff::prepare_train_forward(b.g, o, &upd);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("running mean"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("computed by the graph"), std::string::npos) << s.message();
}

// A Dropout node gets the step state, its seed and stream, and one position vector per dim
// holding index * global stride; the step's update is published.
TEST(DropoutTrain, PrepareAddsStepSeedAndPositions) {
  ir::Graph g;
  const int x = add_weight(g, "x", {2, 3}, {1, 2, 3, 4, 5, 6});
  autodiff::Builder bl(g);
  bl.op("Dropout", {x}, {{"ratio", Attr::Float(0.2)}}, 2);
  g.nodes.back().name = "drop";
  autodiff::TrainOptions o;
  o.seed = 11;
  autodiff::StateUpdates upd;
  ASSERT_TRUE(autodiff::prepare_train_forward(g, o, &upd).ok());
  const ir::Node& n = g.nodes[0];
  ASSERT_EQ(n.inputs.size(), 4u);
  EXPECT_EQ(g.values[n.inputs[1]].name, "dropout.step");
  EXPECT_EQ(attr_int(n.attrs, "seed", -1), 11);
  EXPECT_NE(attr_int(n.attrs, "stream", 0), 0);
  const ir::TensorData& p0 = *g.values[n.inputs[2]].data;
  const ir::TensorData& p1 = *g.values[n.inputs[3]].data;
  EXPECT_EQ(std::vector<int64_t>(p0.as<int64_t>(), p0.as<int64_t>() + 2),
            (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(std::vector<int64_t>(p1.as<int64_t>(), p1.as<int64_t>() + 3),
            (std::vector<int64_t>{0, 1, 2}));
  ASSERT_EQ(upd.size(), 1u);
  EXPECT_EQ(upd[0].first, n.inputs[1]);
}

}  // namespace
}  // namespace tessera
