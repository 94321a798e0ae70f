// Sharding rules of the training ops (passes/core/sharding_rules_train.cpp): factor strings,
// and the specs strategies imply where a row split leaves only some results partial.
#include <gtest/gtest.h>

#include <algorithm>

#include "passes/core/sharding_rules.h"
#include "passes/core/strategies.h"

namespace tessera::spmd {
namespace {

OpRule R(const std::string& op, const std::vector<Shape>& in, const std::vector<Shape>& out,
         AttrMap attrs = {}) {
  StatusOr<OpRule> r = sharding_rule(op, attrs, in, out);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : OpRule{};
}

// The strategy of `op` named `name` on mesh dp=2,tp=2; fails the test when absent.
Strategy pick(const OpRule& r, const std::vector<Shape>& in, const std::vector<Shape>& out,
              const std::string& name) {
  Mesh m = Mesh::parse("dp=2,tp=2").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  for (Strategy& s : enumerate_strategies(r, in, out, DType::kFloat32, m, p))
    if (s.name(m) == name) return s;
  ADD_FAILURE() << "no strategy " << name << " for " << r.to_string();
  return {};
}

TEST(SpmdTrainRules, TableHasEveryTrainingOp) {
  std::vector<std::string> ops = ops_with_rules();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  for (const char* op : {"AdamW", "AveragePoolGrad", "ConvGradWeight", "GatherElementsGrad",
                         "GatherGrad", "GeluGrad", "LayerNormalizationGrad", "MaxPoolGrad",
                         "ReluGrad", "SGD", "SoftmaxCrossEntropyGrad", "SoftmaxCrossEntropyLoss"})
    EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), op)) << op;
}

TEST(SpmdTrainRules, LossRowsSplitOnlyWithGlobalRowCount) {
  std::vector<Shape> in{{32, 512}, {32}}, out{{}, {32, 512}};
  OpRule local = R("SoftmaxCrossEntropyLoss", in, out);
  EXPECT_EQ(local.to_string(), "SoftmaxCrossEntropyLoss (a=32! b=512!): ab, a -> , ab");
  EXPECT_NE(local.factors[0].cannot_split.find("local row count"), std::string::npos);
  OpRule global = R("SoftmaxCrossEntropyLoss", in, out, {{"rows", Attr::Int(32)}});
  EXPECT_EQ(global.to_string(), "SoftmaxCrossEntropyLoss (a=32 b=512!): ab, a -> , ab");
  Strategy s = pick(global, in, out, "0:{dp, tp}");
  EXPECT_EQ(s.outputs[0].to_string(), "[] partial{dp, tp}");  // sum of (local sum / 32)
  EXPECT_EQ(s.outputs[1].to_string(), "[{dp, tp}, {}]");      // softmax rows stay split
  EXPECT_EQ(s.inputs[1].to_string(), "[{dp, tp}]");

  std::vector<Shape> gin{{}, {32, 512}, {32}}, gout{{32, 512}};
  OpRule grad = R("SoftmaxCrossEntropyGrad", gin, gout, {{"rows", Attr::Int(32)}});
  EXPECT_EQ(grad.to_string(), "SoftmaxCrossEntropyGrad (a=32 b=512!): , ab, a -> ab");
  Strategy g = pick(grad, gin, gout, "0:{dp}");
  EXPECT_EQ(g.inputs[0].to_string(), "[]");  // dloss whole on every rank
  EXPECT_TRUE(g.outputs[0].partial.empty());
}

TEST(SpmdTrainRules, LayerNormGradScaleIsPartialOverRows) {
  std::vector<Shape> in{{4, 16, 32}, {4, 16, 32}, {32}}, out{{4, 16, 32}, {32}, {32}};
  OpRule r = R("LayerNormalizationGrad", in, out, {{"axis", Attr::Int(2)}});
  EXPECT_EQ(r.to_string(), "LayerNormalizationGrad (a=4 b=16 c=32!): abc, abc, c -> abc, c, c");
  Strategy s = pick(r, in, out, "0:{dp} 1:{tp}");
  EXPECT_EQ(s.outputs[0].to_string(), "[{dp}, {tp}, {}]");
  EXPECT_EQ(s.outputs[1].to_string(), "[{}] partial{dp, tp}");
  EXPECT_EQ(s.outputs[2].to_string(), "[{}] partial{dp, tp}");
}

// The gradient keeps the forward's factors; D is parallel here (dq, dk carry it) but whole, and
// so is Dv (a Dv split would recompute every score per shard). Batch and heads split, with no
// partial results.
TEST(SpmdTrainRules, FusedAttentionGradSplitsBatchHeads) {
  const std::vector<Shape> in{{2, 4, 8, 16}, {2, 4, 12, 16}, {2, 4, 12, 8}, {2, 4, 8, 8}, {8, 12}};
  const std::vector<Shape> out{
      {2, 4, 8, 16}, {2, 4, 12, 16}, {2, 4, 12, 8}, {2, 4, 8, 12}, {2, 4, 8, 12}};
  OpRule r = R("FusedAttentionGrad", in, out, {{"scale", Attr::Float(0.25)}});
  EXPECT_EQ(r.to_string(),
            "FusedAttentionGrad (a=2 b=4 c=8! d=12! e=16! f=8!): abce, abde, abdf, abcf, cd -> "
            "abce, abde, abdf, ab.., ab..");
  const double scores = 2.0 * 4 * 8 * 12;
  EXPECT_DOUBLE_EQ(r.flops, 2.0 * scores * (3 * 16 + 2 * 8) + 9.0 * scores);
  EXPECT_DOUBLE_EQ(r.scratch_elements, 8.0 * scores);
  Strategy s = pick(r, in, out, "0:{dp} 1:{tp}");
  EXPECT_EQ(s.inputs[2].to_string(), "[{dp}, {tp}, {}, {}]");
  EXPECT_EQ(s.inputs[4].to_string(), "[{}, {}]");
  for (int o = 0; o < 5; ++o) EXPECT_EQ(s.outputs[o].to_string(), "[{dp}, {tp}, {}, {}]");
  Mesh m = Mesh::parse("dp=2,tp=2").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  for (const Strategy& st : enumerate_strategies(r, in, out, DType::kFloat32, m, p))
    for (int f : {2, 3, 4, 5}) EXPECT_TRUE(st.factor_axes[f].empty()) << st.name(m);
}

TEST(SpmdTrainRules, WeightGradientsSumOverTheBatch) {
  std::vector<Shape> in{{8, 16, 6, 6}, {8, 4, 8, 8}}, out{{16, 4, 3, 3}};
  OpRule c = R("ConvGradWeight", in, out, {{"group", Attr::Int(1)}});
  EXPECT_EQ(c.to_string(), "ConvGradWeight (a=8r b=16 c=4): ab.., ac.. -> bc..");
  Strategy s = pick(c, in, out, "0:{dp} 1:{tp}");
  EXPECT_EQ(s.outputs[0].to_string(), "[{tp}, {}, {}, {}] partial{dp}");

  std::vector<Shape> gin{{8, 1024, 64}, {8, 1024}}, gout{{500, 64}};
  OpRule g = R("GatherGrad", gin, gout, {{"axis", Attr::Int(0)}});
  EXPECT_EQ(g.to_string(), "GatherGrad (a=64 b=8r c=1024r): bca, bc -> .a");
  Strategy e = pick(g, gin, gout, "0:{tp} 1:{dp}");
  EXPECT_EQ(e.outputs[0].to_string(), "[{}, {tp}] partial{dp}");

  std::vector<Shape> pin{{8, 4, 3, 3}, {8, 4, 6, 6}}, pout{{8, 4, 6, 6}};
  EXPECT_EQ(R("MaxPoolGrad", pin, pout).to_string(), "MaxPoolGrad (a=8 b=4): ab.., ab.. -> ab..");
  EXPECT_EQ(R("AveragePoolGrad", {{8, 4, 3, 3}}, pout).to_string(),
            "AveragePoolGrad (a=8 b=4): ab.. -> ab..");
}

TEST(SpmdTrainRules, OptimizerStateFollowsTheWeight) {
  std::vector<Shape> in{{64, 32}, {64, 32}, {64, 32}, {64, 32}, {}},
      out{{64, 32}, {64, 32}, {64, 32}};
  OpRule a = R("AdamW", in, out);
  EXPECT_EQ(a.to_string(), "AdamW (a=64 b=32): ab, ab, ab, ab,  -> ab, ab, ab");
  Strategy z = pick(a, in, out, "0:{dp} 1:{tp}");  // ZeRO-style: state sharded over dp too
  for (int i = 0; i < 4; ++i) EXPECT_EQ(z.inputs[i].to_string(), "[{dp}, {tp}]");
  EXPECT_EQ(z.inputs[4].to_string(), "[]");
  for (const ShardingSpec& o : z.outputs) EXPECT_EQ(o.to_string(), "[{dp}, {tp}]");
  EXPECT_EQ(R("SGD", {{64, 32}, {64, 32}, {64, 32}}, {{64, 32}, {64, 32}}).to_string(),
            "SGD (a=64 b=32): ab, ab, ab -> ab, ab");
  EXPECT_FALSE(sharding_rule("AdamW", {}, in, {{64, 32}, {64, 33}, {64, 32}}).ok());
}

TEST(SpmdTrainRules, PointwiseGradsAreElementwise) {
  EXPECT_EQ(R("ReluGrad", {{4, 8}, {4, 8}}, {{4, 8}}).to_string(),
            "ReluGrad (a=4 b=8): ab, ab -> ab");
  EXPECT_EQ(R("GeluGrad", {{4, 8}, {4, 8}}, {{4, 8}}).to_string(),
            "GeluGrad (a=4 b=8): ab, ab -> ab");
  OpRule ge = R("GatherElementsGrad", {{4, 3}, {4, 3}}, {{4, 8}}, {{"axis", Attr::Int(1)}});
  EXPECT_EQ(ge.to_string(), "GatherElementsGrad (a=4): a., a. -> a.");
}

}  // namespace
}  // namespace tessera::spmd
