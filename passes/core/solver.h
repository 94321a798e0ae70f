// Strategy selection over a small graph: each node picks one of its strategies; an edge charges
// the resharding cost between the producer's and the consumer's choice; nodes of one group
// (the same op in every repeated transformer layer) pick the same index, so a 48-layer model
// costs about what one layer costs.
//
// Memory per device = sum of every node's param_bytes (held for the whole run: weights, and for
// training their gradients and optimizer state) + the peak over the schedule of live results.
// Nodes are in schedule order; a node's result is live from its step to its last consumer's
// step (to the end when live_to_end). That peak is exact for this linear schedule; the memory
// planner may still fragment, the checkpoint pass may still lower it.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::spmd {

struct SolverNode {
  std::string name;
  std::vector<double> cost;         // seconds per strategy
  std::vector<double> out_bytes;    // per strategy: results' bytes per device
  std::vector<double> param_bytes;  // per strategy: bytes held all run (may be empty = 0)
  int group = -1;                   // >= 0: nodes sharing the id share the strategy index
  bool live_to_end = false;         // graph outputs
};

struct SolverEdge {
  int src = 0, dst = 0;                   // node indices, src < dst
  std::vector<std::vector<double>> cost;  // [src strategy][dst strategy] seconds
};

struct SolverGraph {
  std::vector<SolverNode> nodes;  // schedule order
  std::vector<SolverEdge> edges;
};

struct SolverOptions {
  double memory_budget = std::numeric_limits<double>::infinity();  // bytes per device
  double time_limit_s = 60;
};

struct Solution {
  std::vector<int> choice;            // strategy per node
  double seconds = 0;                 // compute + resharding
  double peak_bytes = 0;              // per device, as defined above
  int ilp_columns = 0, ilp_rows = 0;  // size after pruning (0 for the chain DP)
};

// The exact optimum through an integer program solved by CBC (one thread, fixed seed, silent).
// Errors: malformed graphs; infeasible budgets name the least memory any plan needs.
StatusOr<Solution> solve_ilp(const SolverGraph& g, const SolverOptions& opt = {});
// Exact dynamic programming for chains (edges only i -> i+1), no groups, no memory budget.
StatusOr<Solution> solve_chain(const SolverGraph& g);
// Cost and peak memory of a given choice.
double plan_seconds(const SolverGraph& g, const std::vector<int>& choice);
double plan_peak_bytes(const SolverGraph& g, const std::vector<int>& choice);
// Checks sizes and edge indices; groups must agree on the number of strategies.
Status validate_graph(const SolverGraph& g);

}  // namespace tessera::spmd
