// The quantize pass on small graphs: which nodes it rewrites, how close the quantized graph stays
// to the float one, that SmoothQuant helps on an outlier channel, and the new ops' sharding rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "passes/core/interpreter.h"
#include "passes/core/sharding_rules.h"
#include "passes/pipeline.h"
#include "tessera/tensor_io.h"

namespace tessera::passes {
namespace {

std::shared_ptr<ir::TensorData> tensor(Shape s, std::mt19937& rng, float sd) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kFloat32;
  d->shape = s;
  d->bytes.resize(num_elements(s) * 4);
  std::normal_distribution<float> n(0, sd);
  for (int64_t i = 0; i < num_elements(s); ++i)
    reinterpret_cast<float*>(d->bytes.data())[i] = n(rng);
  return d;
}

int weight(ir::Graph& g, const std::string& name, std::shared_ptr<ir::TensorData> d) {
  ir::Value v;
  v.name = name;
  v.dtype = d->dtype;
  v.shape = d->shape;
  v.kind = ir::ValueKind::kWeight;
  v.data = std::move(d);
  return g.add_value(std::move(v));
}
int act(ir::Graph& g, const std::string& name, Shape s) {
  ir::Value v;
  v.name = name;
  v.dtype = DType::kFloat32;
  v.shape = std::move(s);
  return g.add_value(std::move(v));
}
void node(ir::Graph& g, const std::string& op, std::vector<int> in, int out, AttrMap a = {}) {
  ir::Node n;
  n.name = op + std::to_string(g.nodes.size());
  n.op = op;
  n.inputs = std::move(in);
  n.outputs = {out};
  n.attrs = std::move(a);
  g.add_node(std::move(n));
}

// x[8,16] -MatMul W0-> h0[8,32] -Mul outlier-> h1 -Gemm W1,b1-> h2[8,32] -Relu-> h3
//   -MatMul W2-> y[8,8]. First and last MatMul stay float; the Gemm is quantized.
ir::Graph model(float outlier) {
  std::mt19937 rng(5);
  ir::Graph g;
  int x = act(g, "x", {8, 16});
  g.values[x].kind = ir::ValueKind::kInput;
  g.inputs = {x};
  auto scale = tensor({32}, rng, 0.1f);
  auto* s = reinterpret_cast<float*>(scale->bytes.data());
  for (int i = 0; i < 32; ++i) s[i] = 1.0f + std::fabs(s[i]);
  s[3] = outlier;
  int h0 = act(g, "h0", {8, 32}), h1 = act(g, "h1", {8, 32}), h2 = act(g, "h2", {8, 32});
  int h3 = act(g, "h3", {8, 32}), y = act(g, "y", {8, 8});
  node(g, "MatMul", {x, weight(g, "W0", tensor({16, 32}, rng, 0.25f))}, h0);
  node(g, "Mul", {h0, weight(g, "outlier", scale)}, h1);
  node(g, "Gemm",
       {h1, weight(g, "W1", tensor({32, 32}, rng, 0.2f)), weight(g, "b1", tensor({32}, rng, 0.1f))},
       h2, {{"transB", Attr::Int(0)}});
  node(g, "Relu", {h2}, h3);
  node(g, "MatMul", {h3, weight(g, "W2", tensor({32, 8}, rng, 0.2f))}, y);
  g.outputs = {y};
  return g;
}

// x[8,16] -MatMul W0-> h0[8,32] -Relu-> h1 -MatMul W1-> h2[8,32] -MatMul W2-> y[8,8]: the
// middle layer reads a one-sided (post-ReLU) activation.
ir::Graph relu_model() {
  std::mt19937 rng(6);
  ir::Graph g;
  int x = act(g, "x", {8, 16});
  g.values[x].kind = ir::ValueKind::kInput;
  g.inputs = {x};
  int h0 = act(g, "h0", {8, 32}), h1 = act(g, "h1", {8, 32}), h2 = act(g, "h2", {8, 32});
  int y = act(g, "y", {8, 8});
  node(g, "MatMul", {x, weight(g, "W0", tensor({16, 32}, rng, 0.25f))}, h0);
  node(g, "Relu", {h0}, h1);
  node(g, "MatMul", {h1, weight(g, "W1", tensor({32, 32}, rng, 0.2f))}, h2);
  node(g, "MatMul", {h2, weight(g, "W2", tensor({32, 8}, rng, 0.2f))}, y);
  g.outputs = {y};
  return g;
}

// x[8,16] -MatMul W0-> h0[8,32] -Mul rows[8,1]-> h1 -MatMul W1-> h2[8,32] -MatMul W2-> y[8,8]:
// the middle layer's input has rows 40x apart in magnitude (a per-tensor scale, set by the
// large rows, leaves the small ones a fortieth of the codes).
ir::Graph rows_model() {
  std::mt19937 rng(7);
  ir::Graph g;
  int x = act(g, "x", {8, 16});
  g.values[x].kind = ir::ValueKind::kInput;
  g.inputs = {x};
  auto rows = tensor({8, 1}, rng, 1.0f);
  for (int i = 0; i < 8; ++i) reinterpret_cast<float*>(rows->bytes.data())[i] = i % 2 ? 40 : 1;
  int h0 = act(g, "h0", {8, 32}), h1 = act(g, "h1", {8, 32}), h2 = act(g, "h2", {8, 32});
  int y = act(g, "y", {8, 8});
  node(g, "MatMul", {x, weight(g, "W0", tensor({16, 32}, rng, 0.25f))}, h0);
  node(g, "Mul", {h0, weight(g, "rows", rows)}, h1);
  node(g, "MatMul", {h1, weight(g, "W1", tensor({32, 32}, rng, 0.2f))}, h2);
  node(g, "MatMul", {h2, weight(g, "W2", tensor({32, 8}, rng, 0.2f))}, y);
  g.outputs = {y};
  return g;
}

std::string calib_dir(int sets) {
  auto dir = std::filesystem::temp_directory_path() / "tessera_quant_test_calib";
  std::filesystem::remove_all(dir);
  std::mt19937 rng(11);
  for (int i = 0; i < sets; ++i) {
    std::filesystem::create_directories(dir / std::to_string(i));
    auto d = tensor({8, 16}, rng, 1.0f);
    HostTensor t;
    t.dtype = DType::kFloat32;
    t.shape = d->shape;
    t.bytes = d->bytes;
    EXPECT_TRUE(write_tensor_proto((dir / std::to_string(i) / "input_0.pb").string(), t).ok());
  }
  return dir.string();
}

// Relative L2 error of the quantized graph's output against the float graph's on fresh inputs.
double rel_error(const ir::Graph& f, const ir::Graph& q) {
  std::mt19937 rng(99);
  double num = 0, den = 0;
  for (int r = 0; r < 4; ++r) {
    core::Feeds feeds{{"x", *tensor({8, 16}, rng, 1.0f)}};
    auto a = core::interpret(f, feeds);
    auto b = core::interpret(q, feeds);
    EXPECT_TRUE(a.ok() && b.ok());
    const float *pa = (*a)[0].as<float>(), *pb = (*b)[0].as<float>();
    for (int64_t i = 0; i < (*a)[0].numel(); ++i) {
      num += (pa[i] - pb[i]) * (pa[i] - pb[i]);
      den += pa[i] * pa[i];
    }
  }
  return std::sqrt(num / den);
}

// Mean over output rows of each row's relative L2 error (small rows count as much as large).
double row_error(const ir::Graph& f, const ir::Graph& q) {
  std::mt19937 rng(99);
  double sum = 0;
  int n = 0;
  for (int r = 0; r < 4; ++r) {
    core::Feeds feeds{{"x", *tensor({8, 16}, rng, 1.0f)}};
    auto a = core::interpret(f, feeds);
    auto b = core::interpret(q, feeds);
    EXPECT_TRUE(a.ok() && b.ok());
    const int64_t cols = (*a)[0].shape.back(), rows = (*a)[0].numel() / cols;
    for (int64_t i = 0; i < rows; ++i, ++n) {
      double num = 0, den = 0;
      for (int64_t j = 0; j < cols; ++j) {
        const double u = (*a)[0].as<float>()[i * cols + j], v = (*b)[0].as<float>()[i * cols + j];
        num += (u - v) * (u - v);
        den += u * u;
      }
      sum += std::sqrt(num / den);
    }
  }
  return sum / n;
}

ir::Graph quantize(ir::Graph g, const std::string& method, double alpha,
                   const std::string& act_scales) {
  record_quantize_options({"int8", calib_dir(6), method, 99.99, alpha, {}, act_scales}, g);
  auto ctx = make_context("", "cpu", 0, "infer", "");
  EXPECT_TRUE(ctx.ok());
  Status st = run_quantize(g, *ctx);
  EXPECT_TRUE(st.ok()) << st.message();
  return g;
}

// The per-tensor machinery (grids, zero points, smoothing) unless act_scales says otherwise.
ir::Graph quantized(float outlier, const std::string& method, double alpha, bool relu = false,
                    const std::string& act_scales = "tensor") {
  return quantize(relu ? relu_model() : model(outlier), method, alpha, act_scales);
}

TEST(QuantizePass, RewritesTheMiddleLayerOnly) {
  ir::Graph g = quantized(1.0f, "percentile", 0);
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"MatMul", "Mul", "QuantizeI8", "QMatMulI8", "Relu",
                                           "MatMul"}));
  const ir::Node& q = g.nodes[3];
  EXPECT_EQ(g.values[q.inputs[1]].dtype, DType::kInt8);
  EXPECT_EQ(g.values[q.inputs[1]].shape, (Shape{32, 32}));  // [N,K]: K-contiguous
  EXPECT_EQ(attr_int(g.meta, "quant_ops", 0), 1);
  EXPECT_EQ(attr_int(g.meta, "quant_weight_bytes_int8", 0) * 4,
            attr_int(g.meta, "quant_weight_bytes_f32", 0));
  EXPECT_TRUE(attr_has(g.meta, "quant." + g.nodes[3].name));
  for (const auto& v : g.values) EXPECT_NE(v.name, "W1");  // the float weight is gone
  EXPECT_LT(rel_error(model(1.0f), g), 0.03);              // 48 calibration rows, K = 32
}

TEST(QuantizePass, EveryMethodStaysClose) {
  for (const char* m : {"minmax", "percentile", "entropy"})
    EXPECT_LT(rel_error(model(1.0f), quantized(1.0f, m, 0)), 0.05) << m;
}

TEST(QuantizePass, SmoothQuantTamesAnOutlierChannel) {
  const double plain = rel_error(model(60.0f), quantized(60.0f, "minmax", 0));
  const double smooth = rel_error(model(60.0f), quantized(60.0f, "minmax", 0.5));
  EXPECT_LT(smooth, plain * 0.7) << plain << " vs " << smooth;
}

// Post-ReLU input: zero point -128 on QuantizeI8 and the layer, and acc_offset[n] =
// 128 * sum_k q[n,k] in the input 4 slot; the bias-less MatMul gets a bias (bias correction).
TEST(QuantizePass, OneSidedActivationGetsAZeroPointAndAnExactOffset) {
  ir::Graph g = quantized(1.0f, "percentile", 0, true);
  const ir::Node& qz = g.nodes[2];
  const ir::Node& qm = g.nodes[3];
  ASSERT_EQ(qz.op, "QuantizeI8");
  ASSERT_EQ(qm.op, "QMatMulI8");
  EXPECT_EQ(attr_int(qz.attrs, "zero_point", 0), -128);
  EXPECT_EQ(attr_int(qm.attrs, "x_zero_point", 0), -128);
  ASSERT_EQ(qm.inputs.size(), 5u);
  ASSERT_GE(qm.inputs[3], 0);
  EXPECT_EQ(g.values[qm.inputs[3]].shape, (Shape{32}));
  const ir::Value& off = g.values[qm.inputs[4]];
  ASSERT_EQ(off.dtype, DType::kInt32);
  ASSERT_EQ(off.shape, (Shape{32}));
  const int8_t* q = g.values[qm.inputs[1]].data->as<int8_t>();
  for (int64_t n = 0; n < 32; ++n) {
    int32_t sum = 0;
    for (int64_t k = 0; k < 32; ++k) sum += q[n * 32 + k];
    EXPECT_EQ(off.data->as<int32_t>()[n], 128 * sum);
  }
  EXPECT_NE(attr_str(g.meta, "quant." + qm.name, "").find("zero_point=-128"), std::string::npos);
  EXPECT_LT(rel_error(relu_model(), g), 0.02);
}

// Defaults ("auto", alpha < 0): SmoothQuant only where an activation has outlier channels (the
// Mul by 60 on channel 3), and a model without LayerNorm-fed MatMuls calibrates by percentile.
TEST(QuantizePass, AutoDefaultsSmoothOnlyOutliersAndPickTheMethodByModelKind) {
  auto smoothed = [](const ir::Graph& g) {
    for (const auto& n : g.nodes)
      if (n.op == "QuantizeI8") return n.inputs.size() > 1 && n.inputs[1] >= 0;
    return false;
  };
  ir::Graph plain = quantized(1.0f, "auto", -1, false, "auto");
  ir::Graph outlier = quantized(60.0f, "auto", -1, false, "auto");
  EXPECT_FALSE(smoothed(plain));
  EXPECT_TRUE(smoothed(outlier));
  EXPECT_LT(rel_error(model(60.0f), outlier),
            0.7 * rel_error(model(60.0f), quantized(60.0f, "percentile", 0, false, "auto")));
  EXPECT_NE(attr_str(plain.meta, "quant_summary", "").find("percentile (auto)"), std::string::npos);
  // The same graph with a LayerNormalization feeding the quantized Gemm: minmax.
  ir::Graph ln = model(1.0f);
  std::mt19937 rng(8);
  const int h1 = ln.nodes[1].outputs[0], h1n = act(ln, "h1n", {8, 32});
  ir::Node norm;
  norm.name = "ln";
  norm.op = "LayerNormalization";
  norm.inputs = {h1, weight(ln, "gamma", tensor({32}, rng, 1.0f)),
                 weight(ln, "beta", tensor({32}, rng, 0.1f))};
  norm.outputs = {h1n};
  ln.nodes[2].inputs[0] = h1n;
  std::vector<ir::Node> nodes = std::move(ln.nodes);
  ln.nodes.clear();
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i == 2) ln.add_node(norm);
    ln.add_node(std::move(nodes[i]));
  }
  record_quantize_options({"int8", calib_dir(2), "auto", 99.99, -1, {}}, ln);
  auto ctx = make_context("", "cpu", 0, "infer", "");
  ASSERT_TRUE(run_quantize(ln, *ctx).ok());
  EXPECT_NE(attr_str(ln.meta, "quant_summary", "").find("minmax (auto)"), std::string::npos);
}

// --activation-scales token: QuantizeI8 per_token=1 writes int8 and the f32 row scales [8];
// QMatMulI8 per_token=1 reads them as input 5 (acc_offset's slot 4 absent), no static scale.
TEST(QuantizePass, PerTokenLayerReadsItsQuantizersRowScales) {
  ir::Graph g = quantized(1.0f, "minmax", 0, false, "token");
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.op);
  ASSERT_EQ(ops, (std::vector<std::string>{"MatMul", "Mul", "QuantizeI8", "QMatMulI8", "Relu",
                                           "MatMul"}));
  const ir::Node &qz = g.nodes[2], &qm = g.nodes[3];
  EXPECT_EQ(attr_int(qz.attrs, "per_token", 0), 1);
  EXPECT_EQ(attr_int(qm.attrs, "per_token", 0), 1);
  EXPECT_FALSE(attr_has(qz.attrs, "scale"));
  EXPECT_FALSE(attr_has(qm.attrs, "x_scale"));
  ASSERT_EQ(qz.outputs.size(), 2u);
  const ir::Value& rs = g.values[qz.outputs[1]];
  EXPECT_EQ(rs.dtype, DType::kFloat32);
  EXPECT_EQ(rs.shape, (Shape{8}));
  EXPECT_EQ(rs.kind, ir::ValueKind::kActivation);
  ASSERT_EQ(qm.inputs.size(), 6u);
  EXPECT_GE(qm.inputs[3], 0);  // the Gemm's (corrected) bias
  EXPECT_EQ(qm.inputs[4], -1);
  EXPECT_EQ(qm.inputs[5], qz.outputs[1]);
  EXPECT_NE(attr_str(g.meta, "quant." + qm.name, "").find("act_scales=token"), std::string::npos);
  EXPECT_EQ(attr_str(g.meta, "quant_activation_scales", ""), "token");
  EXPECT_LT(rel_error(model(1.0f), g), 0.03);
}

// Rows 40x apart: per-token scales give the small rows their own resolution.
TEST(QuantizePass, PerTokenKeepsTheResolutionOfSmallRows) {
  const double tensor = row_error(rows_model(), quantize(rows_model(), "minmax", 0, "tensor"));
  const double token = row_error(rows_model(), quantize(rows_model(), "minmax", 0, "token"));
  EXPECT_LT(token, 0.5 * tensor) << tensor << " vs " << token;
}

// auto quantizes both ways, measures the calibration outputs against float and keeps the lower;
// the meta line names both errors. On the rows model per-token must win.
TEST(QuantizePass, AutoScalesKeepTheLowerCalibrationError) {
  for (int which = 0; which < 3; ++which) {
    ir::Graph f = which == 0 ? model(1.0f) : which == 1 ? relu_model() : rows_model();
    ir::Graph g = quantize(f, "minmax", 0, "auto");
    const std::string m = attr_str(g.meta, "quant_activation_scales", "");
    SCOPED_TRACE(m);
    const size_t t = m.find(", tensor "), k = m.find(", token ");
    ASSERT_NE(t, std::string::npos);
    ASSERT_NE(k, std::string::npos);
    const double et = std::stod(m.substr(t + 9)), ek = std::stod(m.substr(k + 8));
    EXPECT_EQ(m.rfind(ek < et ? "token" : "tensor", 0), 0u);
    bool per_token = false;
    for (const auto& n : g.nodes) per_token |= attr_int(n.attrs, "per_token", 0) != 0;
    EXPECT_EQ(per_token, ek < et);
    // Rows 40x apart: per-token. A post-ReLU input: the static asymmetric grid (zero point
    // -128, twice the symmetric resolution) beats symmetric per-row scales when rows are alike.
    if (which > 0) {
      EXPECT_EQ(per_token, which == 2);
    }
  }
}

TEST(QuantizePass, KeepFloatAndErrors) {
  ir::Graph g = model(1.0f);
  record_quantize_options({"int8", calib_dir(2), "percentile", 99.99, 0, {"Gemm*"}}, g);
  auto ctx = make_context("", "cpu", 0, "infer", "");
  ASSERT_TRUE(run_quantize(g, *ctx).ok());
  for (const auto& n : g.nodes) EXPECT_NE(n.op, "QMatMulI8");
  ir::Graph h = model(1.0f);
  record_quantize_options({"int8", "/nonexistent", "percentile", 99.99, 0, {}}, h);
  EXPECT_FALSE(run_quantize(h, *ctx).ok());
  ir::Graph k = model(1.0f);
  record_quantize_options({"int8", calib_dir(2), "percentile", 99.99, 0, {}, "row"}, k);
  Status st = run_quantize(k, *ctx);
  EXPECT_NE(st.message().find("activation-scales"), std::string::npos) << st.message();
}

TEST(QuantShardingRules, ScalesFollowTheirChannels) {
  auto r = spmd::sharding_rule("QMatMulI8", {{"x_scale", Attr::Float(0.1)}},
                               {{2, 16, 64}, {128, 64}, {128}, {128}}, {{2, 16, 128}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->to_string(), "QMatMulI8 (a=2 b=16 c=128 d=64r): abd, cd, c, c -> abc");
  EXPECT_TRUE(r->summed_into_result[3]);
  auto rq =
      spmd::sharding_rule("QMatMulI8", {{"x_scale", Attr::Float(0.1)}, {"y_scale", Attr::Float(1)}},
                          {{4, 64}, {8, 64}, {8}}, {{4, 8}});
  ASSERT_TRUE(rq.ok());
  EXPECT_FALSE(rq->factors.back().cannot_split.empty());
  auto c = spmd::sharding_rule("QConvI8", {{"x_scale", Attr::Float(0.1)}},
                               {{2, 16, 8, 8}, {32, 16, 3, 3}, {32}, {32}}, {{2, 32, 6, 6}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->inputs[2], c->inputs[3]);
  EXPECT_EQ(c->inputs[2][0], c->outputs[0][1]);
  // acc_offset (int32 [N]) rides the channel factor and, like the bias, is summed into the
  // result; the rules see present inputs only, so without a bias it is input 3.
  auto z = spmd::sharding_rule("QMatMulI8", {{"x_scale", Attr::Float(0.1)}},
                               {{2, 16, 64}, {128, 64}, {128}, {128}, {128}}, {{2, 16, 128}});
  ASSERT_TRUE(z.ok()) << z.status().message();
  EXPECT_EQ(z->to_string(), "QMatMulI8 (a=2 b=16 c=128 d=64r): abd, cd, c, c, c -> abc");
  EXPECT_TRUE(z->summed_into_result[4]);
  auto cz = spmd::sharding_rule("QConvI8", {{"x_scale", Attr::Float(0.1)}},
                                {{2, 16, 8, 8}, {32, 16, 3, 3}, {32}, {32}}, {{2, 32, 6, 6}});
  ASSERT_TRUE(cz.ok());
  EXPECT_TRUE(cz->summed_into_result[3]);
  auto q = spmd::sharding_rule("QuantizeI8", {}, {{4, 64}, {64}}, {{4, 64}});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->inputs[1][0], q->outputs[0][1]);
}

// Per-token: the row scales follow x's rows on both ops; QuantizeI8 keeps K whole (a row's
// abs-max); QMatMulI8 may still split K (each partial sum is scaled alike) and the row scales
// are not summed into the result.
TEST(QuantShardingRules, RowScalesFollowTheRows) {
  const AttrMap tok = {{"per_token", Attr::Int(1)}};
  auto q = spmd::sharding_rule("QuantizeI8", tok, {{2, 16, 64}, {64}}, {{2, 16, 64}, {2, 16}});
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->to_string(), "QuantizeI8 (a=2 b=16 c=64!): abc, c -> abc, ab");
  EXPECT_FALSE(q->factors[2].cannot_split.empty());
  EXPECT_TRUE(q->factors[0].cannot_split.empty());
  EXPECT_FALSE(spmd::sharding_rule("QuantizeI8", tok, {{2, 16, 64}}, {{2, 16, 64}}).ok());
  auto m = spmd::sharding_rule("QMatMulI8", tok, {{2, 16, 64}, {128, 64}, {128}, {128}, {2, 16}},
                               {{2, 16, 128}});
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->to_string(), "QMatMulI8 (a=2 b=16 c=128 d=64r): abd, cd, c, c, ab -> abc");
  EXPECT_TRUE(m->summed_into_result[3]);
  EXPECT_FALSE(m->summed_into_result[4]);
  EXPECT_TRUE(m->factors[3].cannot_split.empty());
  // Without a bias the row scales are input 3 of the present inputs.
  auto nb = spmd::sharding_rule("QMatMulI8", tok, {{4, 64}, {8, 64}, {8}, {4}}, {{4, 8}});
  ASSERT_TRUE(nb.ok()) << nb.status().message();
  EXPECT_EQ(nb->to_string(), "QMatMulI8 (a=4 b=8 c=64r): ac, bc, b, a -> ab");
  // A bias where the row scales should be: [8] is not x's rows [4].
  EXPECT_FALSE(spmd::sharding_rule("QMatMulI8", tok, {{4, 64}, {8, 64}, {8}, {8}}, {{4, 8}}).ok());
}

}  // namespace
}  // namespace tessera::passes
