// Chunking core: legality of dimension flow per op, the rewrite's numerics (interpreter,
// chunked vs whole), liveness, the count choice and the search on an attention block.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/shape_infer.h"
#include "passes/core/chunk.h"
#include "passes/core/interpreter.h"

namespace tessera::chunk {
namespace {

// A tiny graph builder: values get shapes from shape inference.
struct G {
  ir::Graph g;
  int input(const std::string& name, Shape s) {
    ir::Value v;
    v.name = name, v.dtype = DType::kFloat32, v.shape = std::move(s),
    v.kind = ir::ValueKind::kInput;
    const int id = g.add_value(v);
    g.inputs.push_back(id);
    return id;
  }
  int op(const std::string& op, std::vector<int> in, AttrMap attrs = {}) {
    ir::Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op = op;
    n.attrs = std::move(attrs);
    n.inputs = std::move(in);
    n.outputs = {-1};  // sized for inference, set below
    std::vector<ir::TypeShape> ts;
    for (int i : n.inputs) ts.push_back({g.values[i].dtype, g.values[i].shape});
    auto out = ir::infer(n, ts);
    EXPECT_TRUE(out.ok()) << out.status().message();
    ir::Value v;
    v.name = n.name + ".out", v.dtype = (*out)[0].first, v.shape = (*out)[0].second;
    n.outputs = {g.add_value(v)};
    const int id = n.outputs[0];
    g.add_node(std::move(n));
    return id;
  }
  std::vector<int> all() const {
    std::vector<int> v;
    for (size_t i = 0; i < g.nodes.size(); ++i) v.push_back(static_cast<int>(i));
    return v;
  }
};

TEST(ChunkLegality, MatMulBatchAndRowsFlowContractionBlocks) {
  G b;
  int a = b.input("a", {2, 8, 4}), w = b.input("w", {2, 4, 6});
  int y = b.op("MatMul", {a, w});
  EXPECT_TRUE(trace_dim(b.g, {0}, y, 0).legal);  // batch
  EXPECT_TRUE(trace_dim(b.g, {0}, y, 1).legal);  // m
  EXPECT_TRUE(trace_dim(b.g, {0}, y, 2).legal);  // n
  Trace k = trace_dim(b.g, {0}, a, 2);           // k
  EXPECT_FALSE(k.legal);
  EXPECT_NE(k.why.find("reduces over the chunk dim"), std::string::npos) << k.why;
}

TEST(ChunkLegality, SoftmaxAlongChunkDimBlocksOtherDimFlows) {
  G b;
  int x = b.input("x", {4, 8});
  int y = b.op("Softmax", {x}, {{"axis", Attr::Int(1)}});
  Trace along = trace_dim(b.g, {0}, y, 1);
  EXPECT_FALSE(along.legal);
  EXPECT_NE(along.why.find("whole axis"), std::string::npos) << along.why;
  EXPECT_TRUE(trace_dim(b.g, {0}, y, 0).legal);
}

TEST(ChunkLegality, LayerNormAndReductions) {
  G b;
  int x = b.input("x", {4, 6, 8}), s = b.input("s", {8});
  b.op("LayerNormalization", {x, s}, {{"axis", Attr::Int(2)}, {"epsilon", Attr::Float(1e-5)}});
  EXPECT_FALSE(trace_dim(b.g, {0}, x, 2).legal);
  EXPECT_TRUE(trace_dim(b.g, {0}, x, 1).legal);
  G r;
  int z = r.input("z", {4, 6});
  r.op("ReduceSum", {z}, {{"axes", Attr::Ints({1})}, {"keepdims", Attr::Int(1)}});
  EXPECT_FALSE(trace_dim(r.g, {0}, z, 1).legal);
  EXPECT_TRUE(trace_dim(r.g, {0}, z, 0).legal);
}

// scores = q·kᵀ; softmax over keys; out = p·v. Queries (dim 1) and batch flow; keys do not.
G attention(int64_t b = 2, int64_t s = 8, int64_t d = 4) {
  G a;
  int q = a.input("q", {b, s, d}), k = a.input("k", {b, d, s}), v = a.input("v", {b, s, d});
  int sc = a.op("MatMul", {q, k});
  int p = a.op("Softmax", {sc}, {{"axis", Attr::Int(2)}});
  a.op("MatMul", {p, v});
  return a;
}

TEST(ChunkLegality, AttentionQueriesFlowKeysBlock) {
  G a = attention();
  const int scores = a.g.nodes[0].outputs[0];
  Trace t = trace_dim(a.g, a.all(), scores, 1);
  ASSERT_TRUE(t.legal) << t.why;
  EXPECT_EQ(t.dim.at(a.g.inputs[1]), -1);  // keys used whole
  EXPECT_EQ(t.dim.at(a.g.inputs[0]), 1);   // queries sliced
  EXPECT_EQ(t.inputs.size(), 3u);
  EXPECT_EQ(t.outputs.size(), 1u);
  EXPECT_FALSE(trace_dim(a.g, a.all(), scores, 2).legal);
  EXPECT_TRUE(trace_dim(a.g, a.all(), scores, 0).legal);
}

TEST(ChunkLegality, ConflictingDimsBlock) {
  G b;
  int x = b.input("x", {4, 4});
  int t = b.op("Transpose", {x}, {{"perm", Attr::Ints({1, 0})}});
  b.op("Add", {x, t});  // dim 0 of x meets dim 1 of x
  EXPECT_FALSE(trace_dim(b.g, b.all(), x, 0).legal);
}

ir::TensorData random_tensor(const Shape& s, int seed) {
  ir::TensorData d;
  d.dtype = DType::kFloat32, d.shape = s;
  d.bytes.resize(num_elements(s) * 4);
  float* f = reinterpret_cast<float*>(d.bytes.data());
  for (int64_t i = 0; i < d.numel(); ++i) f[i] = static_cast<float>(std::sin(i * 0.37 + seed));
  return d;
}

void expect_same_outputs(const ir::Graph& a, const ir::Graph& b) {
  core::Feeds feeds;
  int seed = 0;
  for (int v : a.inputs) feeds[a.values[v].name] = random_tensor(a.values[v].shape, ++seed);
  auto ra = core::interpret(a, feeds);
  auto rb = core::interpret(b, feeds);
  ASSERT_TRUE(ra.ok()) << ra.status().message();
  ASSERT_TRUE(rb.ok()) << rb.status().message();
  ASSERT_EQ(ra->size(), rb->size());
  for (size_t o = 0; o < ra->size(); ++o) {
    ASSERT_EQ((*ra)[o].shape, (*rb)[o].shape);
    const float* x = (*ra)[o].as<float>();
    const float* y = (*rb)[o].as<float>();
    for (int64_t i = 0; i < (*ra)[o].numel(); ++i)
      EXPECT_NEAR(x[i], y[i], 1e-6 * (1 + std::fabs(x[i])));
  }
}

TEST(ChunkRewrite, AttentionChunkedEqualsWhole) {
  for (int dim : {0, 1}) {
    for (int64_t count : {2, 3, 8}) {
      G a = attention();
      a.g.outputs = {a.g.nodes.back().outputs[0]};
      ir::Graph c = a.g;
      Trace t = trace_dim(c, a.all(), c.nodes[0].outputs[0], dim);
      ASSERT_TRUE(t.legal) << t.why;
      if (count > t.extent) continue;
      int lo = -1, hi = -1;
      ASSERT_TRUE(chunk_region(c, a.all(), t, count, "t", &lo, &hi).ok());
      EXPECT_EQ(lo, 0);
      EXPECT_EQ(hi, static_cast<int>(c.nodes.size()) - 1);
      EXPECT_EQ(c.nodes.back().op, "Concat");
      expect_same_outputs(a.g, c);
    }
  }
}

TEST(ChunkRewrite, ReshapeFollowsTheChunk) {
  G b;
  int x = b.input("x", {4, 6});
  int r = b.op("Reshape", {x}, {{"shape", Attr::Ints({4, 2, 3})}});
  int y = b.op("Relu", {r});
  b.g.outputs = {y};
  ir::Graph c = b.g;
  Trace t = trace_dim(c, b.all(), x, 0);
  ASSERT_TRUE(t.legal) << t.why;
  ASSERT_TRUE(chunk_region(c, b.all(), t, 2, "t").ok());
  expect_same_outputs(b.g, c);
  EXPECT_FALSE(trace_dim(b.g, b.all(), x, 1).legal);  // 6 -> (2, 3): not one dim
}

TEST(ChunkMemory, LivenessAndPeakFallsWithChunks) {
  G a = attention(2, 64, 4);
  a.g.outputs = {a.g.nodes.back().outputs[0]};
  Liveness before = liveness(a.g);
  // At the softmax: v (q and k are dead), scores and probabilities.
  EXPECT_EQ(before.peak, (2 * 64 * 4 + 2 * 2 * 64 * 64) * 4);
  Trace t = trace_dim(a.g, a.all(), a.g.nodes[0].outputs[0], 1);
  ir::Graph c = a.g;
  ASSERT_TRUE(chunk_region(c, a.all(), t, 8, "t").ok());
  Liveness after = liveness(c);
  EXPECT_LT(after.peak, before.peak / 3);
}

TEST(ChunkCost, ChoosesCheapestCountThatFits) {
  std::vector<int64_t> ks = {2, 4, 8, 16};
  auto peak = [](int64_t k) { return 1000 / k; };
  auto cost = [](int64_t k) { return static_cast<double>(k); };
  EXPECT_EQ(choose_count(ks, 300, peak, cost), 4);  // 250 fits, 500 does not
  EXPECT_EQ(choose_count(ks, 10, peak, cost), 16);  // none fits: lowest peak
  EXPECT_EQ(choose_count({}, 10, peak, cost), -1);
  // Cost not monotone in k: the cheaper fitting count wins.
  auto bumpy = [](int64_t k) { return k == 4 ? 9.0 : 1.0 * k; };
  EXPECT_EQ(choose_count(ks, 300, peak, bumpy), 8);
}

TEST(ChunkCost, ChunkingAddsModelledTime) {
  G a = attention(2, 64, 4);
  a.g.outputs = {a.g.nodes.back().outputs[0]};
  Trace t = trace_dim(a.g, a.all(), a.g.nodes[0].outputs[0], 1);
  spmd::ClusterProfile p;
  p.device.gemm_flops_fp32 = 1e12;
  p.device.mem_bandwidth = 1e11;
  const double whole = region_seconds(a.g, a.all(), t, 1, p);
  const double two = region_seconds(a.g, a.all(), t, 2, p);
  const double many = region_seconds(a.g, a.all(), t, 32, p);
  EXPECT_GT(two, whole);
  EXPECT_GT(many, two);
}

TEST(ChunkSearch, AutoChunkFitsTheBudget) {
  G a = attention(2, 64, 4);
  a.g.outputs = {a.g.nodes.back().outputs[0]};
  const ir::Graph whole = a.g;
  Options o;
  o.profile.device.gemm_flops_fp32 = 1e12;
  o.profile.device.mem_bandwidth = 1e11;
  o.activation_budget = liveness(a.g).peak / 4;
  auto rep = auto_chunk(a.g, o);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  ASSERT_EQ(rep->regions.size(), 1u);
  EXPECT_LE(rep->peak_after, o.activation_budget);
  EXPECT_EQ(rep->regions[0].ops.size(), 3u);
  expect_same_outputs(whole, a.g);
  // Already fitting: nothing to do.
  G b = attention(2, 64, 4);
  b.g.outputs = {b.g.nodes.back().outputs[0]};
  o.activation_budget = liveness(b.g).peak;
  auto none = auto_chunk(b.g, o);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->regions.empty());
}

TEST(ChunkConvexity, RegionWithAnOutsidePathBackIsNotConvex) {
  G b;
  int x = b.input("x", {4, 4});
  int r = b.op("Relu", {x});  // 0: in region
  int n = b.op("Neg", {r});   // 1: outside
  b.op("Add", {r, n});        // 2: in region, reads the outside path
  EXPECT_FALSE(is_convex(b.g, {0, 2}));
  EXPECT_TRUE(is_convex(b.g, {0, 1, 2}));
  EXPECT_TRUE(is_convex(b.g, {1, 2}));
}

}  // namespace
}  // namespace tessera::chunk
