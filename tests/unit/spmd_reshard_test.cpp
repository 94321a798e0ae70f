#include <gtest/gtest.h>

#include "passes/core/cost_model.h"
#include "passes/core/reshard.h"

namespace tessera::spmd {
namespace {

ShardingSpec P(const std::string& s) { return ShardingSpec::parse(s).value(); }

// A 4x4 mesh of one NVLink domain (uniform links), as Colossal-AI's examples assume.
struct Fixture {
  Mesh mesh = Mesh::parse("x=4,y=4").value();
  ClusterProfile prof;
  Fixture() {
    ProfileParams p = builtin_params("h100-nvlink").value();
    p.devices_per_node = 16;
    prof = make_profile(p, mesh);
  }
  ReshardPlan plan(const Shape& shape, const std::string& src, const std::string& dst) {
    StatusOr<ReshardPlan> r = find_reshard({shape, DType::kFloat32}, mesh, prof, P(src), P(dst));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r.value() : ReshardPlan{};
  }
  std::string ops(const ReshardPlan& p) {
    std::string s;
    for (const auto& st : p.steps) s += st.to_string() + "\n";
    return s;
  }
  double ag(double bytes, std::vector<int> ax) {
    return collective_seconds(Collective::kAllGather, bytes, ax, mesh, prof);
  }
  double a2a(double bytes, std::vector<int> ax) {
    return collective_seconds(Collective::kAllToAll, bytes, ax, mesh, prof);
  }
};

TEST(SpmdReshard, ColossalR_S01_R_to_S01_R_R) {
  Fixture f;
  ReshardPlan p = f.plan({64, 32, 16}, "[{}, {x, y}, {}]", "[{x, y}, {}, {}]");
  EXPECT_EQ(f.ops(p),
            "all-gather{y} dim 1 => [{}, {x}, {}]\n"
            "all-to-all{x} dim 1 -> 0 => [{x}, {}, {}]\n"
            "slice{y} dim 0 => [{x, y}, {}, {}]\n");
  double full = 64 * 32 * 16 * 4;
  double colossal = f.ag(full / 4, {1}) + f.a2a(full / 4, {0}) + copy_seconds(full / 16, f.prof);
  EXPECT_DOUBLE_EQ(p.seconds, colossal);
  EXPECT_EQ(P("[{x, y}, {}, {}]").to_colossal(f.mesh).value(), "[S01,R,R]");
}

TEST(SpmdReshard, PartialToReplicatedIsAllReduce) {
  Fixture f;
  ReshardPlan p = f.plan({64, 32}, "[{}, {}] partial{x}", "[{}, {}]");
  EXPECT_EQ(f.ops(p), "all-reduce{x} => [{}, {}]\n");
  EXPECT_DOUBLE_EQ(p.seconds,
                   collective_seconds(Collective::kAllReduce, 64 * 32 * 4, {0}, f.mesh, f.prof));
}

TEST(SpmdReshard, PartialToShardedIsReduceScatter) {
  Fixture f;
  ReshardPlan p = f.plan({64, 32}, "[{}, {}] partial{x}", "[{x}, {}]");
  EXPECT_EQ(f.ops(p), "reduce-scatter{x} dim 0 => [{x}, {}]\n");
  double full = 64 * 32 * 4;
  auto rs = [&](double b, std::vector<int> ax) {
    return collective_seconds(Collective::kReduceScatter, b, ax, f.mesh, f.prof);
  };
  EXPECT_DOUBLE_EQ(p.seconds, rs(full, {0}));
  // Over both axes, two rings of 4 (6 alpha) beat one ring of 16 (15 alpha) on small tensors:
  // the search finds the hierarchical form by itself.
  ReshardPlan two = f.plan({64, 32}, "[{}, {}] partial{x, y}", "[{}, {y, x}]");
  EXPECT_EQ(f.ops(two),
            "reduce-scatter{y} dim 1 => [{}, {y}] partial{x}\n"
            "reduce-scatter{x} dim 1 => [{}, {y, x}]\n");
  EXPECT_DOUBLE_EQ(two.seconds, rs(full, {1}) + rs(full / 4, {0}));
  EXPECT_LT(two.seconds, rs(full, {0, 1}));
}

TEST(SpmdReshard, S0ToS1OnSameDimGathersThenSlices) {
  Fixture f;
  ReshardPlan p = f.plan({64, 32}, "[{x}, {}]", "[{y}, {}]");
  EXPECT_EQ(f.ops(p), "all-gather{x} dim 0 => [{}, {}]\nslice{y} dim 0 => [{y}, {}]\n");
  double full = 64 * 32 * 4;
  EXPECT_DOUBLE_EQ(p.seconds, f.ag(full, {0}) + copy_seconds(full / 4, f.prof));
}

TEST(SpmdReshard, SimpleMoves) {
  Fixture f;
  EXPECT_EQ(f.ops(f.plan({64, 32}, "[{x}, {}]", "[{}, {x}]")),
            "all-to-all{x} dim 0 -> 1 => [{}, {x}]\n");
  EXPECT_EQ(f.ops(f.plan({64, 32}, "[{}, {}]", "[{x, y}, {}]")),
            "slice{x, y} dim 0 => [{x, y}, {}]\n");
  EXPECT_EQ(f.ops(f.plan({64, 32}, "[{x, y}, {}]", "[{}, {}]")),
            "all-gather{y} dim 0 => [{x}, {}]\nall-gather{x} dim 0 => [{}, {}]\n");
  // (Two rings of 4 move as many bytes as one of 16, 3/16 + 3/4 = 15/16, with fewer steps.)
  EXPECT_EQ(f.ops(f.plan({64, 32}, "[{x}, {}] partial{y}", "[{x}, {y}]")),
            "reduce-scatter{y} dim 1 => [{x}, {y}]\n");
  ReshardPlan same = f.plan({64, 32}, "[{x}, {}]", "[{x}, {}]");
  EXPECT_TRUE(same.steps.empty());
  EXPECT_EQ(same.seconds, 0);
}

// A replicated value becomes partial by a local zeroing (a bias added to a split reduction).
TEST(SpmdReshard, MakePartialIsLocal) {
  Fixture f;
  TensorType t{{64, 32}, DType::kFloat32};
  auto p = find_reshard(t, f.mesh, f.prof, P("[{}, {}]"), P("[{}, {}] partial{x}"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->steps.size(), 1u);
  EXPECT_EQ(p->steps[0].op, ReshardOp::kMakePartial);
  EXPECT_EQ(p->steps[0].axes, std::vector<std::string>{"x"});
}

TEST(SpmdReshard, Errors) {
  Fixture f;
  EXPECT_FALSE(
      find_reshard({{6, 32}, DType::kFloat32}, f.mesh, f.prof, P("[{x}, {}]"), P("[{}, {}]")).ok());
}

// Every plan's steps chain from src to dst, their costs add up, and it never costs more than
// the naive route (all-reduce partials, gather everything, slice to the target).
TEST(SpmdReshard, PlansAreConsistentAndNoWorseThanNaive) {
  Fixture f;
  Shape shape{64, 32, 16};
  std::vector<std::string> specs = {"[{}, {}, {}]",
                                    "[{x}, {}, {}]",
                                    "[{}, {y}, {x}]",
                                    "[{x, y}, {}, {}]",
                                    "[{y, x}, {}, {}]",
                                    "[{}, {x}, {}] partial{y}",
                                    "[{}, {}, {}] partial{x, y}",
                                    "[{}, {}, {y}]"};
  ReshardCostCache cache(f.mesh, f.prof);
  for (const auto& s : specs) {
    for (const auto& d : specs) {
      if (!P(d).partial.empty() && P(d).partial != P(s).partial) continue;
      if (!P(d).partial.empty()) continue;
      ReshardPlan p = f.plan(shape, s, d);
      ShardingSpec cur = P(s);
      double sum = 0;
      for (const auto& st : p.steps) cur = st.after, sum += st.seconds;
      EXPECT_EQ(cur, P(d)) << s << " -> " << d;
      EXPECT_NEAR(sum, p.seconds, 1e-15);
      double full = 64 * 32 * 16 * 4;
      ShardingSpec src = P(s);
      std::vector<int> part, split;
      for (const auto& a : src.partial) part.push_back(f.mesh.axis_index(a));
      for (const auto& dim : src.dims)
        for (const auto& a : dim) split.push_back(f.mesh.axis_index(a));
      double local = src.local_bytes(shape, DType::kFloat32, f.mesh);
      double naive = collective_seconds(Collective::kAllReduce, local, part, f.mesh, f.prof) +
                     f.ag(full, split) + copy_seconds(full, f.prof);
      EXPECT_LE(p.seconds, naive + 1e-12) << s << " -> " << d;
      EXPECT_DOUBLE_EQ(cache.seconds({shape, DType::kFloat32}, P(s), P(d)), p.seconds);
    }
  }
}

}  // namespace
}  // namespace tessera::spmd
