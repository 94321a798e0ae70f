#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <random>

#include "passes/core/solver.h"

namespace tessera::spmd {
namespace {

// Random graph: n nodes with k strategies each, forward edges with probability p.
SolverGraph random_graph(std::mt19937& rng, int n, int k, double p, bool chain) {
  std::uniform_real_distribution<double> u(0, 1);
  SolverGraph g;
  for (int v = 0; v < n; ++v) {
    SolverNode nd;
    nd.name = "n" + std::to_string(v);
    for (int i = 0; i < k; ++i) {
      nd.cost.push_back(u(rng));
      nd.out_bytes.push_back(std::floor(u(rng) * 4) * (1 << 30));
      nd.param_bytes.push_back(std::floor(u(rng) * 2) * (1 << 30));
    }
    g.nodes.push_back(nd);
  }
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      if (chain ? b != a + 1 : u(rng) > p) continue;
      SolverEdge e{a, b, {}};
      e.cost.assign(k, std::vector<double>(k));
      for (auto& row : e.cost)
        for (double& c : row) c = u(rng) < 0.3 ? 0 : u(rng);
      g.edges.push_back(e);
    }
  }
  return g;
}

// Exhaustive optimum (respecting groups and the budget); -1 cost when nothing fits.
std::pair<double, std::vector<int>> brute(const SolverGraph& g, double budget) {
  std::vector<int> c(g.nodes.size(), 0), best;
  double best_cost = -1;
  std::function<void(size_t)> rec = [&](size_t v) {
    if (v == g.nodes.size()) {
      for (size_t a = 0; a < c.size(); ++a)
        for (size_t b = 0; b < a; ++b)
          if (g.nodes[a].group >= 0 && g.nodes[a].group == g.nodes[b].group && c[a] != c[b]) return;
      if (plan_peak_bytes(g, c) > budget) return;
      double s = plan_seconds(g, c);
      if (best_cost < 0 || s < best_cost - 1e-12) best_cost = s, best = c;
      return;
    }
    for (size_t i = 0; i < g.nodes[v].cost.size(); ++i) c[v] = static_cast<int>(i), rec(v + 1);
  };
  rec(0);
  return {best_cost, best};
}

TEST(SpmdSolver, IlpMatchesBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 30; ++trial) {
    SolverGraph g = random_graph(rng, 6, 3, 0.4, false);
    if (trial % 3 == 0) g.nodes[1].group = g.nodes[4].group = 0;
    double budget = trial % 2 ? 1e30 : 9.0 * (1 << 30);
    SolverOptions o;
    if (trial % 2 == 0) o.memory_budget = budget;
    auto [cost, choice] = brute(g, budget);
    StatusOr<Solution> s = solve_ilp(g, o);
    if (cost < 0) {
      EXPECT_FALSE(s.ok());
      continue;
    }
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_NEAR(s->seconds, cost, 1e-6) << "trial " << trial;
    EXPECT_LE(s->peak_bytes, budget);
    if (g.nodes[1].group == 0) {
      EXPECT_EQ(s->choice[1], s->choice[4]);
    }
  }
}

TEST(SpmdSolver, ChainDpMatchesIlp) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 10; ++trial) {
    SolverGraph g = random_graph(rng, 40, 8, 0, true);
    StatusOr<Solution> dp = solve_chain(g), ilp = solve_ilp(g);
    ASSERT_TRUE(dp.ok() && ilp.ok());
    EXPECT_NEAR(dp->seconds, ilp->seconds, 1e-6);
  }
  SolverGraph small = random_graph(rng, 5, 3, 0, true);
  EXPECT_NEAR(solve_chain(small)->seconds, brute(small, 1e30).first, 1e-12);
  SolverGraph notchain = random_graph(rng, 5, 2, 1.0, false);
  EXPECT_FALSE(solve_chain(notchain).ok());
}

TEST(SpmdSolver, InfeasibleBudgetNamesLeastMemory) {
  SolverGraph g;
  g.nodes.push_back({"a", {1, 2}, {4.0 * (1 << 30), 2.0 * (1 << 30)}, {}, -1, false});
  g.nodes.push_back({"b", {1, 3}, {3.0 * (1 << 30), 1.0 * (1 << 30)}, {0, 0}, -1, true});
  g.edges.push_back({0, 1, {{0, 1}, {1, 0}}});
  SolverOptions o;
  o.memory_budget = 2.5 * (1 << 30);
  StatusOr<Solution> s = solve_ilp(g, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kOutOfMemory);
  EXPECT_EQ(s.status().message(),
            "no sharding plan fits: it needs at least 3.00 GiB per device, budget is 2.50 GiB");
  o.memory_budget = 3.0 * (1 << 30);
  s = solve_ilp(g, o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->choice, (std::vector<int>{1, 1}));
  EXPECT_DOUBLE_EQ(s->peak_bytes, 3.0 * (1 << 30));
  EXPECT_EQ(solve_ilp(g)->choice, (std::vector<int>{0, 0}));
}

TEST(SpmdSolver, RejectsMalformedGraphs) {
  SolverGraph g;
  g.nodes.push_back({"a", {1, 2}, {0}, {}, -1, false});
  EXPECT_FALSE(solve_ilp(g).ok());
  g.nodes[0].out_bytes = {0, 0};
  g.nodes.push_back({"b", {1}, {0}, {}, -1, false});
  g.edges.push_back({1, 0, {{0}}});
  EXPECT_FALSE(solve_ilp(g).ok());
}

// A gpt2-xl-sized graph: 48 layers of 37 nodes sharing strategies layer to layer, 25
// strategies per node, edges inside a layer and the residual stream between layers.
SolverGraph layered(int layers, int per_layer, int k, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<SolverNode> proto(per_layer);
  std::vector<std::vector<std::vector<double>>> mats(per_layer);
  for (int j = 0; j < per_layer; ++j) {
    for (int i = 0; i < k; ++i) {
      proto[j].cost.push_back(u(rng) * 1e-3);
      proto[j].out_bytes.push_back((1 + i % 4) * 1e7);
      proto[j].param_bytes.push_back(j % 6 == 0 ? (1 + i % 3) * 2e7 : 0);
    }
    mats[j].assign(k, std::vector<double>(k));
    for (int a = 0; a < k; ++a)
      for (int b = 0; b < k; ++b) mats[j][a][b] = a == b ? 0 : (a + b) % 5 == 0 ? 0 : u(rng) * 1e-3;
  }
  SolverGraph g;
  for (int l = 0; l < layers; ++l) {
    for (int j = 0; j < per_layer; ++j) {
      SolverNode n = proto[j];
      n.name = "l" + std::to_string(l) + "." + std::to_string(j);
      n.group = j;
      int v = static_cast<int>(g.nodes.size());
      g.nodes.push_back(n);
      if (j > 0) g.edges.push_back({v - 1, v, mats[j]});
      if (j == 0 && l > 0) g.edges.push_back({v - per_layer, v, mats[0]});  // residual
      if (j == per_layer - 1) g.nodes[v].live_to_end = l == layers - 1;
    }
  }
  return g;
}

TEST(SpmdSolver, SharedLayersSolveFastAndDeterministically) {
  SolverGraph g = layered(48, 37, 25, 3);
  SolverOptions o;
  o.memory_budget = 40e9;
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<Solution> a = solve_ilp(g, o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_LT(secs, 2.0);
  StatusOr<Solution> b = solve_ilp(g, o);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->choice, b->choice);
  EXPECT_EQ(a->seconds, b->seconds);
  for (size_t v = 37; v < g.nodes.size(); ++v) EXPECT_EQ(a->choice[v], a->choice[v % 37]);
  RecordProperty("ilp_columns", a->ilp_columns);
  std::printf("gpt2-xl-sized: %zu nodes, %d columns, %d rows, %.3f s\n", g.nodes.size(),
              a->ilp_columns, a->ilp_rows, secs);
}

}  // namespace
}  // namespace tessera::spmd
