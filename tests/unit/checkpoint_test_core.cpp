// The chain DP is exact: on random chains its recompute time equals exhaustive search's for
// every budget, its peak formula equals a step-by-step simulation, and the baselines never beat
// it.
#include <gtest/gtest.h>

#include <random>

#include "passes/core/checkpoint.h"

namespace tessera::core {
namespace {

CkptProblem random_chain(std::mt19937& rng, int n) {
  std::uniform_int_distribution<int> bytes(1, 40), secs(1, 9), layer_len(1, 3);
  CkptProblem p;
  p.fixed = bytes(rng);
  int layer = -1, left = 0;
  for (int i = 0; i < n; ++i) {
    CkptStage s;
    s.saved = bytes(rng) * 4;
    s.out = bytes(rng);
    s.out_extra = rng() % 2 ? s.out : 0;
    s.temp = bytes(rng);
    s.seconds = secs(rng);
    if (left == 0) ++layer, left = layer_len(rng);
    --left;
    s.layer = i == 0 ? -1 : layer;
    p.stages.push_back(s);
  }
  // Sometimes a floor no placement changes (the optimizer's update after the backward).
  if (rng() % 3 == 0) p.floor = p.fixed + bytes(rng) * 3;
  return p;
}

TEST(CheckpointCore, FormulaMatchesSimulation) {
  std::mt19937 rng(7);
  for (int t = 0; t < 200; ++t) {
    CkptProblem p = random_chain(rng, 1 + t % 9);
    const size_t n = p.stages.size();
    std::vector<bool> v(2 * n);
    for (size_t i = 0; i < 2 * n; ++i) v[i] = rng() % 2;
    EXPECT_EQ(ckpt_peak(p, v), ckpt_simulate_peak(p, v)) << "trial " << t;
  }
}

TEST(CheckpointCore, OptimalEqualsExhaustive) {
  std::mt19937 rng(11);
  for (int t = 0; t < 40; ++t) {
    CkptProblem p = random_chain(rng, 2 + t % 7);
    const int64_t lo = ckpt_min_budget(p), hi = ckpt_none(p).peak;
    for (int k = 0; k <= 6; ++k) {
      const int64_t budget = lo + (hi - lo) * k / 6;
      auto dp = ckpt_optimal(p, budget);
      auto ex = ckpt_exhaustive(p, budget);
      ASSERT_TRUE(dp.ok()) << dp.status().message();
      ASSERT_TRUE(ex.ok()) << ex.status().message();
      EXPECT_DOUBLE_EQ(dp->recompute_seconds, ex->recompute_seconds) << t << " " << budget;
      EXPECT_LE(dp->peak, budget);
      EXPECT_EQ(dp->peak, ckpt_simulate_peak(p, dp->recompute));
    }
    // Below the minimum nothing fits, and both searches agree where the minimum lies.
    EXPECT_FALSE(ckpt_exhaustive(p, lo - 1).ok());
    auto none = ckpt_optimal(p, lo - 1);
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.status().message().find(std::to_string(lo) + " bytes"), std::string::npos)
        << none.status().message();
  }
}

TEST(CheckpointCore, BaselinesNeverBeatOptimal) {
  std::mt19937 rng(3);
  for (int t = 0; t < 40; ++t) {
    CkptProblem p = random_chain(rng, 3 + t % 30);
    for (const CkptPlan& b : {ckpt_none(p), ckpt_every_layer(p), ckpt_sqrt_n(p)}) {
      auto dp = ckpt_optimal(p, b.peak);
      ASSERT_TRUE(dp.ok());
      EXPECT_LE(dp->recompute_seconds, b.recompute_seconds + 1e-9);
    }
    EXPECT_LE(ckpt_min_budget(p), ckpt_sqrt_n(p).peak);
  }
}

TEST(CheckpointCore, NoBudgetPressureKeepsEverything) {
  std::mt19937 rng(5);
  CkptProblem p = random_chain(rng, 12);
  auto dp = ckpt_optimal(p, ckpt_none(p).peak);
  ASSERT_TRUE(dp.ok());
  EXPECT_EQ(dp->recompute_seconds, 0);
}

}  // namespace
}  // namespace tessera::core
