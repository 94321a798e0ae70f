#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "passes/core/cluster.h"
#include "passes/core/mesh.h"

namespace tessera::spmd {
namespace {

TEST(SpmdMesh, ParsesAxesAndWorldSize) {
  StatusOr<Mesh> m = Mesh::parse(" dp = 2, tp=4 ");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->num_axes(), 2);
  EXPECT_EQ(m->axis(1).name, "tp");
  EXPECT_EQ(m->world_size(), 8);
  EXPECT_EQ(m->axis_index("tp"), 1);
  EXPECT_EQ(m->axis_index("pp"), -1);
  EXPECT_EQ(m->to_string(), "dp=2,tp=4");
}

TEST(SpmdMesh, RejectsBadText) {
  for (const char* bad : {"", "dp", "dp=0", "dp=-1", "dp=2,dp=4", "dp=x", "2=2", "dp=2,,tp=2"}) {
    StatusOr<Mesh> m = Mesh::parse(bad);
    EXPECT_FALSE(m.ok()) << bad;
    if (!m.ok()) {
      EXPECT_NE(m.status().message().find("mesh"), std::string::npos);
    }
  }
  EXPECT_NE(Mesh::parse("dp=2,dp=4").status().message().find("'dp' appears twice"),
            std::string::npos);
}

TEST(SpmdMesh, RankCoordinatesRowMajor) {
  Mesh m = Mesh::parse("a=2,b=3,c=4").value();
  EXPECT_EQ(m.coords(0), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(m.coords(5), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(m.coords(23), (std::vector<int64_t>{1, 2, 3}));
  for (int64_t r = 0; r < m.world_size(); ++r) EXPECT_EQ(m.rank(m.coords(r)), r);
}

TEST(SpmdCluster, BuiltinsAssignLinksToAxes) {
  Mesh m = Mesh::parse("dp=4,tp=8").value();
  ClusterProfile ib = builtin_profile("h100-ib", m).value();
  EXPECT_EQ(ib.links[1].kind, "nvlink");
  EXPECT_EQ(ib.links[0].kind, "ib");
  EXPECT_DOUBLE_EQ(ib.links[0].beta, 1 / 50e9);
  EXPECT_DOUBLE_EQ(ib.gemm_flops(DType::kBFloat16), 790e12);
  Mesh m3 = Mesh::parse("a=4,b=2,c=4").value();  // c*b = 8 fits a node, a spans nodes
  ClusterProfile ib3 = builtin_profile("h100-ib", m3).value();
  EXPECT_EQ(ib3.links[0].kind, "ib");
  EXPECT_EQ(ib3.links[1].kind, "nvlink");
  EXPECT_EQ(ib3.links[2].kind, "nvlink");
  EXPECT_FALSE(builtin_profile("h100-nvlink", m).ok());  // 32 devices on one host
  EXPECT_TRUE(builtin_profile("cpu", m).ok());
  EXPECT_EQ(builtin_profile("tpu", m).status().code(), Code::kNotFound);
}

TEST(SpmdCluster, ParsesFileFormat) {
  Mesh m = Mesh::parse("node=2,gpu=4").value();
  std::string text =
      "# two hosts of four\nname = small\ngemm_flops_fp32 = 1e12\ngemm_flops_16 = 2e12\n"
      "mem_bandwidth = 1e11\nmem_bytes = 8e9\ndevices_per_node = 4\n"
      "intra_alpha = 5e-6\nintra_bandwidth = 1e11\ninter_alpha = 1e-5\n"
      "inter_bandwidth = 1e10\naxis.gpu.alpha = 3e-6\n";
  StatusOr<ClusterProfile> p = parse_profile(text, m, "small.txt");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->name, "small");
  EXPECT_DOUBLE_EQ(p->links[0].beta, 1e-10);
  EXPECT_DOUBLE_EQ(p->links[1].beta, 1e-11);
  EXPECT_DOUBLE_EQ(p->links[1].alpha, 3e-6);
  EXPECT_DOUBLE_EQ(p->device.mem_bytes, 8e9);
}

TEST(SpmdCluster, FileErrorsNameLineAndKey) {
  Mesh m = Mesh::parse("tp=2").value();
  auto msg = [&](const std::string& t) { return parse_profile(t, m, "f").status().message(); };
  EXPECT_EQ(msg("base = cpu\nmem_bytes = lots\n"),
            "f:2: key 'mem_bytes': 'lots' is not a positive number");
  EXPECT_EQ(msg("base = cpu\nflops = 3\n"),
            "f:2: unknown key 'flops' (see docs/cluster-profiles.md)");
  EXPECT_EQ(msg("base = cpu\n\nmem_bytes 3\n"), "f:3: expected 'key = value', got 'mem_bytes 3'");
  EXPECT_EQ(msg("base = cpu\naxis.dp.alpha = 1\n"),
            "f:2: key 'axis.dp.alpha': mesh tp=2 has no axis 'dp'");
  EXPECT_EQ(msg("mem_bytes = 1\n"), "f: missing key 'gemm_flops_fp32' (or give 'base')");
  EXPECT_TRUE(parse_profile("base = h100-ib\nmem_bytes = 141e9\n", m, "f").ok());
}

TEST(SpmdCluster, LoadsBuiltinOrFile) {
  Mesh m = Mesh::parse("tp=2").value();
  std::string path = ::testing::TempDir() + "spmd_profile.txt";
  std::ofstream(path) << "base = cpu\nmem_bytes = 4e9\n";
  StatusOr<ClusterProfile> p = load_profile(path, m);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_DOUBLE_EQ(p->device.mem_bytes, 4e9);
  std::remove(path.c_str());
  EXPECT_TRUE(load_profile("cpu", m).ok());
  EXPECT_EQ(load_profile("/nonexistent/x", m).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace tessera::spmd
