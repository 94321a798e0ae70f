// Layout helpers, group resolution and single-rank collectives (multi-rank: runtime_mpi_check).
#include <gtest/gtest.h>

#include <numeric>

#include "layout.h"
#include "tessera/comm.h"

namespace tessera::runtime {
namespace {

// Pretends to be one rank of a larger world, for group arithmetic only.
class FakeComm final : public Comm {
 public:
  FakeComm(int rank, int size) : rank_(rank), size_(size) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "fake"; }
  Status barrier() override { return Status::Ok(); }
  Status broadcast(std::vector<uint8_t>*, int) override { return Status::Ok(); }
  void abort(int) override {}

 protected:
  Status group_all_reduce(const Group&, DType, const void*, void*, int64_t) override {
    return no();
  }
  Status group_all_gather(const Group&, const void*, void*, int64_t) override { return no(); }
  Status group_reduce_scatter(const Group&, DType, const void*, void*, int64_t) override {
    return no();
  }
  Status group_all_to_all(const Group&, const void*, void*, int64_t) override { return no(); }

 private:
  static Status no() { return Internal("fake"); }
  int rank_, size_;
};

std::vector<int32_t> iota(int n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(Layout, SplitMergeRoundTrip) {
  const Shape shape{2, 6, 3};
  auto in = iota(36);
  for (int64_t dim = 0; dim < 3; ++dim) {
    const int64_t n = dim == 1 ? 3 : shape[dim];
    std::vector<int32_t> blocks(36), back(36);
    split_blocks(reinterpret_cast<uint8_t*>(in.data()), shape, dim, n, 4,
                 reinterpret_cast<uint8_t*>(blocks.data()));
    Shape bs = shape;
    bs[dim] /= n;
    merge_blocks(reinterpret_cast<uint8_t*>(blocks.data()), bs, dim, n, 4,
                 reinterpret_cast<uint8_t*>(back.data()));
    EXPECT_EQ(back, in) << dim;
  }
  // Split along dim 1 of [2,6,3] into 3: block 1 = rows [2,4) of each outer slice.
  std::vector<int32_t> blocks(36);
  split_blocks(reinterpret_cast<uint8_t*>(in.data()), shape, 1, 3, 4,
               reinterpret_cast<uint8_t*>(blocks.data()));
  EXPECT_EQ(blocks[12], 6);   // block 1 starts at [0,2,0]
  EXPECT_EQ(blocks[18], 24);  // then [1,2,0]
}

TEST(Layout, CopyBox) {
  auto in = iota(24);  // [2,3,4]
  std::vector<int32_t> out(2 * 2 * 2);
  copy_box(reinterpret_cast<uint8_t*>(in.data()), {2, 3, 4}, {0, 1, 2}, {2, 2, 2}, 4,
           reinterpret_cast<uint8_t*>(out.data()));
  EXPECT_EQ(out, (std::vector<int32_t>{6, 7, 10, 11, 18, 19, 22, 23}));
}

TEST(Comm, GroupsAreMajorFirstInListedOrder) {
  // Mesh dp=2, tp=3; rank 4 = coords (1, 1).
  FakeComm c(4, 6);
  ASSERT_TRUE(c.set_mesh({"dp", "tp"}, {2, 3}).ok());
  EXPECT_EQ(c.coords(), (std::vector<int64_t>{1, 1}));
  auto tp = c.group({"tp"});
  ASSERT_TRUE(tp.ok());
  EXPECT_EQ(tp->size, 3);
  EXPECT_EQ(tp->rank, 1);
  EXPECT_EQ(tp->color, 1);  // dp coordinate
  auto dptp = c.group({"dp", "tp"});
  EXPECT_EQ(dptp->rank, 4);
  auto tpdp = c.group({"tp", "dp"});
  EXPECT_EQ(tpdp->rank, 1 * 2 + 1);
  EXPECT_EQ(tpdp->size, 6);
  EXPECT_FALSE(c.group({"pp"}).ok());
  EXPECT_FALSE(c.group({"tp", "tp"}).ok());
}

TEST(Comm, MeshMustMatchWorld) {
  FakeComm c(0, 4);
  Status s = c.set_mesh({"dp"}, {2});
  EXPECT_EQ(s.code(), Code::kComm);
  EXPECT_NE(s.message().find("2 ranks but the world has 4"), std::string::npos) << s.message();
}

TEST(Comm, ShardSliceUsesGroupRank) {
  FakeComm c(3, 4);  // dp=2, tp=2: coords (1, 1)
  ASSERT_TRUE(c.set_mesh({"dp", "tp"}, {2, 2}).ok());
  auto in = iota(8);  // [2,4]
  std::vector<int32_t> out(2);
  BufferRef i{DType::kInt32, {2, 4}, in.data()}, o{DType::kInt32, {2, 1}, out.data()};
  ASSERT_TRUE(c.shard_slice({"dp", "tp"}, 1, i, o).ok());
  EXPECT_EQ(out, (std::vector<int32_t>{3, 7}));
}

TEST(Comm, SingleRankCollectivesAreCopies) {
  auto c = make_single_comm();
  ASSERT_TRUE(c->set_mesh({"tp"}, {1}).ok());
  auto in = iota(6);
  std::vector<int32_t> out(6);
  BufferRef i{DType::kInt32, {2, 3}, in.data()}, o{DType::kInt32, {2, 3}, out.data()};
  ASSERT_TRUE(c->all_reduce({"tp"}, i, o).ok());
  EXPECT_EQ(out, in);
  ASSERT_TRUE(c->all_gather({"tp"}, 1, i, o).ok());
  ASSERT_TRUE(c->reduce_scatter({"tp"}, 0, i, o).ok());
  ASSERT_TRUE(c->all_to_all({"tp"}, 0, 1, i, o).ok());
  EXPECT_EQ(out, in);
  BufferRef wrong{DType::kInt32, {3, 2}, out.data()};
  Status s = c->all_gather({"tp"}, 1, i, wrong);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_FALSE(c->all_gather({"tp"}, 5, i, o).ok());
}

TEST(Comm, NoLauncherMeansSingleRank) {
  // The test runs without a launcher (ctest); a single comm must come back without MPI.
  if (detect_launcher().world > 1) GTEST_SKIP() << "running under a launcher";
  auto c = comm_from_environment();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ((*c)->size(), 1);
}

}  // namespace
}  // namespace tessera::runtime
