// The CPU side of handing an application's NCCL communicator to a session
// (SessionOptions::nccl_comm, tessera_session_create_nccl): backend selection, the rank/size
// agreement check, and the C API's refusals. The CUDA side needs a GPU (tests/unit/cuda.cmake).
#include <gtest/gtest.h>

#include "cuda/device_session.h"
#include "runtime_test_util.h"
#include "tessera/runtime.h"
#include "tessera/tessera_c.h"

namespace tessera::runtime {
namespace {

std::shared_ptr<const Plan> mlp() {
  testing::MlpPlan m = testing::make_mlp_plan();
  auto bytes = planfile::serialize(m.plan, m.weights);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto f = planfile::PlanFile::from_bytes(*bytes, "mem.tsp");
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return Plan::from_file(std::move(f).value());
}

int g_not_a_comm = 0;  // never dereferenced: every test below fails before NCCL is called

TEST(NcclHandoff, NeedsTheCudaBackend) {
  SessionOptions o;
  o.nccl_comm = &g_not_a_comm;
  o.backend = Backend::kCpu;
  auto s = Session::create(mlp(), make_single_comm(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("NCCL communicator needs backend 'cuda'"), std::string::npos);
}

TEST(NcclHandoff, AutoMeansCuda) {
  if (cuda_backend_available()) GTEST_SKIP() << "a GPU is visible: a fake ncclComm_t would be used";
  SessionOptions o;
  o.nccl_comm = &g_not_a_comm;
  o.backend = Backend::kAuto;
  auto s = Session::create(mlp(), make_single_comm(), o);
  ASSERT_FALSE(s.ok());  // the cuda backend's refusal (not built, or no GPU), not the CPU's
  EXPECT_EQ(s.status().message().find("needs backend 'cuda'"), std::string::npos)
      << s.status().message();
}

TEST(NcclHandoff, RankAndSizeMustAgree) {
  auto one = make_single_comm();
  EXPECT_TRUE(check_external_world("NCCL communicator", 0, 1, *one).ok());
  Status s = check_external_world("NCCL communicator", 1, 4, *one);
  EXPECT_EQ(s.code(), Code::kComm);
  EXPECT_EQ(s.message(),
            "the handed-in NCCL communicator is rank 1 of 4, but the session's communicator "
            "(single) is rank 0 of 1");
}

TEST(NcclHandoff, CApiRefusesNull) {
  const std::string path = testing::scratch_dir() + "/nccl_handoff.tsp";
  testing::MlpPlan m = testing::make_mlp_plan();
  ASSERT_TRUE(planfile::write_file(path, m.plan, m.weights).ok());
  tessera_plan* plan = nullptr;
  ASSERT_EQ(tessera_plan_load(path.c_str(), &plan), TESSERA_OK) << tessera_last_error();
  tessera_session* s = nullptr;
  EXPECT_EQ(tessera_session_create_nccl(plan, nullptr, &s), TESSERA_INVALID_ARGUMENT);
  EXPECT_STREQ(tessera_last_error(), "invalid argument: null NCCL communicator");
  EXPECT_EQ(s, nullptr);
  EXPECT_GE(tessera_c_api_version(), 2);
  tessera_plan_free(plan);
}

}  // namespace
}  // namespace tessera::runtime
