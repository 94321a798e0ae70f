// FusedAttention in training graphs: mixed precision (autocast) runs it 16-bit with its mask
// left f32, the FusedAttentionGrad autodiff emits has matching dtypes, and the bf16 step's
// gradients agree with the f32 step's. The finite-difference checks are in autodiff_test_fd.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "autodiff_test_util.h"
#include "cpu/attention_kernels.h"
#include "ir/attention_ops.h"
#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"
#include "passes/core/interpreter.h"

namespace tessera {
namespace {

constexpr DType kF32 = DType::kFloat32, kBF16 = DType::kBFloat16;

TEST(AttentionTables, KernelsCoverEveryAttentionOp) {
  const auto& kt = kernels::cpu_attention_kernel_table();
  const auto& ot = ir::attention_op_table();
  ASSERT_EQ(kt.size(), ot.size());
  for (size_t i = 0; i < kt.size(); ++i) EXPECT_STREQ(kt[i].op, ot[i].name);
}

struct AttnGraph {
  ir::Graph g;
  std::vector<int> weights;  // q, k, v
  int mask = -1, loss = -1;
};

// loss = ReduceSum(Exp(FusedAttention(q, k, v, mask))): q, k, v trained f32 weights, the mask
// an f32 constant (causal, chunks of 2 rows). Exp and ReduceSum stay f32 under autocast, so the
// reference interpreter (which runs 16-bit only in Cast and the attention kernels) runs it.
AttnGraph build() {
  AttnGraph a;
  std::mt19937 rng(3);
  auto value = [&](const char* name, Shape s, ir::ValueKind k) {
    ir::Value v;
    v.name = name;
    v.dtype = kF32;
    v.shape = s;
    v.kind = k;
    const auto d = adtest::random_doubles(rng, num_elements(s), -1.0, 1.0);
    v.data = std::make_shared<ir::TensorData>(
        adtest::make_tensor(kF32, s, std::vector<float>(d.begin(), d.end())));
    return a.g.add_value(std::move(v));
  };
  for (const char* n : {"q", "k", "v"})
    a.weights.push_back(value(n, {2, 5, 4}, ir::ValueKind::kWeight));
  a.mask = value("mask", {5, 5}, ir::ValueKind::kConstant);
  autodiff::Builder b(a.g);
  const AttrMap attrs = {
      {"scale", Attr::Float(0.5)}, {"causal", Attr::Int(1)}, {"chunk", Attr::Int(2)}};
  const auto y =
      b.op("FusedAttention", {a.weights[0], a.weights[1], a.weights[2], a.mask}, attrs, 2);
  a.loss = b.op1("ReduceSum", {b.op1("Exp", {y[0]})},
                 {{"axes", Attr::Ints({0, 1, 2})}, {"keepdims", Attr::Int(0)}});
  EXPECT_TRUE(b.status().ok()) << b.status().to_string();
  a.g.outputs = {a.loss};
  return a;
}

const ir::Node* find_node(const ir::Graph& g, const std::string& op) {
  auto it =
      std::find_if(g.nodes.begin(), g.nodes.end(), [&](const ir::Node& n) { return n.op == op; });
  return it == g.nodes.end() ? nullptr : &*it;
}

// Gradients of q, k, v as f32 values, in weight order.
std::vector<std::vector<double>> gradients(AttnGraph& a) {
  auto grads = autodiff::append_backward(a.g, a.loss, a.weights);
  EXPECT_TRUE(grads.ok()) << grads.status().to_string();
  if (!grads.ok()) return {};
  for (const auto& wg : *grads) a.g.outputs.push_back(wg.second);
  auto outs = core::interpret(a.g, {});
  EXPECT_TRUE(outs.ok()) << outs.status().to_string();
  std::vector<std::vector<double>> g;
  for (size_t i = 1; outs.ok() && i < outs->size(); ++i)
    g.push_back(adtest::to_doubles((*outs)[i]));
  return g;
}

TEST(AutocastAttention, SixteenBitWithF32MaskAndMatchingGradDtypes) {
  AttnGraph ref = build();
  const auto want = gradients(ref);
  AttnGraph a = build();
  ASSERT_TRUE(autodiff::autocast_forward(a.g, kBF16, a.weights, nullptr).ok());
  const ir::Node* fwd = find_node(a.g, "FusedAttention");
  ASSERT_NE(fwd, nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.g.values[fwd->inputs[i]].dtype, kBF16) << i;
  EXPECT_EQ(fwd->inputs[3], a.mask);  // the f32 mask itself: no Cast, no rounded copy
  for (int o : fwd->outputs) EXPECT_EQ(a.g.values[o].dtype, kBF16);
  const AttrMap fwd_attrs = fwd->attrs;  // fwd dangles once the backward grows the node list

  const auto got = gradients(a);
  const ir::Node* bwd = find_node(a.g, "FusedAttentionGrad");
  ASSERT_NE(bwd, nullptr);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(a.g.values[bwd->inputs[i]].dtype, kBF16) << i;
  EXPECT_EQ(bwd->inputs[4], a.mask);
  EXPECT_EQ(bwd->attrs, fwd_attrs);
  for (int o : bwd->outputs) EXPECT_EQ(a.g.values[o].dtype, kBF16);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_EQ(want.size(), 3u);
  for (int i = 0; i < 3; ++i) {  // f32 master gradients; bf16 compute: ~2^-8 relative
    const double e = adtest::rel_max_err(got[i], want[i]);
    EXPECT_LT(e, 3e-2) << "input " << i;
    std::printf("bf16 autocast gradient %d vs f32: %.3g\n", i, e);
  }
}

}  // namespace
}  // namespace tessera
