// Launcher variables (launcher.cpp): local rank and its GPU, and which communicator
// comm_from_environment builds for torchrun-style variables. Each test sets the variables it
// needs and restores the environment after.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "tcp_test_util.h"
#include "tessera/comm.h"

namespace tessera::runtime {
namespace {

const char* const kLauncherVars[] = {
    "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
    "MPI_LOCALRANKID",      "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS",
    "SLURM_PROCID",         "SLURM_LOCALID",        "PMIX_RANK",
    "PMIX_LOCAL_RANK",      "WORLD_SIZE",           "RANK",
    "LOCAL_RANK",           "MASTER_ADDR",          "MASTER_PORT",
    "TSR_CONNECT_TIMEOUT",  "TSR_COMM_TIMEOUT"};

// Clears every launcher variable for the test's duration, then restores them.
class Env : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : kLauncherVars) {
      const char* v = std::getenv(n);
      saved_[n] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(n);
    }
  }
  void TearDown() override {
    for (auto& [n, v] : saved_)
      v ? (void)::setenv(n.c_str(), v->c_str(), 1) : (void)::unsetenv(n.c_str());
  }
  static void set(const char* n, const std::string& v) { ::setenv(n, v.c_str(), 1); }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(Env, LocalRankFollowsTheLauncher) {
  EXPECT_EQ(local_rank_from_environment(), 0);
  set("LOCAL_RANK", "3");
  EXPECT_EQ(local_rank_from_environment(), 3);
  set("SLURM_LOCALID", "1");  // srun's own name wins over a generic LOCAL_RANK
  EXPECT_EQ(local_rank_from_environment(), 1);
  set("OMPI_COMM_WORLD_LOCAL_RANK", "2");
  EXPECT_EQ(local_rank_from_environment(), 2);
  set("OMPI_COMM_WORLD_LOCAL_RANK", "junk");  // unparsable: the next launcher's
  EXPECT_EQ(local_rank_from_environment(), 1);
}

TEST(DeviceForLocalRank, WrapsOverVisibleDevices) {
  EXPECT_EQ(device_for_local_rank(0, 8), 0);
  EXPECT_EQ(device_for_local_rank(5, 8), 5);
  EXPECT_EQ(device_for_local_rank(5, 2), 1);  // CUDA_VISIBLE_DEVICES=2,3: ranks share 2 GPUs
  EXPECT_EQ(device_for_local_rank(3, 1), 0);
  EXPECT_EQ(device_for_local_rank(-1, 4), 0);
  EXPECT_EQ(device_for_local_rank(2, 0), -1);
}

TEST_F(Env, TorchrunWithoutMasterAddrSaysWhatToSet) {
  set("WORLD_SIZE", "4");
  set("RANK", "1");
  auto c = comm_from_environment();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("WORLD_SIZE=4, but MASTER_ADDR is not set"),
            std::string::npos)
      << c.status().message();
  set("MASTER_ADDR", "127.0.0.1");
  c = comm_from_environment();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("MASTER_PORT"), std::string::npos) << c.status().message();
  set("MASTER_PORT", "29500");
  set("TSR_CONNECT_TIMEOUT", "soon");
  c = comm_from_environment();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("TSR_CONNECT_TIMEOUT='soon'"), std::string::npos);
}

TEST_F(Env, TorchrunOfOneNeedsNothing) {
  set("WORLD_SIZE", "1");
  set("RANK", "0");
  auto c = comm_from_environment();
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_STREQ((*c)->backend(), "single");
}

// Two forked processes with torchrun's variables get a TCP world of 2.
TEST_F(Env, TorchrunVariablesBuildTheTcpComm) {
  set("WORLD_SIZE", "2");
  set("MASTER_ADDR", "localhost");
  set("MASTER_PORT", std::to_string(testing::free_tcp_port()));
  set("TSR_CONNECT_TIMEOUT", "20");
  pid_t kids[2];
  for (int r = 0; r < 2; ++r) {
    kids[r] = ::fork();
    if (kids[r] == 0) {
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      auto c = comm_from_environment();
      const bool ok = c.ok() && std::string((*c)->backend()) == "tcp" && (*c)->size() == 2 &&
                      (*c)->rank() == r && (*c)->barrier().ok();
      if (!ok) std::fprintf(stderr, "rank %d: %s\n", r, c.status().to_string().c_str());
      ::_exit(ok ? 0 : 1);
    }
  }
  for (pid_t k : kids) {
    int st = 0;
    ASSERT_EQ(::waitpid(k, &st, 0), k);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
}

}  // namespace
}  // namespace tessera::runtime
