// The strategy ILP. Variables: s[k][i] binary, one-hot per class k (a group, or a lone node);
// e[i][j] in [0,1] per pair of classes joined by edges, tied to s by row and column sums (so e
// is integral whenever s is: the usual linearisation with |S|x|S| continuous columns). Before
// building it: edges between the same classes are summed, edges inside a class become linear
// terms, and strategies dominated in cost, memory and every incident edge are dropped.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "passes/core/mip.h"
#include "passes/core/solver.h"

namespace tessera::spmd {
namespace {

constexpr double kTimeScale = 1e6;              // objective in microseconds
constexpr double kByteScale = 1.0 / (1 << 30);  // memory rows in GiB

using Matrix = std::vector<std::vector<double>>;

struct Model {
  std::vector<int> cls;                         // node -> class
  std::vector<std::vector<int>> members;        // class -> nodes
  std::vector<std::vector<double>> lin;         // class -> strategy -> seconds
  std::map<std::pair<int, int>, Matrix> pairs;  // (k1 < k2) -> summed edge costs
  std::vector<std::vector<char>> alive;
  std::vector<std::vector<double>> mem_rows;  // flat (class, strategy) coefficients, bytes
  std::vector<int> offset;                    // class -> first flat index
};

Model classes(const SolverGraph& g) {
  Model m;
  std::map<int, int> by_group;
  for (size_t v = 0; v < g.nodes.size(); ++v) {
    int grp = g.nodes[v].group;
    int k = static_cast<int>(m.members.size());
    if (grp >= 0 && by_group.count(grp)) k = by_group[grp];
    if (k == static_cast<int>(m.members.size())) {
      m.members.emplace_back();
      m.lin.emplace_back(g.nodes[v].cost.size(), 0.0);
      if (grp >= 0) by_group[grp] = k;
    }
    m.cls.push_back(k);
    m.members[k].push_back(static_cast<int>(v));
    for (size_t i = 0; i < g.nodes[v].cost.size(); ++i) m.lin[k][i] += g.nodes[v].cost[i];
  }
  for (const SolverEdge& e : g.edges) {
    int a = m.cls[e.src], b = m.cls[e.dst];
    if (a == b) {
      for (size_t i = 0; i < e.cost.size(); ++i) m.lin[a][i] += e.cost[i][i];
      continue;
    }
    bool flip = a > b;
    Matrix& mat = m.pairs[{std::min(a, b), std::max(a, b)}];
    size_t r = g.nodes[flip ? e.dst : e.src].cost.size(),
           c = g.nodes[flip ? e.src : e.dst].cost.size();
    if (mat.empty()) mat.assign(r, std::vector<double>(c, 0.0));
    for (size_t i = 0; i < r; ++i) {
      for (size_t j = 0; j < c; ++j) mat[i][j] += flip ? e.cost[j][i] : e.cost[i][j];
    }
  }
  int flat = 0;
  for (const auto& l : m.lin) m.offset.push_back(flat), flat += static_cast<int>(l.size());
  for (const auto& l : m.lin) m.alive.emplace_back(l.size(), 1);
  return m;
}

// One row per schedule step: params + results live at that step, as coefficients of s.
// Identical rows (every repeated layer gives the same) and rows below another are dropped.
void memory_rows(const SolverGraph& g, Model& m) {
  int n = static_cast<int>(g.nodes.size());
  std::vector<int> last(n);
  for (int v = 0; v < n; ++v) last[v] = g.nodes[v].live_to_end ? n - 1 : v;
  for (const SolverEdge& e : g.edges) last[e.src] = std::max(last[e.src], e.dst);
  std::vector<std::vector<int>> ending(n);
  for (int v = 0; v < n; ++v) ending[last[v]].push_back(v);
  size_t flat = m.offset.back() + m.lin.back().size();
  std::vector<double> params(flat, 0.0), live(flat, 0.0);
  for (int v = 0; v < n; ++v) {
    const std::vector<double>& p = g.nodes[v].param_bytes;
    for (size_t i = 0; i < p.size(); ++i) params[m.offset[m.cls[v]] + i] += p[i];
  }
  std::set<std::vector<double>> unique;
  for (int t = 0; t < n; ++t) {
    for (size_t i = 0; i < g.nodes[t].out_bytes.size(); ++i)
      live[m.offset[m.cls[t]] + i] += g.nodes[t].out_bytes[i];
    std::vector<double> r(flat);
    for (size_t f = 0; f < r.size(); ++f) r[f] = params[f] + live[f];
    unique.insert(std::move(r));
    for (int v : ending[t]) {
      for (size_t i = 0; i < g.nodes[v].out_bytes.size(); ++i)
        live[m.offset[m.cls[v]] + i] -= g.nodes[v].out_bytes[i];
    }
  }
  std::vector<std::vector<double>> rows(unique.begin(), unique.end());
  // A row below another is never binding. Visiting rows by decreasing total and testing each
  // against the rows kept so far is exact (a row above another, and different, has a larger
  // total, so it is kept first) and costs O(rows · kept · columns) with an early exit: cheap
  // where a few peaks dominate, as in training, whose live set grows layer by layer and would
  // otherwise hand CBC thousands of dense rows.
  std::vector<std::pair<double, size_t>> order;
  for (size_t a = 0; a < rows.size(); ++a) {
    double total = 0;
    for (double c : rows[a]) total += c;
    order.emplace_back(-total, a);
  }
  std::sort(order.begin(), order.end());
  std::vector<size_t> kept;
  for (const auto& o : order) {
    const size_t a = o.second;
    bool below = false;
    for (size_t k = 0; k < kept.size() && !below; ++k) {
      const std::vector<double>& hi = rows[kept[k]];
      bool le = true;
      for (size_t f = 0; f < hi.size() && le; ++f) le = rows[a][f] <= hi[f];
      below = le;
    }
    if (!below) kept.push_back(a);
  }
  std::sort(kept.begin(), kept.end());  // deterministic row order for CBC
  for (size_t a : kept) m.mem_rows.push_back(std::move(rows[a]));
}

// Edge matrices incident to each class, with whether the class indexes their rows; built once so
// a dominance test visits a class's own edges, not every pair in the model.
using Incident = std::vector<std::vector<std::pair<const Matrix*, bool>>>;

Incident incident_pairs(const Model& m) {
  Incident inc(m.lin.size());
  for (const auto& [kk, mat] : m.pairs) {
    inc[kk.first].emplace_back(&mat, true);
    inc[kk.second].emplace_back(&mat, false);
  }
  return inc;
}

// Is strategy i of class k no better than j in cost, memory and every incident edge?
bool dominated(const SolverGraph& g, const Model& m, const Incident& inc, bool memory, int k, int i,
               int j) {
  if (m.lin[k][i] < m.lin[k][j]) return false;
  if (memory) {
    for (int v : m.members[k]) {
      const SolverNode& n = g.nodes[v];
      if (n.out_bytes[i] < n.out_bytes[j]) return false;
      if (!n.param_bytes.empty() && n.param_bytes[i] < n.param_bytes[j]) return false;
    }
  }
  for (const auto& [matp, rows] : inc[k]) {
    const Matrix& mat = *matp;
    if (rows) {
      for (size_t c = 0; c < mat[i].size(); ++c) {
        if (mat[i][c] < mat[j][c]) return false;
      }
    } else {
      for (size_t r = 0; r < mat.size(); ++r) {
        if (mat[r][i] < mat[r][j]) return false;
      }
    }
  }
  return true;
}

// Drops dominated strategies; of equal ones the lowest index stays (deterministic).
void prune(const SolverGraph& g, Model& m, bool memory) {
  const Incident inc = incident_pairs(m);
  for (size_t k = 0; k < m.lin.size(); ++k) {
    int n = static_cast<int>(m.lin[k].size());
    int kk = static_cast<int>(k);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n && m.alive[k][i]; ++j) {
        if (j == i || !m.alive[k][j]) continue;
        bool dom = dominated(g, m, inc, memory, kk, i, j);
        if (dom && (j < i || !dominated(g, m, inc, memory, kk, j, i))) m.alive[k][i] = 0;
      }
    }
  }
}

}  // namespace
}  // namespace tessera::spmd

namespace tessera::spmd {
namespace {

struct Built {
  Mip mip;
  std::vector<std::vector<int>> col;  // class -> strategy -> s column (-1 when pruned)
};

// One-hot s per class, e per class pair, and (budget > 0) memory rows.
Built build(const Model& m, double budget_bytes, bool min_memory) {
  Built b;
  size_t K = m.lin.size();
  int mem_col = min_memory ? b.mip.add_col(1.0, 0, 1e30, false) : -1;
  b.col.resize(K);
  for (size_t k = 0; k < K; ++k) {
    int row = b.mip.add_row(1, 1);
    b.col[k].assign(m.lin[k].size(), -1);
    for (size_t i = 0; i < m.lin[k].size(); ++i) {
      if (!m.alive[k][i]) continue;
      b.col[k][i] = b.mip.add_col(min_memory ? 0 : m.lin[k][i] * kTimeScale, 0, 1, true);
      b.mip.set(row, b.col[k][i], 1);
    }
  }
  for (const auto& [kk, mat] : m.pairs) {
    if (min_memory) break;
    const auto &ci = b.col[kk.first], &cj = b.col[kk.second];
    std::vector<int> rows_i(ci.size(), -1), rows_j(cj.size(), -1);
    for (size_t i = 0; i < ci.size(); ++i) {
      if (ci[i] < 0) continue;
      rows_i[i] = b.mip.add_row(0, 0);
      b.mip.set(rows_i[i], ci[i], -1);
    }
    for (size_t j = 0; j < cj.size(); ++j) {
      if (cj[j] < 0) continue;
      rows_j[j] = b.mip.add_row(0, 0);
      b.mip.set(rows_j[j], cj[j], -1);
    }
    for (size_t i = 0; i < ci.size(); ++i) {
      for (size_t j = 0; j < cj.size(); ++j) {
        if (ci[i] < 0 || cj[j] < 0) continue;
        int e = b.mip.add_col(mat[i][j] * kTimeScale, 0, 1, false);
        b.mip.set(rows_i[i], e, 1);
        b.mip.set(rows_j[j], e, 1);
      }
    }
  }
  for (const auto& r : m.mem_rows) {
    int row =
        min_memory ? b.mip.add_row(-1e30, 0) : b.mip.add_row(-1e30, budget_bytes * kByteScale);
    for (size_t k = 0; k < K; ++k) {
      for (size_t i = 0; i < m.lin[k].size(); ++i) {
        double c = r[m.offset[k] + i];
        if (b.col[k][i] >= 0 && c != 0) b.mip.set(row, b.col[k][i], c * kByteScale);
      }
    }
    if (min_memory) b.mip.set(row, mem_col, -1);
  }
  return b;
}

std::vector<int> choice_of(const Model& m, const Built& b, const std::vector<double>& x) {
  std::vector<int> per_class(m.lin.size(), 0);
  for (size_t k = 0; k < m.lin.size(); ++k) {
    for (size_t i = 0; i < b.col[k].size(); ++i) {
      if (b.col[k][i] >= 0 && x[b.col[k][i]] > 0.5) per_class[k] = static_cast<int>(i);
    }
  }
  std::vector<int> c;
  for (int k : m.cls) c.push_back(per_class[k]);
  return c;
}

// GiB for model-sized budgets, smaller units where GiB would print 0.00.
std::string gib(double bytes) {
  char buf[64];
  if (bytes >= (1 << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1 << 30));
  else if (bytes >= (1 << 20))
    std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024);
  return buf;
}

// The plan needing the least peak memory (a second solve, minimising memory alone).
StatusOr<std::vector<int>> least_memory_plan(const SolverGraph& g, const Model& m,
                                             double time_limit) {
  Built b = build(m, 0, true);
  std::vector<double> x;
  if (solve_mip(b.mip, time_limit, &x) == MipResult::kInfeasible || x.empty()) {
    return Internal("minimum-memory solve failed");
  }
  return choice_of(m, b, x);
}

}  // namespace

StatusOr<Solution> solve_ilp(const SolverGraph& g, const SolverOptions& opt) {
  TSR_RETURN_IF_ERROR(validate_graph(g));
  Solution s;
  if (g.nodes.empty()) return s;
  Model m = classes(g);
  bool budget = std::isfinite(opt.memory_budget);
  if (budget) memory_rows(g, m);
  prune(g, m, budget);
  Built b = build(m, opt.memory_budget, false);
  std::vector<double> x;
  MipResult r = solve_mip(b.mip, opt.time_limit_s, &x);
  if (r == MipResult::kInfeasible || x.empty()) {
    if (!budget) return Internal("strategy ILP reported infeasible without a memory budget");
    TSR_ASSIGN_OR_RETURN(std::vector<int> least, least_memory_plan(g, m, opt.time_limit_s));
    double need = plan_peak_bytes(g, least);
    if (r == MipResult::kInfeasible || need > opt.memory_budget)
      return Status(Code::kOutOfMemory, "no sharding plan fits: it needs at least " + gib(need) +
                                            " per device, budget is " + gib(opt.memory_budget));
    // CBC ran out of time before finding any plan within the budget, but the least-memory
    // plan fits: take it (feasible, possibly slower than the optimum) rather than fail.
    s.choice = std::move(least);
  } else {
    s.choice = choice_of(m, b, x);
  }
  s.seconds = plan_seconds(g, s.choice);
  s.peak_bytes = plan_peak_bytes(g, s.choice);
  s.ilp_columns = static_cast<int>(b.mip.obj.size());
  s.ilp_rows = static_cast<int>(b.mip.row_lo.size());
  return s;
}

}  // namespace tessera::spmd
