// Plan evaluation, graph checks and the chain dynamic program.
#include <algorithm>
#include <map>

#include "passes/core/solver.h"

namespace tessera::spmd {
namespace {

double at(const std::vector<double>& v, int i) { return v.empty() ? 0.0 : v[i]; }

}  // namespace

Status validate_graph(const SolverGraph& g) {
  std::map<int, size_t> group_size;
  for (const SolverNode& n : g.nodes) {
    size_t k = n.cost.size();
    if (k == 0) return InvalidArgument("solver node '" + n.name + "' has no strategies");
    if (n.out_bytes.size() != k || (!n.param_bytes.empty() && n.param_bytes.size() != k)) {
      return InvalidArgument("solver node '" + n.name + "': " + std::to_string(k) +
                             " costs but other sizes for out_bytes/param_bytes");
    }
    if (n.group >= 0 && group_size.count(n.group) && group_size[n.group] != k) {
      return InvalidArgument("solver node '" + n.name + "' has " + std::to_string(k) +
                             " strategies, others of group " + std::to_string(n.group) + " " +
                             std::to_string(group_size[n.group]));
    }
    if (n.group >= 0) group_size[n.group] = k;
  }
  int n = static_cast<int>(g.nodes.size());
  for (const SolverEdge& e : g.edges) {
    if (e.src < 0 || e.dst >= n || e.src >= e.dst) {
      return InvalidArgument("solver edge " + std::to_string(e.src) + " -> " +
                             std::to_string(e.dst) + " is not forward between nodes");
    }
    bool ok = e.cost.size() == g.nodes[e.src].cost.size();
    for (const auto& row : e.cost) ok = ok && row.size() == g.nodes[e.dst].cost.size();
    if (!ok) {
      return InvalidArgument("solver edge " + g.nodes[e.src].name + " -> " + g.nodes[e.dst].name +
                             ": cost matrix is not strategies x strategies");
    }
  }
  return Status::Ok();
}

double plan_seconds(const SolverGraph& g, const std::vector<int>& c) {
  double s = 0;
  for (size_t v = 0; v < g.nodes.size(); ++v) s += g.nodes[v].cost[c[v]];
  for (const SolverEdge& e : g.edges) s += e.cost[c[e.src]][c[e.dst]];
  return s;
}

double plan_peak_bytes(const SolverGraph& g, const std::vector<int>& c) {
  int n = static_cast<int>(g.nodes.size());
  std::vector<int> last(n);
  for (int v = 0; v < n; ++v) last[v] = g.nodes[v].live_to_end ? n - 1 : v;
  for (const SolverEdge& e : g.edges) last[e.src] = std::max(last[e.src], e.dst);
  double params = 0, peak = 0;
  std::vector<double> delta(n + 1, 0);  // live bytes change at each step
  for (int v = 0; v < n; ++v) {
    params += at(g.nodes[v].param_bytes, c[v]);
    delta[v] += g.nodes[v].out_bytes[c[v]];
    delta[last[v] + 1] -= g.nodes[v].out_bytes[c[v]];
  }
  double live = 0;
  for (int t = 0; t < n; ++t) peak = std::max(peak, live += delta[t]);
  return params + peak;
}

StatusOr<Solution> solve_chain(const SolverGraph& g) {
  TSR_RETURN_IF_ERROR(validate_graph(g));
  int n = static_cast<int>(g.nodes.size());
  std::vector<const SolverEdge*> into(n, nullptr);
  for (const SolverEdge& e : g.edges) {
    if (e.dst != e.src + 1 || into[e.dst]) {
      return InvalidArgument("solve_chain: edge " + g.nodes[e.src].name + " -> " +
                             g.nodes[e.dst].name + " makes the graph not a chain");
    }
    into[e.dst] = &e;
  }
  for (const SolverNode& v : g.nodes) {
    if (v.group >= 0) return InvalidArgument("solve_chain: node '" + v.name + "' is in a group");
  }
  // best[v][i]: cheapest prefix ending with node v on strategy i; ties keep the lower index.
  std::vector<std::vector<double>> best(n);
  std::vector<std::vector<int>> from(n);
  for (int v = 0; v < n; ++v) {
    size_t k = g.nodes[v].cost.size();
    best[v].assign(k, 0);
    from[v].assign(k, 0);
    for (size_t i = 0; i < k; ++i) {
      double b = 0;
      if (v > 0) {
        b = std::numeric_limits<double>::infinity();
        for (size_t j = 0; j < best[v - 1].size(); ++j) {
          double c = best[v - 1][j] + (into[v] ? into[v]->cost[j][i] : 0.0);
          if (c < b) b = c, from[v][i] = static_cast<int>(j);
        }
      }
      best[v][i] = b + g.nodes[v].cost[i];
    }
  }
  Solution s;
  s.choice.assign(n, 0);
  if (n == 0) return s;
  auto it = std::min_element(best[n - 1].begin(), best[n - 1].end());
  s.choice[n - 1] = static_cast<int>(it - best[n - 1].begin());
  for (int v = n - 1; v > 0; --v) s.choice[v - 1] = from[v][s.choice[v]];
  s.seconds = plan_seconds(g, s.choice);
  s.peak_bytes = plan_peak_bytes(g, s.choice);
  return s;
}

}  // namespace tessera::spmd
