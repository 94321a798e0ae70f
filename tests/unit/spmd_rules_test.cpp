#include <gtest/gtest.h>

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

TEST(SpmdRules, MatMulBatchedAndBroadcast) {
  OpRule r = R("MatMul", {{8, 128, 64}, {64, 256}}, {{8, 128, 256}});
  EXPECT_EQ(r.to_string(), "MatMul (a=8 b=128 c=256 d=64r): abd, dc -> abc");
  EXPECT_DOUBLE_EQ(r.flops, 2.0 * 8 * 128 * 256 * 64);
  OpRule v = R("MatMul", {{64}, {64, 32}}, {{32}});
  EXPECT_EQ(v.to_string(), "MatMul (a=32 b=64r): b, ba -> a");
  OpRule bc = R("MatMul", {{1, 4, 8, 16}, {2, 1, 16, 8}}, {{2, 4, 8, 8}});
  EXPECT_EQ(bc.to_string(), "MatMul (a=2 b=4 c=8 d=8 e=16r): .bce, a.ed -> abcd");
  EXPECT_FALSE(sharding_rule("MatMul", {}, {{4, 8}, {7, 2}}, {{4, 2}}).ok());
}

TEST(SpmdRules, GemmWithTransposeAndBias) {
  AttrMap a{{"transA", Attr::Int(0)}, {"transB", Attr::Int(1)}};
  OpRule r = R("Gemm", {{32, 64}, {128, 64}, {128}}, {{32, 128}}, a);
  EXPECT_EQ(r.to_string(), "Gemm (a=32 b=128 c=64r): ac, bc, b -> ab");
  EXPECT_TRUE(r.summed_into_result[2]);
}

TEST(SpmdRules, SoftmaxAndLayerNormNeedWholeAxis) {
  OpRule s = R("Softmax", {{4, 16, 32}}, {{4, 16, 32}}, {{"axis", Attr::Int(2)}});
  EXPECT_EQ(s.to_string(), "Softmax (a=4 b=16 c=32!): abc -> abc");
  EXPECT_EQ(s.factors[2].cannot_split, "Softmax needs the whole axis");
  OpRule ln =
      R("LayerNormalization", {{4, 16, 32}, {32}, {32}}, {{4, 16, 32}}, {{"axis", Attr::Int(2)}});
  EXPECT_EQ(ln.to_string(), "LayerNormalization (a=4 b=16 c=32!): abc, c, c -> abc");
}

TEST(SpmdRules, ReshapeGroupsDims) {
  OpRule m = R("Reshape", {{8, 16, 64}}, {{128, 64}});
  EXPECT_EQ(m.to_string(), "Reshape (a=8 b=64): a.b -> ab");
  OpRule s = R("Reshape", {{4, 16, 768}}, {{4, 16, 12, 64}});
  EXPECT_EQ(s.to_string(), "Reshape (a=4 b=16 c=12): abc -> abc.");
  OpRule g = R("Reshape", {{6, 4}}, {{4, 6}});
  EXPECT_EQ(g.to_string(), "Reshape (a=2): a. -> a.");
  OpRule u = R("Unsqueeze", {{4, 8}}, {{4, 1, 8}}, {{"axes", Attr::Ints({1})}});
  EXPECT_EQ(u.to_string(), "Unsqueeze (a=4 b=8): ab -> a.b");
  EXPECT_TRUE(m.is_view);
}

TEST(SpmdRules, ConvSplitsBatchAndChannelsOnly) {
  AttrMap a{{"group", Attr::Int(1)}};
  OpRule c = R("Conv", {{8, 3, 32, 32}, {16, 3, 3, 3}, {16}}, {{8, 16, 30, 30}}, a);
  EXPECT_EQ(c.to_string(), "Conv (a=8 b=16 c=3r d=30! e=30!): ac.., bc.., b -> abde");
  EXPECT_EQ(c.factors[3].cannot_split, "Conv spatial dims need halo exchange (unsupported)");
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 8 * 16 * 30 * 30 * 27);
}

TEST(SpmdRules, ReduceMaxIsNotASum) {
  AttrMap a{{"axes", Attr::Ints({1})}, {"keepdims", Attr::Int(0)}};
  EXPECT_EQ(R("ReduceSum", {{4, 8}}, {{4}}, a).to_string(), "ReduceSum (a=4 b=8r): ab -> a");
  OpRule m = R("ReduceMax", {{4, 8}}, {{4}}, a);
  EXPECT_EQ(m.factors[1].cannot_split, "ReduceMax: a partial result is not a sum");
  // Local means divide by the local count: summing them would scale the mean by the shards.
  OpRule mean = R("ReduceMean", {{4, 8}}, {{4}}, a);
  EXPECT_EQ(mean.factors[1].cannot_split, "ReduceMean: local means divide by the local count");
  EXPECT_TRUE(mean.factors[0].cannot_split.empty());
}

TEST(SpmdRules, MoreOps) {
  EXPECT_EQ(R("Add", {{4, 8}, {8}}, {{4, 8}}).to_string(), "Add (a=4 b=8): ab, b -> ab");
  EXPECT_EQ(R("Add", {{4, 1}, {4, 8}}, {{4, 8}}).to_string(), "Add (a=4 b=8): a., ab -> ab");
  EXPECT_EQ(R("Transpose", {{2, 3, 4}}, {{4, 2, 3}}, {{"perm", Attr::Ints({2, 0, 1})}}).to_string(),
            "Transpose (a=2 b=3 c=4): abc -> cab");
  EXPECT_EQ(R("Gather", {{50, 16}, {4, 7}}, {{4, 7, 16}}, {{"axis", Attr::Int(0)}}).to_string(),
            "Gather (a=50! b=16 c=4 d=7): ab, cd -> cdb");
  EXPECT_EQ(R("Concat", {{4, 8}, {4, 2}}, {{4, 10}}, {{"axis", Attr::Int(1)}}).to_string(),
            "Concat (a=4 b=10!): a., a. -> ab");
  EXPECT_EQ(sharding_rule("Einsum", {}, {}, {{1}}).status().code(), Code::kUnimplemented);
}

// Batch and heads split; query rows, keys, the head size and Dv (every Dv shard would redo the
// scores) never do, each with its reason. The mask follows the scores only on dims it does not
// broadcast.
TEST(SpmdRules, FusedAttentionSplitsBatchHeads) {
  const AttrMap a{{"scale", Attr::Float(0.125)}, {"chunk", Attr::Int(16)}};
  const std::vector<Shape> in{{2, 12, 128, 64}, {2, 12, 256, 64}, {2, 12, 256, 32}, {2, 1, 1, 256}};
  const std::vector<Shape> out{{2, 12, 128, 32}, {2, 12, 16, 256}};
  OpRule r = R("FusedAttention", in, out, a);
  EXPECT_EQ(
      r.to_string(),
      "FusedAttention (a=2 b=12 c=128! d=256! e=64r! f=32!): abce, abde, abdf, a..d -> abcf, ab..");
  EXPECT_EQ(r.factors[2].cannot_split,
            "FusedAttention chunks its query rows inside the op (attribute chunk)");
  EXPECT_EQ(r.factors[3].cannot_split, "FusedAttention takes its softmax over all keys");
  EXPECT_EQ(r.factors[4].cannot_split,
            "FusedAttention needs the whole head size (no softmax of partial scores)");
  const double scores = 2.0 * 12 * 128 * 256;
  EXPECT_DOUBLE_EQ(r.flops, 2.0 * scores * (64 + 32) + 5.0 * scores);
  EXPECT_DOUBLE_EQ(r.scratch_elements, 4.0 * scores);
  std::vector<Shape> in2 = in;
  in2[3] = {128, 256};
  EXPECT_EQ(
      R("FusedAttention", in2, out, a).to_string(),
      "FusedAttention (a=2 b=12 c=128! d=256! e=64r! f=32!): abce, abde, abdf, cd -> abcf, ab..");
  EXPECT_FALSE(sharding_rule("FusedAttention", a, {{2, 8, 4}, {2, 8, 5}, {2, 8, 4}}, out).ok());

  Mesh m = Mesh::parse("dp=2,tp=4").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  const std::vector<Strategy> ss = enumerate_strategies(r, in, out, DType::kFloat32, m, p);
  bool found = false;
  for (const Strategy& st : ss) {
    for (int f : {2, 3, 4, 5}) EXPECT_TRUE(st.factor_axes[f].empty()) << st.name(m);
    if (st.name(m) == "replicated") {  // the roofline counts the scratch passes
      double bytes = 4.0 * r.scratch_elements;
      for (const auto* side : {&in, &out})
        for (const Shape& s : *side) bytes += 4.0 * static_cast<double>(num_elements(s));
      EXPECT_DOUBLE_EQ(st.compute_seconds, std::max(r.flops / p.gemm_flops(DType::kFloat32),
                                                    bytes / p.device.mem_bandwidth));
    }
    if (st.name(m) != "0:{dp} 1:{tp}") continue;
    found = true;
    EXPECT_EQ(st.inputs[0].to_string(), "[{dp}, {tp}, {}, {}]");
    EXPECT_EQ(st.inputs[3].to_string(), "[{dp}, {}, {}, {}]");
    EXPECT_EQ(st.outputs[0].to_string(), "[{dp}, {tp}, {}, {}]");
    EXPECT_EQ(st.outputs[1].to_string(), "[{dp}, {tp}, {}, {}]");
  }
  EXPECT_TRUE(found);
}

// Layout bshd: the same factors with q, k, v, y as [B,S,H,D] (the heads factor b at dim 2, the
// query rows c at dim 1); the mask and the ws scratch keep the scores' [B,H,Sq,Sk] order. The
// gradient maps dy, dq, dk, dv the same way.
TEST(SpmdRules, FusedAttentionBshdLayout) {
  const AttrMap a{
      {"scale", Attr::Float(0.125)}, {"chunk", Attr::Int(16)}, {"layout", Attr::Str("bshd")}};
  const std::vector<Shape> in{{2, 128, 12, 64}, {2, 256, 12, 64}, {2, 256, 12, 32}, {2, 1, 1, 256}};
  const std::vector<Shape> out{{2, 128, 12, 32}, {2, 12, 16, 256}};
  OpRule r = R("FusedAttention", in, out, a);
  EXPECT_EQ(
      r.to_string(),
      "FusedAttention (a=2 b=12 c=128! d=256! e=64r! f=32!): acbe, adbe, adbf, a..d -> acbf, ab..");
  const double scores = 2.0 * 12 * 128 * 256;
  EXPECT_DOUBLE_EQ(r.flops, 2.0 * scores * (64 + 32) + 5.0 * scores);
  const std::vector<Shape> gin{in[0], in[1], in[2], out[0], in[3]};
  const std::vector<Shape> gout{in[0], in[1], in[2], out[1], out[1]};
  EXPECT_EQ(R("FusedAttentionGrad", gin, gout, a).to_string(),
            "FusedAttentionGrad (a=2 b=12 c=128! d=256! e=64! f=32!): acbe, adbe, adbf, acbf, "
            "a..d -> acbe, adbe, adbf, ab.., ab..");
  EXPECT_FALSE(sharding_rule("FusedAttention", a, {{8, 4}, {8, 4}, {8, 4}}, out).ok());

  Mesh m = Mesh::parse("dp=2,tp=4").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  bool found = false;
  for (const Strategy& st : enumerate_strategies(r, in, out, DType::kFloat32, m, p)) {
    if (st.name(m) != "0:{dp} 1:{tp}") continue;
    found = true;
    EXPECT_EQ(st.inputs[0].to_string(), "[{dp}, {}, {tp}, {}]");
    EXPECT_EQ(st.inputs[3].to_string(), "[{dp}, {}, {}, {}]");
    EXPECT_EQ(st.outputs[0].to_string(), "[{dp}, {}, {tp}, {}]");
    EXPECT_EQ(st.outputs[1].to_string(), "[{dp}, {tp}, {}, {}]");
  }
  EXPECT_TRUE(found);
}

TEST(SpmdRules, TableCoversEveryCanonicalOp) {
  std::vector<std::string> ops = ops_with_rules();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  for (const char* op : {"Add",
                         "Where",
                         "Gelu",
                         "Clip",
                         "Cast",
                         "ConvTranspose",
                         "MaxPool",
                         "GlobalAveragePool",
                         "BatchNormalization",
                         "GroupNormalization",
                         "ReduceProd",
                         "Flatten",
                         "Squeeze",
                         "Expand",
                         "Tile",
                         "Split",
                         "Slice",
                         "GatherElements",
                         "GatherND",
                         "Pad",
                         "CumSum",
                         "Trilu",
                         "ConstantOfShape",
                         "Dropout",
                         "FusedAttention",
                         "FusedAttentionGrad"}) {
    EXPECT_TRUE(std::binary_search(ops.begin(), ops.end(), op)) << op;
  }
}

TEST(SpmdStrategies, MatMulCountsAndSpecs) {
  Mesh m = Mesh::parse("dp=2,tp=4").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  std::vector<Shape> in{{8, 128, 64}, {64, 256}}, out{{8, 128, 256}};
  OpRule r = R("MatMul", in, out);
  std::vector<Strategy> s = enumerate_strategies(r, in, out, DType::kBFloat16, m, p);
  // dp: none or one of 4 factors (5); tp: none or one of 4, but b=8/(2*4) fits, all divide (5).
  EXPECT_EQ(s.size(), 25u);
  EXPECT_EQ(s[0].name(m), "replicated");
  for (const Strategy& st : s) {
    if (st.name(m) != "2:{dp} 3:{tp}") continue;  // n over dp, k over tp
    EXPECT_EQ(st.inputs[0].to_string(), "[{}, {}, {tp}]");
    EXPECT_EQ(st.inputs[1].to_string(), "[{tp}, {dp}]");
    EXPECT_EQ(st.outputs[0].to_string(), "[{}, {}, {dp}] partial{tp}");
    EXPECT_EQ(st.output_bytes, 8 * 128 * 128 * 2);
    double t = 2.0 * 8 * 128 * 256 * 64 / 8 / 790e12;
    double bytes = (8 * 128 * 16 + 16 * 128 + 8 * 128 * 128) * 2.0 / 3e12;
    EXPECT_DOUBLE_EQ(st.compute_seconds, std::max(t, bytes));
  }
  EXPECT_EQ(enumerate_strategies(r, in, out, DType::kBFloat16, m, p, 1).size(), 21u);
  Mesh m3 = Mesh::parse("pp=2,dp=2,tp=2").value();
  ClusterProfile p3 = builtin_profile("h100-nvlink", m3).value();
  EXPECT_LE(enumerate_strategies(r, in, out, DType::kBFloat16, m3, p3).size(), 125u);
  OpRule sm = R("Softmax", {{8, 12, 128, 128}}, {{8, 12, 128, 128}}, {{"axis", Attr::Int(3)}});
  EXPECT_EQ(
      enumerate_strategies(sm, {{8, 12, 128, 128}}, {{8, 12, 128, 128}}, DType::kFloat32, m3, p3)
          .size(),
      61u);  // 4^3, less 3 with all axes on one factor
}

}  // namespace
}  // namespace tessera::spmd
