// Session end to end on one rank: a small MLP against a float64 reference, plus the refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime_test_util.h"
#include "session_internal.h"
#include "tessera/runtime.h"

namespace tessera::runtime {
namespace {

std::shared_ptr<const Plan> in_memory(const plan::Plan& p,
                                      const std::vector<planfile::WeightBlob>& w) {
  auto bytes = planfile::serialize(p, w);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto f = planfile::PlanFile::from_bytes(*bytes, "mem.tsp");
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return Plan::from_file(std::move(f).value());
}

HostTensor make_x() {
  HostTensor x = HostTensor::zeros("x", DType::kFloat32, {2, 3});
  const float v[] = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f, -1.5f};
  std::memcpy(x.bytes.data(), v, sizeof(v));
  return x;
}

TEST(Session, MlpMatchesFloat64Reference) {
  testing::MlpPlan m = testing::make_mlp_plan();
  const std::string path = testing::scratch_dir() + "/session_mlp.tsp";
  ASSERT_TRUE(planfile::write_file(path, m.plan, m.weights).ok());
  auto plan = Plan::load(path);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  SessionOptions opts;
  opts.profile = true;
  auto s = Session::create(*plan, make_single_comm(), opts);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  HostTensor x = make_x();
  ASSERT_TRUE((*s)->bind_input("x", x).ok());
  for (int rep = 0; rep < 2; ++rep) {  // a second run must give the same answer
    Status r = (*s)->run();
    ASSERT_TRUE(r.ok()) << r.to_string();
    auto y = (*s)->output("y");
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    ASSERT_EQ(y->shape, (Shape{2, 4}));
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) {
        double acc = m.b[j];
        for (int k = 0; k < 3; ++k) acc += double(x.data<float>()[i * 3 + k]) * m.w[k * 4 + j];
        EXPECT_NEAR(y->data<float>()[i * 4 + j], std::max(acc, 0.0), 1e-6) << i << "," << j;
      }
  }
  EXPECT_EQ((*s)->instruction_seconds().size(), 3u);
  EXPECT_EQ((*s)->arena_bytes(), m.plan.arena_bytes());
  EXPECT_GE((*s)->weight_bytes(), 64);
  std::remove(path.c_str());
}

TEST(Session, RefusesGraphOnlyPlan) {
  testing::MlpPlan m = testing::make_mlp_plan();
  m.plan.set_has_weight_data(false);
  m.weights.clear();
  auto s = Session::create(in_memory(m.plan, m.weights), make_single_comm());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(
                "plan has no weight data (compiled from a graph-only model); run needs weights"),
            std::string::npos);
}

TEST(Session, InputErrors) {
  testing::MlpPlan m = testing::make_mlp_plan();
  auto s = Session::create(in_memory(m.plan, m.weights), make_single_comm());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  Status r = (*s)->run();
  EXPECT_NE(r.message().find("'x' is not bound"), std::string::npos) << r.message();
  EXPECT_FALSE((*s)->output("y").ok());
  HostTensor wrong = HostTensor::zeros("x", DType::kFloat32, {3, 2});
  Status b = (*s)->bind_input("x", wrong);
  EXPECT_EQ(b.code(), Code::kInvalidArgument);
  EXPECT_NE(b.message().find("expects f32 2x3"), std::string::npos) << b.message();
  EXPECT_EQ((*s)->bind_input("nope", make_x()).code(), Code::kNotFound);
}

TEST(Session, WorldMustMatchMesh) {
  testing::MlpPlan m = testing::make_mlp_plan();
  m.plan.mutable_mesh()->mutable_axes(0)->set_size(2);
  auto s = Session::create(in_memory(m.plan, m.weights), make_single_comm());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kComm);
  EXPECT_NE(s.status().message().find("2 ranks but the world has 1"), std::string::npos);
}

TEST(Session, MissingWeightSection) {
  testing::MlpPlan m = testing::make_mlp_plan();
  m.weights.pop_back();
  auto s = Session::create(in_memory(m.plan, m.weights), make_single_comm());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'b' has no weight section for rank 0"), std::string::npos)
      << s.status().message();
}

TEST(Session, UnknownOpIsReportedAtCreate) {
  testing::MlpPlan m = testing::make_mlp_plan();
  m.plan.mutable_instructions(2)->set_op("NoSuchOp");
  auto s = Session::create(in_memory(m.plan, m.weights), make_single_comm());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnimplemented);
  EXPECT_NE(s.status().message().find("NoSuchOp"), std::string::npos);
}

TEST(Session, ShardBoxFollowsDimSharding) {
  // Global [4,6] sharded [{dp}, {tp}] on dp=2,tp=3; rank 4 = (1,1) holds rows 2..3, cols 2..3.
  class Fake final : public Comm {
   public:
    int rank() const override { return 4; }
    int size() const override { return 6; }
    const char* backend() const override { return "fake"; }
    Status barrier() override { return Status::Ok(); }
    Status broadcast(std::vector<uint8_t>*, int) override { return Status::Ok(); }
    void abort(int) override {}

   protected:
    Status group_all_reduce(const Group&, DType, const void*, void*, int64_t) override {
      return Status::Ok();
    }
    Status group_all_gather(const Group&, const void*, void*, int64_t) override {
      return Status::Ok();
    }
    Status group_reduce_scatter(const Group&, DType, const void*, void*, int64_t) override {
      return Status::Ok();
    }
    Status group_all_to_all(const Group&, const void*, void*, int64_t) override {
      return Status::Ok();
    }
  } c;
  ASSERT_TRUE(c.set_mesh({"dp", "tp"}, {2, 3}).ok());
  plan::TensorInfo t;
  t.add_global_shape(4);
  t.add_global_shape(6);
  t.add_dims()->add_axes("dp");
  t.add_dims()->add_axes("tp");
  Shape starts, sizes;
  ASSERT_TRUE(shard_box(t, c, &starts, &sizes).ok());
  EXPECT_EQ(starts, (Shape{2, 2}));
  EXPECT_EQ(sizes, (Shape{2, 2}));
  t.mutable_dims(1)->add_axes("dp");  // {tp, dp}: 6 shards of 1 column, index 1*2+1 = 3
  ASSERT_TRUE(shard_box(t, c, &starts, &sizes).ok());
  EXPECT_EQ(starts[1], 3);
  EXPECT_EQ(sizes[1], 1);
}

}  // namespace
}  // namespace tessera::runtime

#include <sys/stat.h>

#include "run_cli.h"

namespace tessera::runtime {
namespace {

TEST(RunCli, ReadsInputsWritesOutputs) {
  const std::string dir = testing::scratch_dir() + "/run_cli_test";
  ::mkdir(dir.c_str(), 0755);
  testing::MlpPlan m = testing::make_mlp_plan();
  ASSERT_TRUE(planfile::write_file(dir + "/mlp.tsp", m.plan, m.weights).ok());
  HostTensor x = make_x();
  x.name = "whatever";  // bound by position, not by the file's name
  ASSERT_TRUE(write_tensor_proto(dir + "/input_0.pb", x).ok());
  std::remove((dir + "/output_0.pb").c_str());
  ASSERT_EQ(run_plan_cli(dir + "/mlp.tsp", dir, dir, {}), 0);
  auto y = read_tensor_proto(dir + "/output_0.pb");
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y->name, "y");
  EXPECT_EQ(y->shape, (Shape{2, 4}));
  // Failures return non-zero (and print one `error:` line).
  EXPECT_NE(run_plan_cli(dir + "/mlp.tsp", dir + "/missing", dir, {}), 0);
  EXPECT_NE(run_plan_cli(dir + "/nope.tsp", dir, dir, {}), 0);
}

}  // namespace
}  // namespace tessera::runtime
