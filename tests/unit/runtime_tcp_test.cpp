// The TCP communicator (comm_tcp.cpp): collectives on 4 forked ranks, and its failures: a dead
// or aborting peer is named, an unreachable MASTER_ADDR:PORT times out with its name, rank 0
// lists ranks that never came, mismatched WORLD_SIZE is refused. Every multi-rank case runs
// under a deadline, so a hang fails the test instead of stalling it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include "tcp_test_util.h"
#include "tessera/comm.h"

namespace tessera::runtime {
namespace {

using testing::free_tcp_port;

TcpCommOptions opts(int rank, int world, int port, double connect_s = 20) {
  TcpCommOptions o;
  o.rank = rank;
  o.world = world;
  o.master_port = port;
  o.connect_timeout_s = connect_s;
  return o;
}

// Runs body(rank) in `world` forked processes; returns their exit codes (-1: killed at the
// deadline). A child's exit code is body's return value.
std::vector<int> run_ranks(int world, const std::function<int(int)>& body, double deadline_s = 30) {
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t p = ::fork();
    if (p == 0) {
      int rc = 99;
      rc = body(r);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    pids.push_back(p);
  }
  std::vector<int> codes(world, -1);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(deadline_s);
  for (int left = world; left > 0;) {
    for (int r = 0; r < world; ++r) {
      int st = 0;
      if (pids[r] > 0 && ::waitpid(pids[r], &st, WNOHANG) == pids[r]) {
        codes[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pids[r] = 0;
        --left;
      }
    }
    if (left > 0 && std::chrono::steady_clock::now() > end) {
      for (pid_t p : pids)
        if (p > 0) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return codes;
}

// Child side: prints what failed (the parent only sees the exit code).
int fail(int rank, const std::string& what) {
  std::fprintf(stderr, "rank %d: %s\n", rank, what.c_str());
  return 1;
}

int collectives_body(int r, int port) {
  auto c = make_tcp_comm(opts(r, 4, port));
  if (!c.ok()) return fail(r, c.status().to_string());
  Comm& comm = **c;
  if (!comm.set_mesh({"dp", "tp"}, {2, 2}).ok() || comm.rank() != r || comm.size() != 4)
    return fail(r, "set_mesh/rank/size");
  // AllReduce over the world, with counts that give empty and uneven chunks (3 and 7 over 4).
  for (int64_t n : {3, 7}) {
    std::vector<float> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(r * 10 + i);
    BufferRef b{DType::kFloat32, {n}, v.data()};
    if (!comm.all_reduce({"dp", "tp"}, b, b).ok()) return fail(r, "all_reduce");
    for (int64_t i = 0; i < n; ++i)
      if (v[i] != 60 + 4 * i) return fail(r, "all_reduce value " + std::to_string(v[i]));
  }
  // AllReduce over dp (ranks r and r^2), int64.
  int64_t x = r + 1;
  BufferRef xb{DType::kInt64, {1}, &x};
  if (!comm.all_reduce({"dp"}, xb, xb).ok() || x != (r % 2 == 0 ? 4 : 6))
    return fail(r, "all_reduce dp " + std::to_string(x));
  // AllGather over tp along dim 0: group (r & ~1, r | 1).
  int32_t mine = 100 + r, got[2] = {0, 0};
  if (!comm.all_gather({"tp"}, 0, {DType::kInt32, {1}, &mine}, {DType::kInt32, {2}, got}).ok() ||
      got[0] != 100 + (r & ~1) || got[1] != 100 + (r | 1))
    return fail(r, "all_gather");
  // ReduceScatter over the world: everyone holds [0,1,2,3]*(r+1); rank r keeps element r * 10.
  float in[4] = {0, 1, 2, 3}, out = 0;
  for (float& f : in) f *= static_cast<float>(r + 1);
  if (!comm.reduce_scatter({"dp", "tp"}, 0, {DType::kFloat32, {4}, in},
                           {DType::kFloat32, {1}, &out})
           .ok() ||
      out != 10.0f * r)
    return fail(r, "reduce_scatter " + std::to_string(out));
  // AllToAll over the world: block j of rank r is r*4+j; received block j is j*4+r.
  int32_t send[4], recv[4];
  for (int j = 0; j < 4; ++j) send[j] = r * 4 + j;
  if (!comm.all_to_all({"dp", "tp"}, 0, 0, {DType::kInt32, {4}, send}, {DType::kInt32, {4}, recv})
           .ok())
    return fail(r, "all_to_all");
  for (int j = 0; j < 4; ++j)
    if (recv[j] != j * 4 + r) return fail(r, "all_to_all value");
  std::vector<uint8_t> bytes;
  if (r == 2) bytes.assign(100000, 7);  // larger than a socket buffer
  if (!comm.broadcast(&bytes, 2).ok() || bytes != std::vector<uint8_t>(100000, 7))
    return fail(r, "broadcast");
  if (!comm.barrier().ok()) return fail(r, "barrier");
  return 0;
}

TEST(TcpComm, CollectivesOnFourRanks) {
  const int port = free_tcp_port();
  const auto codes = run_ranks(4, [port](int r) { return collectives_body(r, port); });
  EXPECT_EQ(codes, std::vector<int>({0, 0, 0, 0}));
}

// Ranks 0 and 1 enter an AllReduce; rank 2 connects, then dies without joining. Both must fail
// naming rank 2 (exit 0 means "failed as expected").
TEST(TcpComm, DeadPeerIsNamed) {
  const int port = free_tcp_port();
  const auto codes = run_ranks(3, [port](int r) {
    auto c = make_tcp_comm(opts(r, 3, port));
    if (!c.ok()) return fail(r, c.status().to_string());
    if (r == 2) ::_exit(3);
    (void)(*c)->set_mesh({"x"}, {3});
    float v = 1;
    Status s = (*c)->all_reduce({"x"}, {DType::kFloat32, {1}, &v}, {DType::kFloat32, {1}, &v});
    if (s.ok()) return fail(r, "all_reduce succeeded without rank 2");
    if (s.message().find("peer rank 2 closed its connection") == std::string::npos)
      return fail(r, s.to_string());
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0, 3}));
}

TEST(TcpComm, AbortReachesPeersAndExits) {
  const int port = free_tcp_port();
  const auto codes = run_ranks(2, [port](int r) {
    auto c = make_tcp_comm(opts(r, 2, port));
    if (!c.ok()) return fail(r, c.status().to_string());
    if (r == 1) (*c)->abort(5);  // does not return
    Status s = (*c)->barrier();
    if (s.message().find("peer rank 1 aborted the job (exit code 5)") == std::string::npos)
      return fail(r, "barrier after abort: " + s.to_string());
    return 0;
  });
  EXPECT_EQ(codes, std::vector<int>({0, 5}));
}

TEST(TcpComm, UnreachableMasterTimesOutNamingIt) {
  const int port = free_tcp_port();
  const auto t0 = std::chrono::steady_clock::now();
  auto c = make_tcp_comm(opts(1, 2, port, 0.5));
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << m;
  EXPECT_NE(m.find("TSR_CONNECT_TIMEOUT"), std::string::npos) << m;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10);
}

TEST(TcpComm, Rank0NamesRanksThatNeverCame) {
  auto c = make_tcp_comm(opts(0, 3, free_tcp_port(), 0.3));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("rank(s) 1, 2 of 3 did not connect"), std::string::npos)
      << c.status().message();
}

TEST(TcpComm, WorldSizeMismatchIsRefused) {
  const int port = free_tcp_port();
  const auto codes = run_ranks(2, [port](int r) {
    auto c = make_tcp_comm(opts(r, r == 0 ? 2 : 3, port, 5));
    if (c.ok()) return fail(r, "rendezvous accepted WORLD_SIZE 2 vs 3");
    const bool named = c.status().message().find(r == 0 ? "rank 1 says WORLD_SIZE=3, rank 0 has 2"
                                                        : "rank 0") != std::string::npos;
    return named ? 0 : fail(r, c.status().to_string());
  });
  EXPECT_EQ(codes, std::vector<int>({0, 0}));
}

TEST(TcpComm, BadPortAndRankAreArgumentErrors) {
  EXPECT_EQ(make_tcp_comm(opts(0, 2, 0)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(make_tcp_comm(opts(2, 2, 1234)).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::runtime
