#include <gtest/gtest.h>

#include "passes/core/sharding_spec.h"

namespace tessera::spmd {
namespace {

ShardingSpec P(const std::string& s) {
  StatusOr<ShardingSpec> r = ShardingSpec::parse(s);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : ShardingSpec{};
}

TEST(SpmdSpec, PrintsReadably) {
  ShardingSpec s;
  s.dims = {{"tp"}, {}};
  s.partial = {"dp"};
  EXPECT_EQ(s.to_string(), "[{tp}, {}] partial{dp}");
  EXPECT_EQ(ShardingSpec::replicated(2).to_string(), "[{}, {}]");
  EXPECT_EQ(ShardingSpec::replicated(0).to_string(), "[]");
}

TEST(SpmdSpec, RoundTrips) {
  for (const char* t : {"[{tp}, {}] partial{dp}", "[{}, {}]", "[]", "[{dp, tp}, {}, {pp}]",
                        "[{}] partial{dp, tp}"}) {
    EXPECT_EQ(P(t).to_string(), t);
  }
  EXPECT_EQ(P(" [ {dp,tp} ,{ } ]partial{ x }").to_string(), "[{dp, tp}, {}] partial{x}");
}

TEST(SpmdSpec, ParseErrorsNameColumn) {
  EXPECT_EQ(ShardingSpec::parse("[{tp}").status().message(),
            "sharding spec '[{tp}' at column 6: expected ',' or ']'");
  EXPECT_FALSE(ShardingSpec::parse("{tp}").ok());
  EXPECT_FALSE(ShardingSpec::parse("[{tp,}]").ok());
  EXPECT_FALSE(ShardingSpec::parse("[{}] partial{x, x}").ok());
  EXPECT_FALSE(ShardingSpec::parse("[{}] sum{x}").ok());
  EXPECT_FALSE(ShardingSpec::parse("[{}] partial{x} z").ok());
}

TEST(SpmdSpec, ColossalNotation) {
  Mesh m = Mesh::parse("x=4,y=4").value();
  EXPECT_EQ(P("[{}, {x, y}, {}]").to_colossal(m).value(), "[R,S01,R]");
  EXPECT_EQ(P("[{y}, {x}]").to_colossal(m).value(), "[S1,S0]");
  EXPECT_EQ(P("[{}] partial{y, x}").to_colossal(m).value(), "[R] P01");
  EXPECT_FALSE(P("[{z}]").to_colossal(m).ok());
}

TEST(SpmdSpec, Validates) {
  Mesh m = Mesh::parse("dp=2,tp=4").value();
  EXPECT_TRUE(P("[{dp}, {tp}]").validate({4, 8}, m).ok());
  EXPECT_EQ(P("[{dp}, {dp}]").validate({4, 8}, m).message(),
            "sharding [{dp}, {dp}] of tensor 4x8: mesh axis 'dp' is used twice");
  EXPECT_FALSE(P("[{dp}, {}] partial{dp}").validate({4, 8}, m).ok());
  EXPECT_EQ(P("[{tp}, {}]").validate({6, 8}, m).message(),
            "sharding [{tp}, {}] of tensor 6x8: dim 0 of size 6 does not divide into 4 shards");
  EXPECT_FALSE(P("[{pp}, {}]").validate({4, 8}, m).ok());
  EXPECT_FALSE(P("[{}]").validate({4, 8}, m).ok());
}

TEST(SpmdSpec, LocalShapeAndOffsets) {
  Mesh m = Mesh::parse("dp=2,tp=4").value();
  ShardingSpec s = P("[{tp, dp}, {}] partial{}");
  EXPECT_EQ(s.local_shape({16, 8}, m), (Shape{2, 8}));
  EXPECT_EQ(s.local_bytes({16, 8}, DType::kFloat32, m), 64);
  // rank 6 = (dp 1, tp 2): tp major, so piece 2*2+1 = 5 of 8.
  std::vector<int64_t> c = m.coords(6);
  EXPECT_EQ(s.shard_index(0, c, m), 5);
  EXPECT_EQ(s.shard_offsets({16, 8}, c, m), (std::vector<int64_t>{10, 0}));
  ShardingSpec t = P("[{dp}, {tp}]");
  EXPECT_EQ(t.shard_offsets({16, 8}, c, m), (std::vector<int64_t>{8, 4}));
}

}  // namespace
}  // namespace tessera::spmd
