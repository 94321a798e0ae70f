// Finite-difference checks of every gradient rule, in float64: op -> sum(y * R) with a random
// R, analytic gradients (autodiff + interpreter) against central differences.
#include <gtest/gtest.h>

#include <set>

#include "autodiff_test_util.h"
#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"
#include "passes/core/autodiff_rules.h"
#include "passes/core/interpreter.h"

namespace tessera {
namespace {

using adtest::make_tensor;
constexpr DType kF64 = DType::kFloat64;

struct Arg {
  enum Kind { kTrain, kTrainPos, kConst, kConstPos, kIndex, kBool } kind;
  Shape shape;
  std::vector<int64_t> ints = {};  // kIndex values / kBool pattern
};
struct Case {
  std::string name;
  std::string op;
  std::vector<Arg> args;
  AttrMap attrs = {};
  int nout = 1;
};

Arg T(Shape s) { return {Arg::kTrain, std::move(s)}; }
Arg P(Shape s) { return {Arg::kTrainPos, std::move(s)}; }
Attr I(std::vector<int64_t> v) { return Attr::Ints(std::move(v)); }

struct Built {
  ir::Graph g;
  std::vector<int> weights;
  int loss = -1;
};

Built build(const Case& c, std::mt19937& rng) {
  Built b;
  ir::Graph& g = b.g;
  ir::Node n;
  n.name = c.name;
  n.op = c.op;
  n.attrs = c.attrs;
  for (size_t i = 0; i < c.args.size(); ++i) {
    const Arg& a = c.args[i];
    ir::Value v;
    v.name = "in" + std::to_string(i);
    v.shape = a.shape;
    const int64_t ne = num_elements(a.shape);
    const bool pos = a.kind == Arg::kTrainPos || a.kind == Arg::kConstPos;
    if (a.kind == Arg::kIndex) {
      v.dtype = DType::kInt64;
      v.data = std::make_shared<ir::TensorData>(make_tensor(DType::kInt64, a.shape, a.ints));
    } else if (a.kind == Arg::kBool) {
      v.dtype = DType::kBool;
      std::vector<uint8_t> m(static_cast<size_t>(ne));
      for (int64_t k = 0; k < ne; ++k) m[k] = uint8_t((k * 7 + 3) % 3 != 0);
      v.data = std::make_shared<ir::TensorData>(make_tensor(DType::kBool, a.shape, m));
    } else {
      v.dtype = kF64;
      v.data = std::make_shared<ir::TensorData>(make_tensor(
          kF64, a.shape, adtest::random_doubles(rng, ne, pos ? 0.5 : -1.0, pos ? 2.0 : 1.0)));
    }
    const bool train = a.kind == Arg::kTrain || a.kind == Arg::kTrainPos;
    v.kind = train ? ir::ValueKind::kWeight : ir::ValueKind::kConstant;
    const int id = g.add_value(std::move(v));
    n.inputs.push_back(id);
    if (train) b.weights.push_back(id);
  }
  autodiff::Builder bl(g);
  bl.set_scope("case");
  const auto outs = bl.op(c.op, n.inputs, c.attrs, c.nout);
  int loss = -1;
  for (size_t k = 0; k < outs.size(); ++k) {
    const int y = outs[k];
    if (y < 0 || !dtype_is_float(g.values[y].dtype)) continue;
    if (k > 0 && (c.op == "SoftmaxCrossEntropyLoss" || c.op == "FusedAttention"))
      continue;  // the saved softmax / the attention scratch is not differentiable
    const Shape ys = g.values[y].shape;
    const int r = bl.zeros(kF64, ys);
    auto rd = make_tensor(kF64, ys, adtest::random_doubles(rng, num_elements(ys), -1.0, 1.0));
    g.values[r].data = std::make_shared<ir::TensorData>(rd);
    std::vector<int64_t> axes(ys.size());
    for (size_t k = 0; k < axes.size(); ++k) axes[k] = static_cast<int64_t>(k);
    int t = bl.mul(y, r);
    if (!axes.empty())
      t = bl.op1("ReduceSum", {t}, {{"axes", I(axes)}, {"keepdims", Attr::Int(0)}});
    loss = loss < 0 ? t : bl.add(loss, t);
  }
  EXPECT_TRUE(bl.status().ok()) << c.name << ": " << bl.status().to_string();
  b.loss = loss;
  return b;
}

double run_loss(const ir::Graph& g, const core::Feeds& feeds) {
  auto out = core::interpret(g, feeds);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? (*out)[0].as<double>()[0] : NAN;
}

void check_case(const Case& c) {
  SCOPED_TRACE(c.name);
  std::mt19937 rng(1234);
  Built b = build(c, rng);
  ASSERT_GE(b.loss, 0);
  auto grads = autodiff::append_backward(b.g, b.loss, b.weights);
  ASSERT_TRUE(grads.ok()) << grads.status().to_string();
  ASSERT_EQ(grads->size(), b.weights.size()) << "every trained input should get a gradient";
  ir::Graph& g = b.g;
  g.outputs = {b.loss};
  for (const auto& wg : *grads) g.outputs.push_back(wg.second);
  auto outs = core::interpret(g, {});
  ASSERT_TRUE(outs.ok()) << outs.status().to_string();
  const double h = 1e-6;
  for (size_t k = 0; k < grads->size(); ++k) {
    const ir::Value& wv = g.values[(*grads)[k].first];
    ir::TensorData w = *wv.data;
    std::vector<double> num(static_cast<size_t>(w.numel()));
    for (int64_t i = 0; i < w.numel(); ++i) {
      double* p = reinterpret_cast<double*>(w.bytes.data()) + i;
      const double x0 = *p;
      *p = x0 + h;
      const double lp = run_loss(g, {{wv.name, w}});
      *p = x0 - h;
      const double lm = run_loss(g, {{wv.name, w}});
      *p = x0;
      num[i] = (lp - lm) / (2 * h);
    }
    const double err = adtest::rel_max_err(adtest::to_doubles((*outs)[k + 1]), num);
    EXPECT_LT(err, 1e-6) << "input " << wv.name << " of " << c.op;
  }
}

std::vector<Case> cases() {
  return {
      {"add_bcast", "Add", {T({2, 3}), T({3})}},
      {"sub_bcast", "Sub", {T({2, 3}), T({2, 1})}},
      {"mul_bcast", "Mul", {T({2, 1, 3}), T({4, 3})}},
      {"div", "Div", {T({2, 3}), P({3})}},
      {"pow_const", "Pow", {P({2, 3}), {Arg::kConst, {}}}},
      {"pow_both", "Pow", {P({2, 3}), T({3})}},
      {"sqrt", "Sqrt", {P({2, 3})}},
      {"reciprocal", "Reciprocal", {P({2, 3})}},
      {"neg", "Neg", {T({2, 3})}},
      {"exp", "Exp", {T({2, 3})}},
      {"log", "Log", {P({2, 3})}},
      {"erf", "Erf", {T({2, 3})}},
      {"tanh", "Tanh", {T({2, 3})}},
      {"sigmoid", "Sigmoid", {T({2, 3})}},
      {"relu", "Relu", {T({3, 4})}},
      {"leaky_relu", "LeakyRelu", {T({3, 4})}, {{"alpha", Attr::Float(0.1)}}},
      {"gelu", "Gelu", {T({3, 4})}, {{"approximate", Attr::Str("none")}}},
      {"gelu_tanh", "Gelu", {T({3, 4})}, {{"approximate", Attr::Str("tanh")}}},
      {"softmax", "Softmax", {T({2, 3, 4})}, {{"axis", Attr::Int(1)}}},
      {"log_softmax", "LogSoftmax", {T({2, 5})}, {{"axis", Attr::Int(1)}}},
      {"max", "Max", {T({2, 3}), T({3})}},
      {"min", "Min", {T({2, 3}), T({2, 3})}},
      {"clip", "Clip", {T({3, 4})}, {{"min", Attr::Float(-0.5)}, {"max", Attr::Float(0.4)}}},
      {"where", "Where", {{Arg::kBool, {2, 3}}, T({2, 3}), T({3})}},
      {"identity", "Identity", {T({2, 3})}},
      {"matmul_bcast", "MatMul", {T({2, 1, 3, 4}), T({5, 4, 2})}},
      {"matmul_vec_left", "MatMul", {T({3}), T({2, 3, 4})}},
      {"matmul_vec_right", "MatMul", {T({2, 3, 4}), T({4})}},
      {"matmul_shared_weight", "MatMul", {T({2, 3, 4}), T({4, 5})}},
      {"matmul_2d", "MatMul", {T({3, 4}), T({4, 5})}},
      {"gemm",
       "Gemm",
       {T({3, 4}), T({4, 2}), T({2})},
       {{"alpha", Attr::Float(1.0)},
        {"beta", Attr::Float(1.0)},
        {"transA", Attr::Int(0)},
        {"transB", Attr::Int(0)}}},
      {"gemm_trans",
       "Gemm",
       {T({4, 3}), T({2, 4}), T({3, 1})},
       {{"alpha", Attr::Float(0.5)},
        {"beta", Attr::Float(2.0)},
        {"transA", Attr::Int(1)},
        {"transB", Attr::Int(1)}}},
      {"conv",
       "Conv",
       {T({2, 2, 5, 5}), T({3, 2, 3, 3}), T({3})},
       {{"kernel_shape", I({3, 3})},
        {"strides", I({2, 2})},
        {"pads", I({1, 1, 1, 1})},
        {"dilations", I({1, 1})},
        {"group", Attr::Int(1)}}},
      {"conv_group_dil",
       "Conv",
       {T({1, 4, 6, 5}), T({2, 2, 2, 2})},
       {{"kernel_shape", I({2, 2})},
        {"strides", I({1, 2})},
        {"pads", I({0, 1, 1, 0})},
        {"dilations", I({2, 1})},
        {"group", Attr::Int(2)}}},
      {"max_pool",
       "MaxPool",
       {T({1, 2, 5, 5})},
       {{"kernel_shape", I({3, 3})},
        {"strides", I({2, 2})},
        {"pads", I({1, 1, 1, 1})},
        {"dilations", I({1, 1})},
        {"ceil_mode", Attr::Int(0)}}},
      {"avg_pool",
       "AveragePool",
       {T({1, 2, 5, 5})},
       {{"kernel_shape", I({2, 3})},
        {"strides", I({2, 1})},
        {"pads", I({1, 0, 1, 1})},
        {"ceil_mode", Attr::Int(1)},
        {"count_include_pad", Attr::Int(0)}}},
      {"avg_pool_pad",
       "AveragePool",
       {T({1, 2, 4, 4})},
       {{"kernel_shape", I({3, 3})},
        {"strides", I({2, 2})},
        {"pads", I({1, 1, 1, 1})},
        {"ceil_mode", Attr::Int(0)},
        {"count_include_pad", Attr::Int(1)}}},
      {"global_avg_pool", "GlobalAveragePool", {T({2, 3, 2, 3})}},
      {"batch_norm",
       "BatchNormalization",
       {T({2, 3, 2, 2}), T({3}), T({3}), {Arg::kConst, {3}}, {Arg::kConstPos, {3}}},
       {{"epsilon", Attr::Float(1e-5)}}},
      {"layer_norm",
       "LayerNormalization",
       {T({2, 3, 4}), T({3, 4}), T({3, 4})},
       {{"axis", Attr::Int(1)}, {"epsilon", Attr::Float(1e-5)}}},
      {"reshape", "Reshape", {T({2, 3, 4})}, {{"shape", I({6, 4})}}},
      {"flatten", "Flatten", {T({2, 3, 4})}, {{"axis", Attr::Int(1)}}},
      {"squeeze", "Squeeze", {T({2, 1, 3})}, {{"axes", I({1})}}},
      {"unsqueeze", "Unsqueeze", {T({2, 3})}, {{"axes", I({0, 2})}}},
      {"transpose", "Transpose", {T({2, 3, 4})}, {{"perm", I({2, 0, 1})}}},
      {"expand", "Expand", {T({3, 1})}, {{"shape", I({2, 3, 4})}}},
      {"concat", "Concat", {T({2, 1}), T({2, 3}), T({2, 2})}, {{"axis", Attr::Int(1)}}},
      {"split", "Split", {T({2, 5})}, {{"axis", Attr::Int(1)}, {"split", I({2, 3})}}, 2},
      {"slice",
       "Slice",
       {T({4, 5})},
       {{"starts", I({1, 0})}, {"ends", I({3, 4})}, {"axes", I({0, 1})}, {"steps", I({1, 1})}}},
      {"gather",
       "Gather",
       {T({5, 3}), {Arg::kIndex, {2, 3}, {0, 4, 1, 4, 4, 2}}},
       {{"axis", Attr::Int(0)}}},
      {"gather_axis1",
       "Gather",
       {T({2, 4, 3}), {Arg::kIndex, {2}, {3, -1}}},
       {{"axis", Attr::Int(1)}}},
      {"gather_elements",
       "GatherElements",
       {T({3, 4}), {Arg::kIndex, {3, 2}, {0, 3, 1, 1, 2, 0}}},
       {{"axis", Attr::Int(1)}}},
      {"reduce_mean", "ReduceMean", {T({2, 3, 4})}, {{"axes", I({1})}, {"keepdims", Attr::Int(0)}}},
      {"reduce_sum",
       "ReduceSum",
       {T({2, 3, 4})},
       {{"axes", I({0, 2})}, {"keepdims", Attr::Int(1)}}},
      {"reduce_sum_all", "ReduceSum", {T({2, 3})}, {{"axes", I({})}, {"keepdims", Attr::Int(0)}}},
      {"cast", "Cast", {T({2, 3})}, {{"to", Attr::Int(int64_t(kF64))}}},
      {"fused_attention",
       "FusedAttention",
       {T({2, 3, 4}), T({2, 5, 4}), T({2, 5, 3})},
       {{"scale", Attr::Float(0.5)}},
       2},
      {"fused_attention_causal_mask",
       "FusedAttention",
       {T({1, 2, 4, 3}), T({1, 2, 4, 3}), T({1, 2, 4, 2}), {Arg::kConst, {1, 1, 4, 4}}},
       {{"scale", Attr::Float(0.7)}, {"causal", Attr::Int(1)}, {"chunk", Attr::Int(3)}},
       2},
      {"fused_attention_padding_mask_chunked",
       "FusedAttention",
       {T({2, 2, 5, 3}), T({2, 2, 6, 3}), T({2, 2, 6, 4}), {Arg::kConst, {2, 1, 1, 6}}},
       {{"scale", Attr::Float(0.4)}, {"chunk", Attr::Int(2)}},
       2},
      {"sce_loss", "SoftmaxCrossEntropyLoss", {T({4, 5}), {Arg::kIndex, {4}, {0, 4, 2, 2}}}, {}, 2},
      // Training-mode Dropout at step 5: the mask is fixed by (seed, stream, step, index).
      {"dropout",
       "Dropout",
       {T({3, 4}), {Arg::kIndex, {}, {5}}},
       {{"ratio", Attr::Float(0.4)}, {"seed", Attr::Int(3)}, {"stream", Attr::Int(9)}},
       2},
  };
}

class AutodiffFd : public ::testing::TestWithParam<Case> {};
TEST_P(AutodiffFd, MatchesCentralDifferences) { check_case(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Ops, AutodiffFd, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// Every rule listed in the table is exercised by a case above (no untested rules), and the
// table is sorted (binary search).
TEST(AutodiffRules, TableSortedAndCovered) {
  const auto ops = autodiff::grad_rule_ops();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  std::set<std::string> tested;
  for (const Case& c : cases()) tested.insert(c.op);
  // BatchNormApply's rule needs its sums from BatchNormStats of its input (one op per case
  // here cannot build that): BatchNormTrain.GradientsMatchCentralDifferences
  // (autodiff_test_train_forward.cpp) checks it through the lowered BatchNormalization.
  tested.insert("BatchNormApply");
  for (auto op : ops)
    EXPECT_TRUE(tested.count(std::string(op))) << "no finite-difference case for " << op;
}

// A trained value flowing into the additive mask: FusedAttentionGrad has no mask gradient.
TEST(AutodiffRules, FusedAttentionMaskHasNoGradient) {
  std::mt19937 rng(7);
  Case c = {"attn",
            "FusedAttention",
            {T({1, 3, 2}), T({1, 3, 2}), T({1, 3, 2}), T({3, 3})},
            {{"scale", Attr::Float(1.0)}},
            2};
  Built b = build(c, rng);
  auto r = autodiff::append_backward(b.g, b.loss, b.weights);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("FusedAttention 'case/FusedAttention_0': the mask has no "
                                      "gradient"),
            std::string::npos)
      << r.status().message();
}

// x [..., K] · w [K, N] (a linear layer without bias): both gradients are single Gemms over the
// folded rows, not a batched weight gradient summed over the batch.
TEST(AutodiffRules, SharedWeightMatMulGradientsAreGemms) {
  std::mt19937 rng(3);
  Case c = {"mm", "MatMul", {T({2, 3, 4}), T({4, 5})}};
  Built b = build(c, rng);
  const size_t forward = b.g.nodes.size();
  ASSERT_TRUE(autodiff::append_backward(b.g, b.loss, b.weights).ok());
  int gemms = 0;
  for (size_t i = forward; i < b.g.nodes.size(); ++i) {
    const std::string& op = b.g.nodes[i].op;
    gemms += op == "Gemm";
    EXPECT_NE(op, "MatMul");
    EXPECT_NE(op, "Transpose");
  }
  EXPECT_EQ(gemms, 2);
}

TEST(AutodiffRules, MissingRuleNamesNodeAndOp) {
  ir::Graph g;
  ir::Value w;
  w.name = "w";
  w.dtype = kF64;
  w.shape = {4};
  w.kind = ir::ValueKind::kWeight;
  const int wid = g.add_value(w);
  autodiff::Builder b(g);
  const int y = b.op1("CumSum", {wid}, {{"axis", Attr::Int(0)}});
  g.nodes.back().name = "cs";
  const int l = b.op1("ReduceSum", {y}, {{"axes", I({0})}, {"keepdims", Attr::Int(0)}});
  auto r = autodiff::append_backward(g, l, {wid});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no gradient rule for op 'CumSum' (node 'cs')"),
            std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace tessera
