#include <gtest/gtest.h>

#include "passes/core/cost_model.h"

namespace tessera::spmd {
namespace {

TEST(SpmdCost, CollectiveFormulas) {
  Mesh m = Mesh::parse("dp=2,tp=4").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  double a = 8e-6, b = 1 / 400e9, B = 1 << 20;
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kAllReduce, B, {1}, m, p), 6 * a + 1.5 * B * b);
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kAllGather, B, {1}, m, p), 3 * a + 0.75 * B * b);
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kReduceScatter, B, {0}, m, p), a + 0.5 * B * b);
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kAllToAll, B, {1}, m, p), 3 * a + 0.75 * B * b);
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kAllReduce, B, {0, 1}, m, p),
                   14 * a + 2 * 7.0 / 8 * B * b);
  EXPECT_EQ(collective_seconds(Collective::kAllReduce, B, {}, m, p), 0);
}

TEST(SpmdCost, MultiAxisGroupUsesSlowestLink) {
  Mesh m = Mesh::parse("node=2,gpu=8").value();
  ClusterProfile p = builtin_profile("h100-ib", m).value();
  double B = 1e9;
  EXPECT_DOUBLE_EQ(collective_seconds(Collective::kAllGather, B, {0, 1}, m, p),
                   15 * 15e-6 + 15.0 / 16 * B / 50e9);
}

TEST(SpmdCost, Roofline) {
  Mesh m = Mesh::parse("tp=2").value();
  ClusterProfile p = builtin_profile("h100-nvlink", m).value();
  EXPECT_DOUBLE_EQ(compute_seconds(790e12, 1, DType::kBFloat16, p), 1.0);
  EXPECT_DOUBLE_EQ(compute_seconds(1, 3e12, DType::kFloat32, p), 1.0);
  EXPECT_DOUBLE_EQ(compute_seconds(400e12, 0, DType::kFloat32, p), 1.0);
  EXPECT_DOUBLE_EQ(copy_seconds(1.5e12, p), 1.0);
}

}  // namespace
}  // namespace tessera::spmd
